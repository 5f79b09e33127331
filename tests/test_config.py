"""The one strict params reader: YAML 1.2 like DVC, every field required, ranges and cross-field rules checked,
one-line errors naming file and field."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pydantic
import pytest
from conftest import default_params_dict

from bootembed.config import (
    ConfigError,
    deep_merge,
    load_params,
    params_from_dict,
    params_model,
    read_yaml,
)
from bootembed.strategies import STRATEGIES

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_load():
    params = load_params(REPO / "params.yaml")
    assert params.languages == ("hau_Latn",)
    assert params.strategies == ("translation", "icl", "composition", "xllora")
    assert params.composition.reference_weight == -params.composition.language_weight  # AdaMergeX
    assert params.train_generator.learning_rate == pytest.approx(2e-4)
    assert params.evaluate.limit == 300
    assert params.xllora.augment_pairs == 80
    # Sizes that separate the strategies: >= 500 anchors, >= 100 encoder steps, >= 3 seeds, >= 1000 resamples.
    assert params.prepare.max_anchors >= 500
    assert params.train_encoder.max_steps >= 100
    assert len(params.train_encoder.seeds) >= 3
    assert params.report.bootstrap_resamples >= 1000


def test_smoke_override_merges_and_validates():
    smoke = read_yaml(REPO / "params.smoke.yaml")
    params = params_from_dict(deep_merge(default_params_dict(), smoke))
    assert params.prepare.max_anchors == 16
    assert params.train_generator.rank == load_params(REPO / "params.yaml").train_generator.rank


def _fields(node: object, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return {prefix}
    return {f for key, value in node.items() for f in _fields(value, f"{prefix}{key}.")}


def test_paper_preset_validates_with_the_reference_sizes():
    """Issue 17: ``params.paper.yaml`` is a whole params file (same fields as params.yaml) with the reference's
    sizes: Gemma-3-27B-it NF4 QLoRA r=8 / alpha 16 / dropout 0.05 on all linear layers; SFT lr 2e-4, 3 epochs of
    10,000 pairs at 16 x 4, max length 512; XLM-R base, batch 512, lr 5e-5, 3 epochs."""
    paper_raw = read_yaml(REPO / "params.paper.yaml")
    assert _fields(paper_raw) == _fields(read_yaml(REPO / "params.yaml"))
    paper = load_params(REPO / "params.paper.yaml")
    g, t = paper.models.generator, paper.train_generator
    assert (g.source, g.id) == ("hub", "google/gemma-3-27b-it") and len(g.revision) == 40
    assert (t.quantization, t.rank, t.alpha, t.dropout, t.target_modules) == (
        "nf4",
        8,
        16,
        0.05,
        "all-linear",
    )
    assert (t.learning_rate, t.batch_size, t.grad_accum, t.max_length) == (2e-4, 16, 4, 512)
    assert paper.xllora.sft_examples == 10_000
    assert t.max_steps == -(
        -3 * paper.xllora.sft_examples // (t.batch_size * t.grad_accum)
    )  # 3 epochs
    assert t.dtype == "bfloat16"  # accelerate launch refuses the per-process auto measurement
    e, te = paper.models.encoder, paper.train_encoder
    assert (e.source, e.id, e.prompt) == ("hub", "FacebookAI/xlm-roberta-base", "")
    assert (te.batch_size, te.learning_rate, te.epochs, te.max_steps) == (512, 5e-5, 3.0, None)
    assert paper.prepare.max_anchors >= 2000 and paper.synthesize.backend == "vllm"
    assert paper.evaluate.limit is None


def test_every_strategy_with_settings_has_its_own_section():
    model = params_model()
    for strategy in STRATEGIES.ordered():
        if strategy.params_model is not None:
            assert model.model_fields[strategy.name].is_required(), strategy.name


def _mutated(path: str, value: object) -> dict:
    raw = default_params_dict()
    node = raw
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("seed", -1, "params.yaml: seed: expected a value greater than or equal to 0, got -1"),
        ("seed", 2**32, "params.yaml: seed: expected a value less than 4294967296"),
        (
            "prepare.max_anchors",
            _DELETE,
            "params.yaml: prepare.max_anchors: required field missing",
        ),
        (
            "prepare.max_anchors",
            1e9,
            "params.yaml: prepare.max_anchors: expected an integer, got 1000000000.0",
        ),
        (
            "train_encoder.seeds",
            [1, 1],
            "params.yaml: train_encoder.seeds: expected distinct seeds, got [1, 1]",
        ),
        (
            "report.bootstrap_resamples",
            100,
            "params.yaml: report.bootstrap_resamples: ",
        ),
        (
            "synthesize.max_new_tokens",
            10**9,
            "params.yaml: synthesize.max_new_tokens: expected a value less",
        ),
        (
            "synthesize.temperature",
            float("inf"),
            "params.yaml: synthesize.temperature: expected a finite number",
        ),
        (
            "synthesize.do_sample",
            "yes",
            "params.yaml: synthesize.do_sample: expected true or false, got 'yes'",
        ),
        ("languages", ["xyz_Latn"], "params.yaml: languages[0]: expected a FLORES-200 code"),
        ("languages", ["hausa"], "params.yaml: languages[0]: expected a FLORES-200 code"),
        (
            "languages",
            ["eng_Latn"],
            "params.yaml: languages[0]: expected a non-English target language",
        ),
        ("languages", ["hau_Latn", "hau_Latn"], "params.yaml: languages: expected no duplicates"),
        ("strategies", ["icl", "magic"], "params.yaml: strategies: expected distinct names from"),
        ("icl", _DELETE, "params.yaml: icl: required field missing"),
        ("filter", None, "params.yaml: filter: expected a mapping, got None"),
        ("prepar", {}, "params.yaml: prepar: unknown field"),
        (
            "icl.instruction",
            "Write {nonsense}",
            "params.yaml: icl.instruction: expected text with only",
        ),
        ("icl.pool_size", 2, "params.yaml: icl: pool_size: expected >= icl.num_shots"),
        (
            "composition.combination_type",
            "ties",
            "params.yaml: composition.combination_type: expected",
        ),
        ("synthesize.backend", "llama.cpp", "params.yaml: synthesize.backend: expected one of"),
        ("train_generator.rank", 0, "params.yaml: train_generator.rank: expected a value greater"),
        (
            "train_generator.rank",
            "8",
            "params.yaml: train_generator.rank: expected an integer, got '8'",
        ),
        ("train_generator.dtype", "fp16", "params.yaml: train_generator.dtype: expected 'auto'"),
        ("prepare.anchor_source", "wiki", "params.yaml: prepare.anchor_source: expected"),
        ("evaluate.tasks", ["mmlu"], "params.yaml: evaluate.tasks: expected distinct names from"),
        ("models.generator.source", "hub", "params.yaml: models.generator: id: expected a hub id"),
        (
            "synthesize.top_p",
            1.5,
            "params.yaml: synthesize.top_p: expected a value less than or equal to 1",
        ),
        (
            "synthesize.tensor_parallel_size",
            2,
            "params.yaml: synthesize: tensor_parallel_size: expected 1",
        ),
        ("filter.bogus", 1, "params.yaml: filter.bogus: unknown field"),
        (
            "filter.structure.max_chars",
            2,
            "params.yaml: filter.structure: max_chars: expected > min_chars",
        ),
        ("filter.ablation", ["judged"], "params.yaml: filter.ablation[0]: expected 'unfiltered'"),
        (
            "filter.ablation",
            ["mined", "mined"],
            "params.yaml: filter.ablation: expected distinct variants",
        ),
        ("filter.language.fields", [], "params.yaml: filter.language.fields: "),
        ("filter.judge.enabled", True, "params.yaml: filter.judge: enabled: expected false"),
        ("mining.sampling_strategy", "bottom", "params.yaml: mining.sampling_strategy: expected"),
        (
            "mining.range_min",
            1000,
            "params.yaml: mining: range_max: expected >= range_min + num_negatives",
        ),
        ("mining", _DELETE, "params.yaml: mining: required field missing"),
    ],
)
def test_bad_values_give_one_line_naming_file_and_field(path, value, message):
    with pytest.raises(ConfigError) as info:
        params_from_dict(_mutated(path, value), source="params.yaml")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_hub_models_must_be_pinned():
    raw = default_params_dict()
    raw["models"]["generator"] = {"source": "hub", "id": "google/gemma-3-270m", "revision": None}
    with pytest.raises(ConfigError, match="models.generator: revision: expected a commit or tag"):
        params_from_dict(raw, source="params.yaml")
    raw["models"]["generator"]["revision"] = "main"
    assert params_from_dict(raw).models.generator.revision == "main"


def test_yaml_is_read_as_dvc_reads_it(tmp_path):
    """YAML 1.2: duplicate keys are errors, ``yes`` is a string (so it is not a boolean), ``2e-4`` a float."""
    text = (REPO / "params.yaml").read_text()
    dup = tmp_path / "dup.yaml"
    dup.write_text(text + "\nseed: 7\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml:.*line \d+.*duplicate key"):
        load_params(dup)
    yes = tmp_path / "yes.yaml"
    yes.write_text(text.replace("do_sample: false", "do_sample: yes"))
    with pytest.raises(
        ConfigError, match="synthesize.do_sample: expected true or false, got 'yes'"
    ):
        load_params(yes)
    assert read_yaml(REPO / "params.yaml")["train_generator"]["learning_rate"] == pytest.approx(
        2e-4
    )


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: expected a mapping")):
        load_params(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1\n")
    with pytest.raises(ConfigError, match=re.escape(f"{broken}:")):
        load_params(broken)


def test_params_are_frozen(default_params):
    with pytest.raises(pydantic.ValidationError):
        default_params.seed = 1  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        default_params.filter.structure.min_chars = 3  # type: ignore[misc]


def test_deep_merge_does_not_touch_inputs():
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    original = copy.deepcopy(base)
    merged = deep_merge(base, {"a": {"b": 9}})
    assert merged == {"a": {"b": 9, "c": 2}, "d": 3}
    assert base == original
