"""Tests for bootembed.encoder_training (MNRL fine-tuning of a tiny random-init BERT encoder)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import torch
from helpers import build_tiny_encoder, torch_threads
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from bootembed import encoder_training
from bootembed.encoder_training import (
    TRAINING_LOG_NAME,
    EncoderTrainingResult,
    train_encoder,
    validate_triplets,
)
from bootembed.hardware import resolve_dtype
from bootembed.provenance import package_versions

N_TOPICS = 8
WORDS_PER_TOPIC = 12
WORDS_PER_TEXT = 4
PROMPTS = {"query": "query: ", "passage": "passage: "}


def _topic_words() -> list[list[str]]:
    return [[f"t{t}w{k}" for k in range(WORDS_PER_TOPIC)] for t in range(N_TOPICS)]


def _make_triplets(n: int, seed: int) -> pl.DataFrame:
    """Synthetic triplets: anchor and positive share a topic but no word; negative is off-topic.

    A random-init encoder cannot know which words belong together (so it ranks positive over
    negative about half the time); contrastive training has to learn the topic clusters.
    """
    rng = random.Random(seed)
    topics = _topic_words()
    rows: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": [], "extra": []}
    for i in range(n):
        t = rng.randrange(N_TOPICS)
        other = rng.choice([u for u in range(N_TOPICS) if u != t])
        words = rng.sample(topics[t], 2 * WORDS_PER_TEXT)
        rows["anchor"].append(" ".join(words[:WORDS_PER_TEXT]))
        rows["positive"].append(" ".join(words[WORDS_PER_TEXT:]))
        rows["negative"].append(" ".join(rng.sample(topics[other], WORDS_PER_TEXT)))
        rows["extra"].append(f"ignored {i}")
    return pl.DataFrame(rows)


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    """One torch thread: tiny models run far faster so, and do not stall on a busy machine."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init BERT sentence-transformers model (mean pooling + normalise) with prompts."""
    words = ["query", "passage", ":", "ignored", *(w for topic in _topic_words() for w in topic)]
    st_dir = build_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"), words, prompts=PROMPTS)
    tokenizer = SentenceTransformer(str(st_dir), device="cpu").tokenizer
    assert tokenizer.tokenize("query: t0w1 t7w11") == ["query", ":", "t0w1", "t7w11"]
    return st_dir


@pytest.fixture(scope="module")
def work_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where train_encoder keeps its resumable work (never the repository's .bootembed-work)."""
    return tmp_path_factory.mktemp("work") / "work"


def _embed(model: SentenceTransformer, texts: list[str], prompt: str | None) -> torch.Tensor:
    return model.encode(texts, prompt=prompt, convert_to_tensor=True, batch_size=64)


def _ranking_accuracy(model: SentenceTransformer, df: pl.DataFrame, prompt: str | None) -> float:
    """Fraction of triplets with cos(anchor, positive) > cos(anchor, negative)."""
    a = _embed(model, df["anchor"].to_list(), prompt)
    p = _embed(model, df["positive"].to_list(), prompt)
    n = _embed(model, df["negative"].to_list(), prompt)
    sim_pos = torch.nn.functional.cosine_similarity(a, p)
    sim_neg = torch.nn.functional.cosine_similarity(a, n)
    return float((sim_pos > sim_neg).float().mean())


def _mnrl_loss(
    model: SentenceTransformer, df: pl.DataFrame, prompt: str | None, batch: int = 16
) -> float:
    """Mean MultipleNegativesRankingLoss (scale 20, in-batch + hard negatives) over fixed batches."""
    a = torch.nn.functional.normalize(_embed(model, df["anchor"].to_list(), prompt), dim=-1)
    p = torch.nn.functional.normalize(_embed(model, df["positive"].to_list(), prompt), dim=-1)
    n = torch.nn.functional.normalize(_embed(model, df["negative"].to_list(), prompt), dim=-1)
    losses = []
    for s in range(0, a.shape[0] - batch + 1, batch):
        cand = torch.cat([p[s : s + batch], n[s : s + batch]])
        logits = 20.0 * a[s : s + batch] @ cand.T
        losses.append(torch.nn.functional.cross_entropy(logits, torch.arange(batch)).item())
    return sum(losses) / len(losses)


@pytest.fixture(scope="module")
def trained(
    tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory, work_root: Path
) -> tuple[EncoderTrainingResult, pl.DataFrame]:
    train = _make_triplets(320, seed=1)
    out = tmp_path_factory.mktemp("trained") / "encoder"
    result = train_encoder(
        tiny_encoder_dir,
        train,
        out,
        epochs=3,
        batch_size=16,
        learning_rate=1e-3,
        warmup_ratio=0.1,
        max_seq_length=32,
        prompt="query: ",
        seed=0,
        logging_steps=5,
        save_steps=25,
        work_root=work_root,
    )
    return result, train


def test_output_loads_and_keeps_prompts(
    trained: tuple[EncoderTrainingResult, pl.DataFrame], tiny_encoder_dir: Path, work_root: Path
) -> None:
    result, train = trained
    assert result.model_dir.is_dir()
    assert result.num_triplets == train.height
    assert result.steps == 60  # 3 epochs x ceil(320 / 16)
    assert result.seconds > 0 and result.train_loss > 0
    assert result.resumed_from is None
    # the checkpoints of the work folder are removed after success (the empty root as well)
    assert not work_root.exists()
    model = SentenceTransformer(str(result.model_dir), device="cpu")
    emb = model.encode(["t0w1 t0w2"], convert_to_tensor=True)
    assert emb.shape == (1, 32)
    assert model.max_seq_length == 32
    assert model.prompts["query"] == "query: "
    assert model.prompts["passage"] == "passage: "
    # no temp siblings left behind next to the output folder
    assert [p.name for p in result.model_dir.parent.iterdir()] == [result.model_dir.name]


def test_training_log(trained: tuple[EncoderTrainingResult, pl.DataFrame]) -> None:
    result, _ = trained
    log = json.loads((result.model_dir / TRAINING_LOG_NAME).read_text(encoding="utf-8"))
    assert log["seed"] == 0
    assert log["steps"] == result.steps
    assert log["hyper_parameters"]["prompt"] == "query: "
    assert log["hyper_parameters"]["batch_size"] == 16
    assert log["hyper_parameters"]["learning_rate"] == 1e-3
    assert log["hyper_parameters"]["batch_sampler"] == "no_duplicates"
    assert {"torch", "transformers", "sentence_transformers"} <= {
        name.replace("-", "_") for name in log["versions"]
    }
    assert log["versions"] == package_versions()
    assert log["resumed_from"] is None
    assert log["dtype"]["step"] == "encoder_training"
    assert log["dtype"]["requested"] == log["dtype"]["dtype"] == "float32"
    assert log["hyper_parameters"]["dtype"] == "float32"
    losses = log["losses"]
    assert losses == result.losses
    assert [e["step"] for e in losses] == [1, *range(5, 61, 5)]
    first, last = losses[0]["loss"], sum(e["loss"] for e in losses[-3:]) / 3
    assert last < 0.7 * first, f"training loss did not go down: first {first}, last {last}"


def test_weights_changed(
    trained: tuple[EncoderTrainingResult, pl.DataFrame], tiny_encoder_dir: Path
) -> None:
    result, _ = trained
    before = load_file(str(tiny_encoder_dir / "model.safetensors"))
    after = load_file(str(result.model_dir / "model.safetensors"))
    assert before.keys() == after.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2, f"only {len(changed)}/{len(before)} tensors changed"


def test_loss_down_and_ranking_improves_on_held_out(
    trained: tuple[EncoderTrainingResult, pl.DataFrame], tiny_encoder_dir: Path
) -> None:
    result, _ = trained
    held_out = _make_triplets(128, seed=2)
    base = SentenceTransformer(str(tiny_encoder_dir), device="cpu")
    tuned = SentenceTransformer(str(result.model_dir), device="cpu")
    acc_before = _ranking_accuracy(base, held_out, "query: ")
    acc_after = _ranking_accuracy(tuned, held_out, "query: ")
    loss_before = _mnrl_loss(base, held_out, "query: ")
    loss_after = _mnrl_loss(tuned, held_out, "query: ")
    assert acc_after >= acc_before + 0.2, (acc_before, acc_after)
    assert acc_after >= 0.85, (acc_before, acc_after)
    assert loss_after < loss_before - 0.5, (loss_before, loss_after)


def test_prompt_none_and_overwrite(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "enc"
    out.mkdir()
    (out / "stale.txt").write_text("old", encoding="utf-8")
    result = train_encoder(
        tiny_encoder_dir,
        _make_triplets(8, seed=3),
        out,
        max_steps=2,
        batch_size=4,
        prompt=None,
        max_seq_length=16,
        logging_steps=1,
        work_root=tmp_path / "work",
    )
    assert result.steps == 2
    assert not (out / "stale.txt").exists()
    log = json.loads((out / TRAINING_LOG_NAME).read_text(encoding="utf-8"))
    assert log["hyper_parameters"]["prompt"] is None
    assert log["hyper_parameters"]["max_steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]  # the work folder is gone too
    assert SentenceTransformer(str(out), device="cpu").max_seq_length == 16


def test_resumes_from_the_last_checkpoint_after_a_kill(
    tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed after its last checkpoint resumes from it; changed settings start afresh."""
    triplets = _make_triplets(16, seed=4)
    options = {
        "max_steps": 4,
        "batch_size": 4,
        "max_seq_length": 16,
        "logging_steps": 1,
        "save_steps": 2,
        "seed": 5,
        "work_root": tmp_path / "work",
    }
    out = tmp_path / "enc"

    def killed(path: object) -> None:  # stands in for bootembed.io.atomic_dir: dies while saving
        raise RuntimeError("killed while saving")

    def train_and_kill() -> Path:
        with monkeypatch.context() as patch:
            patch.setattr(encoder_training, "atomic_dir", killed)
            with pytest.raises(RuntimeError, match="killed"):
                train_encoder(tiny_encoder_dir, triplets, out, **options)
        [work] = (tmp_path / "work" / "train_encoder").iterdir()
        return work

    work = train_and_kill()
    assert not out.exists()
    # save_total_limit=1 keeps only the last checkpoint
    assert sorted(p.name for p in work.iterdir() if p.name.startswith("checkpoint-")) == [
        "checkpoint-4"
    ]
    result = train_encoder(tiny_encoder_dir, triplets, out, **options)
    assert result.resumed_from == "checkpoint-4"
    assert result.steps == 4
    log = json.loads((out / TRAINING_LOG_NAME).read_text(encoding="utf-8"))
    assert log["resumed_from"] == "checkpoint-4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]  # work folder removed

    # killed again, then rerun with another seed: the earlier work is discarded, not resumed
    train_and_kill()
    # the kill left the earlier output as it was
    assert json.loads((out / TRAINING_LOG_NAME).read_text(encoding="utf-8")) == log
    fresh = train_encoder(tiny_encoder_dir, triplets, out, **{**options, "seed": 6})
    assert fresh.resumed_from is None and fresh.steps == 4
    assert [e["step"] for e in fresh.losses] == [1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]


def test_kill_after_the_final_checkpoint_matches_an_uninterrupted_run(
    tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final checkpoint (step == max_steps) is restored, not trained on: with 3 steps per epoch and
    max_steps 4, the HF Trainer resumed from it would run a fifth step."""
    triplets = _make_triplets(12, seed=4)
    options = {
        "max_steps": 4,
        "batch_size": 4,
        "max_seq_length": 16,
        "logging_steps": 1,
        "save_steps": 2,
        "seed": 5,
    }
    reference = train_encoder(
        tiny_encoder_dir, triplets, tmp_path / "ref", work_root=tmp_path / "w1", **options
    )

    def killed(path: object) -> None:  # stands in for bootembed.io.atomic_dir: dies while saving
        raise RuntimeError("killed while saving")

    with monkeypatch.context() as patch:
        patch.setattr(encoder_training, "atomic_dir", killed)
        with pytest.raises(RuntimeError, match="killed"):
            train_encoder(
                tiny_encoder_dir, triplets, tmp_path / "enc", work_root=tmp_path / "w2", **options
            )
    result = train_encoder(
        tiny_encoder_dir, triplets, tmp_path / "enc", work_root=tmp_path / "w2", **options
    )
    assert result.resumed_from == "checkpoint-4"
    assert result.steps == reference.steps == 4
    a = load_file(str(tmp_path / "ref" / "model.safetensors"))
    b = load_file(str(tmp_path / "enc" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_bfloat16_is_recorded(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    decision = resolve_dtype("encoder_training", "bfloat16", field_name="train_encoder.dtype")
    result = train_encoder(
        tiny_encoder_dir,
        _make_triplets(8, seed=6),
        tmp_path / "enc",
        max_steps=2,
        batch_size=4,
        max_seq_length=16,
        logging_steps=1,
        dtype=decision,
        work_root=tmp_path / "work",
    )
    log = json.loads((result.model_dir / TRAINING_LOG_NAME).read_text(encoding="utf-8"))
    assert log["dtype"] == decision.as_dict()
    assert log["dtype"]["dtype"] == log["hyper_parameters"]["dtype"] == "bfloat16"
    assert all(math.isfinite(e["loss"]) for e in result.losses)
    with pytest.raises(ValueError, match="train_encoder.dtype"):
        train_encoder(
            tiny_encoder_dir,
            _make_triplets(8, seed=6),
            tmp_path / "enc",
            dtype="float16",
            work_root=tmp_path / "work",
        )


def _good() -> pl.DataFrame:
    return pl.DataFrame({"anchor": ["a b", "c d"], "positive": ["e", "f"], "negative": ["g", "h"]})


@pytest.mark.parametrize(
    ("df", "column"),
    [
        (_good().drop("negative"), "negative"),
        (_good().with_columns(pl.Series("positive", ["e", None])), "positive"),
        (_good().with_columns(pl.Series("anchor", ["", "c"])), "anchor"),
        (_good().with_columns(pl.Series("negative", ["g", "   "])), "negative"),
        (_good().with_columns(pl.Series("positive", [1, 2])), "positive"),
    ],
)
def test_bad_triplets_name_the_column(
    df: pl.DataFrame, column: str, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=f"'?{column}'?"):
        train_encoder(tiny_encoder_dir, df, tmp_path / "out", work_root=tmp_path / "work")
    assert list(tmp_path.iterdir()) == []


def test_too_few_rows_and_bad_args(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        validate_triplets(_good().head(1))
    work = {"work_root": tmp_path / "work"}
    with pytest.raises(ValueError, match="batch_size"):
        train_encoder(tiny_encoder_dir, _good(), tmp_path / "o", batch_size=1, **work)
    with pytest.raises(ValueError, match="save_steps"):
        train_encoder(tiny_encoder_dir, _good(), tmp_path / "o", save_steps=0, **work)
    with pytest.raises(ValueError, match="base_model_dir"):
        train_encoder(tmp_path / "missing", _good(), tmp_path / "o", **work)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="polars"):
        validate_triplets(_good().to_dict(as_series=False))  # type: ignore[arg-type]
    assert validate_triplets(_good().with_columns(x=pl.lit(1))).columns == [
        "anchor",
        "positive",
        "negative",
    ]


def test_frozen_embeddings_stay_and_a_short_run_has_no_warmup(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frozen"
    train_encoder(
        tiny_encoder_dir,
        _make_triplets(8, seed=5),
        out,
        max_steps=2,
        batch_size=4,
        learning_rate=1e-2,
        warmup_ratio=0.4,
        freeze_embeddings=True,
        logging_steps=1,
        work_root=tmp_path / "work",
    )
    base = SentenceTransformer(str(tiny_encoder_dir), device="cpu")[0].auto_model
    tuned = SentenceTransformer(str(out), device="cpu")[0].auto_model
    assert torch.equal(base.get_input_embeddings().weight, tuned.get_input_embeddings().weight)
    changed = [
        name
        for (name, a), (_, b) in zip(base.named_parameters(), tuned.named_parameters(), strict=True)
        if not torch.equal(a, b)
    ]
    assert changed and not any("word_embeddings" in name for name in changed)
    log = json.loads((out / TRAINING_LOG_NAME).read_text(encoding="utf-8"))
    hyper = log["hyper_parameters"]
    assert hyper["freeze_embeddings"] is True
    assert hyper["warmup_steps"] == 0  # floor(0.4 * 2): the warm-up cannot take the whole run
    first = log["losses"][0] if "losses" in log else None
    if first is not None and first.get("learning_rate") is not None:
        assert first["learning_rate"] > 0  # the first logged step already trains
