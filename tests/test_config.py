from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bootembed.config import ConfigError, deep_merge, load_params, params_from_dict

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_load():
    params = load_params(REPO / "params.yaml")
    assert params.languages == ("hau_Latn", "afr_Latn")
    assert params.strategies == ("translation", "english", "icl", "composition", "xllora")
    assert params.compose.reference_weight == -params.compose.language_weight  # AdaMergeX default
    assert params.train_generator.learning_rate == pytest.approx(2e-4)
    assert params.evaluate.limit is None


def test_smoke_override_merges_and_validates():
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    smoke = yaml.safe_load((REPO / "params.smoke.yaml").read_text())
    params = params_from_dict(deep_merge(base, smoke))
    assert params.prepare.max_anchors == 16
    assert params.train_generator.rank == load_params(REPO / "params.yaml").train_generator.rank


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"languages": ["hausa"]}, "languages[0]"),
        ({"languages": ["eng_Latn"]}, "languages[0]"),
        ({"languages": ["hau_Latn", "hau_Latn"]}, "languages"),
        ({"strategies": ["icl", "magic"]}, "strategies"),
        ({"icl": {"instruction": "Write {nonsense}"}}, "icl.instruction"),
        ({"icl": {"num_shots": 4, "pool_size": 2}}, "icl.pool_size"),
        ({"compose": {"combination_type": "ties"}}, "compose.combination_type"),
        ({"synthesize": {"backend": "llama.cpp"}}, "synthesize.backend"),
        ({"train_generator": {"rank": 0}}, "train_generator.rank"),
        ({"train_generator": {"rank": "8"}}, "train_generator.rank"),
        ({"prepare": {"anchor_source": "wiki"}}, "prepare.anchor_source"),
        ({"evaluate": {"tasks": ["mmlu"]}}, "evaluate.tasks"),
        ({"models": {"generator": {"source": "hub", "id": ""}}}, "models.generator.id"),
        ({"synthesize": {"top_p": 1.5}}, "synthesize.top_p"),
        ({"synthesize": {"tensor_parallel_size": 2}}, "synthesize.tensor_parallel_size"),
        ({"synthesize": {"backend": "vllm", "tensor_parallel_size": 0}}, "tensor_parallel_size"),
        ({"filter": {"bogus": 1}}, "bogus"),
    ],
)
def test_invalid_values_name_the_field(raw, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        params_from_dict(raw, source="params.yaml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=str(bad).replace(".", r"\.")):
        load_params(bad)


def test_params_are_frozen():
    params = params_from_dict({})
    with pytest.raises(AttributeError):
        params.seed = 1  # type: ignore[misc]
