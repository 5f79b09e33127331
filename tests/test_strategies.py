"""Prompts and output parsing of every strategy, the strategy registry, and the XL-LoRA augmentation swap."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pydantic
import pytest
from helpers import default_section, params_yaml

from bootembed.augment import augmentation_examples
from bootembed.prompts import (
    IclExemplar,
    icl_prompt,
    language_name,
    parse_generation,
    task_prompt,
    xllora_prompt,
)
from bootembed.strategies import STRATEGIES
from bootembed.strategies.composition import CompositionParams
from bootembed.strategies.icl import EXEMPLARS as EXEMPLARS_FILE
from bootembed.strategies.icl import IclParams, icl_exemplars, icl_prompt_builder
from bootembed.strategies.swim_ir import SwimIrParams
from bootembed.strategies.xllora import XlloraParams

EXEMPLARS = pl.DataFrame(
    {
        "anchor": [f"A man number {i} plays a guitar." for i in range(6)],
        "positive": [f"Someone {i} plays music." for i in range(6)],
        "negative": [f"Nobody {i} is playing." for i in range(6)],
    }
)
ROW = {"anchor_id": 5, "anchor": "Ina son karanta littattafai.", "language": "hau_Latn"}


def test_icl_prompt_layout_and_label():
    shots = [IclExemplar("A dog runs.", "An animal moves.", "The dog sleeps.")]
    prompt = icl_prompt(
        ROW["anchor"],
        "negative",
        shots,
        language="hau_Latn",
        instruction="Write {label} in {language}.",
    )
    assert prompt == (
        "Write a contradiction in Hausa.\n\n"
        "Premise: A dog runs.\nContradiction: The dog sleeps.\n\n"
        "Premise: Ina son karanta littattafai.\nContradiction:"
    )
    positive = icl_prompt(
        ROW["anchor"], "positive", shots, language="hau_Latn", instruction="{label}"
    )
    assert "Entailment: An animal moves." in positive and positive.endswith("\nEntailment:")
    assert icl_prompt("x", "positive", [], language="afr_Latn", instruction="{language}") == (
        "Afrikaans\n\nPremise: x\nEntailment:"
    )
    with pytest.raises(ValueError, match="polarity"):
        icl_prompt("x", "neutral", shots, language="hau_Latn", instruction="")
    with pytest.raises(ValueError, match=r"exemplars\[0\]\.positive"):
        icl_prompt(
            "x", "positive", [IclExemplar("a", " ", "c")], language="hau_Latn", instruction=""
        )
    with pytest.raises(ValueError, match="instruction"):
        icl_prompt("x", "positive", shots, language="hau_Latn", instruction="{oops}")


def _icl(**overrides: object) -> IclParams:
    """The ``icl`` section of params.yaml (per-anchor sampling) with ``overrides``."""
    return default_section("icl", **overrides)


def test_icl_builder_samples_exemplars_per_anchor_reproducibly():
    params = _icl(num_shots=2, pool_size=6, exemplar_sampling="per_anchor")
    build = icl_prompt_builder(params, language="hau_Latn", exemplars=EXEMPLARS, seed=1)
    pos, neg = build(ROW, "positive"), build(ROW, "negative")
    # The positive and negative prompt of one anchor share their exemplars.
    premises = [line for line in pos.split("\n") if line.startswith("Premise: A man")]
    assert len(premises) == 2 and premises == [
        line for line in neg.split("\n") if line.startswith("Premise: A man")
    ]
    assert build(ROW, "positive") == pos  # deterministic
    others = {build({**ROW, "anchor_id": i}, "positive") for i in range(20)}
    assert len(others) > 1  # per-anchor sampling varies the shots
    fixed = icl_prompt_builder(
        _icl(num_shots=2, pool_size=6, exemplar_sampling="fixed"),
        language="hau_Latn",
        exemplars=EXEMPLARS,
        seed=42,
    )
    assert len({fixed({**ROW, "anchor_id": i}, "positive") for i in range(20)}) == 1
    with pytest.raises(ValueError, match="num_shots"):
        icl_prompt_builder(
            _icl(num_shots=8, pool_size=8), language="hau_Latn", exemplars=EXEMPLARS, seed=42
        )
    with pytest.raises(ValueError, match="pool is empty"):
        icl_prompt_builder(_icl(), language="hau_Latn", exemplars=EXEMPLARS.head(0), seed=42)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['negative'\]"):
        icl_exemplars(EXEMPLARS.drop("negative"))


def test_icl_params_are_validated():
    with pytest.raises(pydantic.ValidationError, match="pool_size"):
        _icl(num_shots=4, pool_size=3)
    with pytest.raises(pydantic.ValidationError, match="placeholders"):
        _icl(instruction="{oops}")
    with pytest.raises(pydantic.ValidationError, match="exemplar_sampling"):
        _icl(exemplar_sampling="random")
    with pytest.raises(pydantic.ValidationError, match="num_shots"):
        IclParams(pool_size=6, exemplar_sampling="fixed", instruction="")  # type: ignore[call-arg]


def test_icl_strategy_reads_its_generator_folder(tmp_path: Path):
    """The registered ICL strategy builds its prompts from ``exemplars.parquet`` of its generator folder."""
    params = params_yaml().model_copy(update={"icl": _icl(num_shots=2, pool_size=6), "seed": 1})
    strategy = STRATEGIES.get("icl")
    assert strategy.section(params) == params.icl
    assert strategy.adapter_dirs(tmp_path) is None  # the base model answers both polarities
    pool = tmp_path / "pool.parquet"
    EXEMPLARS.write_parquet(pool)
    metrics = strategy.build_generator(params, "hau_Latn", {"pool": pool}, tmp_path / "gen")
    assert metrics == {"exemplars": 6}
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == [EXEMPLARS_FILE]
    build = strategy.prompt_builder(params, "hau_Latn", tmp_path / "gen")
    direct = icl_prompt_builder(params.icl, language="hau_Latn", exemplars=EXEMPLARS, seed=1)
    for i in range(5):
        row = {**ROW, "anchor_id": i}
        assert build(row, "negative") == direct(row, "negative")


def test_composition_and_xllora_builders(tmp_path: Path):
    params = params_yaml()

    def prompt_builder(name: str, language: str):  # noqa: ANN202 - bootembed.strategies.base.PromptBuilder
        return STRATEGIES.get(name).prompt_builder(params, language, tmp_path)

    comp = prompt_builder("composition", language="hau_Latn")(ROW, "positive")
    assert comp == task_prompt(ROW["anchor"], "positive")
    assert "in the language of the premise" in comp and comp.endswith("\nSentence:")
    assert "(in English)" in prompt_builder("xllora", language="hau_Latn")(ROW, "negative")
    assert prompt_builder("xllora", language="x")(ROW, "negative") == xllora_prompt(
        ROW["anchor"], "negative"
    )
    with pytest.raises(ValueError, match="strategy 'magic'"):
        STRATEGIES.get("magic")


def test_output_languages():
    def output_language(name: str, language: str) -> str:
        return STRATEGIES.get(name).output_language(language)

    assert output_language("icl", "hau_Latn") == "hau_Latn"
    assert output_language("composition", "afr_Latn") == "afr_Latn"
    assert output_language("xllora", "hau_Latn") == "eng_Latn"
    assert output_language("translation", "hau_Latn") == "eng_Latn"
    assert output_language("english", "hau_Latn") == "eng_Latn"
    with pytest.raises(ValueError, match="unknown strategy"):
        output_language("nope", "hau_Latn")
    assert language_name("hau_Latn") == "Hausa" and language_name("xyz_Latn") == "xyz_Latn"


def test_registry_order_kinds_and_params_sections():
    assert STRATEGIES.names() == (
        "composition",
        "english",
        "icl",
        "swim_ir",
        "translation",
        "xllora",
    )
    ordered = [s.name for s in STRATEGIES.ordered()]
    assert ordered == [
        "translation",
        "english",
        "icl",
        "composition",
        "xllora",
        "swim_ir",
    ]  # report order
    assert [s.name for s in STRATEGIES] == ordered
    assert "icl" in STRATEGIES and "magic" not in STRATEGIES and 3 not in STRATEGIES
    kinds = {s.name: s.kind for s in STRATEGIES.ordered()}
    assert kinds == {
        "translation": "baseline",
        "english": "baseline",
        "icl": "synthetic",
        "composition": "synthetic",
        "xllora": "synthetic",
        "swim_ir": "retrieval",
    }
    sections = {s.name: s.params_model for s in STRATEGIES.ordered()}
    assert sections == {
        "translation": None,
        "english": None,
        "icl": IclParams,
        "composition": CompositionParams,
        "xllora": XlloraParams,
        "swim_ir": SwimIrParams,
    }
    # every section with a params model is in params.yaml, named after its strategy
    params = params_yaml()
    for name, model in sections.items():
        if model is not None:
            assert isinstance(getattr(params, name), model)
    assert params.xllora.sft_examples >= 1 and params.xllora.augment_pairs >= 0
    assert not hasattr(params, "compose")  # renamed to composition
    assert STRATEGIES.get("xllora").adapter_dirs(Path("g")) == {
        "negative": Path("g/negative"),
        "positive": Path("g/positive"),
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Contradiction: Babu wanda yake karatu.\nPremise: next", "Babu wanda yake karatu."),
        (' Entailment: "Mutum yana karatu."\n', "Mutum yana karatu."),
        (" Sentence: The man reads.", "The man reads."),
        ("\n\nThe man reads.", "The man reads."),
        ("   \n", None),
        (" ...", None),
        ("", None),
        (' "unbalanced quote.', '"unbalanced quote.'),
    ],
)
def test_parse_generation_of_every_strategy_and_malformed_outputs(raw, expected):
    assert parse_generation(raw) == expected


def test_augmentation_swaps_the_anchor_back_and_drops_failures():
    pairs = pl.DataFrame(
        {
            "source_index": [3, 7],
            "premise": ["Ruwa yana da kyau.", "Yara suna wasa."],
            "english": ["The water is good.", "Children are playing."],
        }
    )
    generated = pl.DataFrame(
        {
            "anchor_id": [3, 7],
            "positive": ["Water is fine.", "children are playing"],
            "negative": [None, "Nobody is playing."],
        }
    )
    examples, counts = augmentation_examples(pairs, generated)
    assert counts["positive"] == {"kept": 1, "unparseable": 0, "copy_of_premise": 1}
    assert counts["negative"] == {"kept": 1, "unparseable": 1, "copy_of_premise": 0}
    assert examples["positive"][0].prompt == xllora_prompt("Ruwa yana da kyau.", "positive")
    assert examples["positive"][0].completion == " Water is fine.\n"
    assert examples["negative"][0].prompt == xllora_prompt("Yara suna wasa.", "negative")
    with pytest.raises(ValueError, match="anchor_id 9"):
        augmentation_examples(pairs, generated.with_columns(pl.lit(9).alias("anchor_id")))
    with pytest.raises(ValueError, match="english"):
        augmentation_examples(pairs.drop("english"), generated)
