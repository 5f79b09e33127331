"""Length-grouped batches without duplicate texts (:mod:`bootembed.batching`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest
from datasets import Dataset
from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

from bootembed.batching import LengthGroupedNoDuplicatesBatchSampler, batch_sampler

WORDS = "ruwa gida yaro mace abinci kasuwa hanya rana dare birni mota littafi".split()


def _dataset(n: int = 96, seed: int = 0, duplicates: int = 8) -> Dataset:
    """Rows of 1 to 30 words; ``duplicates`` positives repeat another row's anchor (an in-batch clash)."""
    rng = random.Random(seed)
    rows = {"anchor": [], "positive": [], "negative": []}
    for i in range(n):
        length = rng.randint(1, 30)
        rows["anchor"].append(f"{i} " + " ".join(rng.choice(WORDS) for _ in range(length)))
        rows["positive"].append(f"p{i} " + " ".join(rng.choice(WORDS) for _ in range(length)))
        rows["negative"].append(
            f"n{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
        )
    for i in range(duplicates):
        rows["positive"][i + 1] = rows["anchor"][i]
    return Dataset.from_dict(rows)


def _padded_chars(dataset: Dataset, batches: list[list[int]]) -> int:
    """Characters computed on when every column of a batch is padded to its longest text."""
    total = 0
    for batch in batches:
        for column in dataset.column_names:
            texts = [dataset[column][i] for i in batch]
            total += max(len(t) for t in texts) * len(texts)
    return total


def test_every_row_once_per_pass_and_no_text_twice_in_a_batch() -> None:
    data = _dataset()
    sampler = LengthGroupedNoDuplicatesBatchSampler(data, batch_size=8, drop_last=False, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(data)))
    for batch in batches:
        assert 1 <= len(batch) <= 8
        texts = [data[c][i] for i in batch for c in data.column_names]
        assert len(texts) == len(set(texts))


def test_seeded_order_repeats_and_changes_with_the_epoch() -> None:
    data = _dataset()

    def run(epoch: int) -> list[list[int]]:
        sampler = LengthGroupedNoDuplicatesBatchSampler(data, batch_size=8, drop_last=False, seed=3)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_less_padding_than_random_batches() -> None:
    data = _dataset(n=160, duplicates=0)
    grouped = list(
        LengthGroupedNoDuplicatesBatchSampler(data, batch_size=8, drop_last=False, seed=1)
    )
    plain = list(NoDuplicatesBatchSampler(data, batch_size=8, drop_last=False, seed=1))
    real = sum(len(t) for c in data.column_names for t in data[c])
    assert _padded_chars(data, grouped) / real < 0.9 * _padded_chars(data, plain) / real


def test_drop_last_keeps_full_batches_only() -> None:
    data = _dataset(n=50, duplicates=0)
    batches = list(
        LengthGroupedNoDuplicatesBatchSampler(data, batch_size=8, drop_last=True, seed=0)
    )
    assert batches and all(len(b) == 8 for b in batches)


def test_unknown_batch_order_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"train_encoder\.batch_order: expected one of"):
        batch_sampler("sorted")


def test_train_encoder_with_length_grouped_batches(tmp_path: Path) -> None:
    from helpers import build_tiny_encoder

    from bootembed.encoder_training import TRAINING_LOG_NAME, train_encoder

    rng = random.Random(0)
    words = [*WORDS, "zz"]
    encoder = build_tiny_encoder(tmp_path / "tiny", words)
    triplets = pl.DataFrame(
        {
            column: [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12))) + f" {column}{i}"
                for i in range(24)
            ]
            for column in ("anchor", "positive", "negative")
        }
    )
    out = tmp_path / "out"
    result = train_encoder(
        encoder,
        triplets,
        out,
        max_steps=3,
        batch_size=4,
        prompt=None,
        logging_steps=1,
        batch_order="length_grouped",
        work_root=tmp_path / "work",
    )
    assert result.steps == 3
    log = json.loads((out / TRAINING_LOG_NAME).read_text(encoding="utf-8"))
    assert log["hyper_parameters"]["batch_sampler"] == "length_grouped_no_duplicates"
    with pytest.raises(ValueError, match="batch_order"):
        train_encoder(encoder, triplets, tmp_path / "bad", max_steps=1, batch_order="sorted")


def test_bench_encoder_batching_writes_both_orders_side_by_side(
    tmp_path: Path, data_root: Path
) -> None:
    """``bootembed bench encoder-batching`` on real FLORES-200 hau/eng dev sentences and a tiny encoder: both
    orders timed, length-grouped batches pad less, the ratios are written."""
    from conftest import REPO, load_default_params
    from helpers import build_tiny_encoder

    from bootembed.bench_batching import bench_encoder_batching

    params = load_default_params(
        data={"root": str(data_root)},
        train_encoder={"batch_size": 4, "max_seq_length": 64},
        models={"encoder": {"prompt": ""}},
    )
    encoder = build_tiny_encoder(tmp_path / "tiny", WORDS)
    out = tmp_path / "bench.json"
    result = bench_encoder_batching(
        params,
        params_path=REPO / "params.yaml",
        language="hau_Latn",
        base=encoder,
        triplets_n=48,
        steps=6,
        rounds=1,
        work_dir=tmp_path / "work",
        out=out,
    )
    assert json.loads(out.read_text(encoding="utf-8")) == result
    orders = result["orders"]
    assert (
        len(orders["random"]["seconds_per_step"])
        == len(orders["length_grouped"]["seconds_per_step"])
        == 1
    )
    padding = {order: orders[order]["padding"] for order in orders}
    assert all(p["ratio"] >= 1 for p in padding.values())
    assert (
        padding["random"]["real_tokens"] == padding["length_grouped"]["real_tokens"]
    )  # one full pass each
    assert padding["length_grouped"]["padded_tokens"] < padding["random"]["padded_tokens"]
    assert result["ratios"]["padding_random_over_length_grouped"] > 1
    assert not (tmp_path / "work").exists()
