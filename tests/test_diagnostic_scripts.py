"""The one-off diagnostic scripts under ``scripts/`` (``fidelity_of.py``): they run from a plain checkout."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest
from helpers import build_tiny_encoder

REPO = Path(__file__).resolve().parents[1]
WORDS = ["ruwa", "yana", "da", "kyau", "water", "is", "good", "not", "the", "cat", "sits", "mat"]


def _load(name: str):  # noqa: ANN202 - the script's module
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"), ["query", ":", *WORDS])


def test_fidelity_of_writes_one_entry_per_table(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    triplets = pl.DataFrame(
        {
            "anchor": ["ruwa yana da kyau", "the cat sits", "water is good"],
            "positive": ["water is good", "cat sits mat", "ruwa yana da kyau"],
            "negative": ["water is not good", "the mat", "not good"],
        }
    )
    path = tmp_path / "gold.parquet"
    triplets.write_parquet(path)
    out = tmp_path / "fidelity.json"
    code = _load("fidelity_of").main(
        [f"gold={path}", "--encoder", str(tiny_encoder_dir), "--out", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    gold = result["tables"]["gold"]
    assert gold["n"] == 3.0
    assert 0.0 <= gold["positive_closer_share"] <= 1.0
    assert gold["path"] == str(path)


def test_fidelity_of_rejects_an_argument_without_a_table(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _load("fidelity_of").main(
            [f"gold={tmp_path / 'missing.parquet'}", "--out", str(tmp_path / "x.json")]
        )
    assert exc.value.code == 2
