"""Seed summaries, paired bootstrap intervals, per-item metrics and the triplet fidelity diagnostic."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

from bootembed.evaluation.item_metrics import mean, ndcg_recall_at_k, spearman, weighted_f1
from bootembed.fidelity import derangement, triplet_fidelity
from bootembed.statistics import mean_metric, mean_sd, paired_delta_interval


def test_mean_sd_of_seeds():
    assert mean_sd([0.5]) == {"mean": 0.5, "sd": 0.0, "n": 1}
    out = mean_sd([0.1, 0.2, 0.3])
    assert out["n"] == 3 and out["mean"] == pytest.approx(0.2)
    assert out["sd"] == pytest.approx(0.1)  # sample sd (ddof=1)
    for bad in ([], [0.1, float("nan")]):
        with pytest.raises(ValueError, match="finite"):
            mean_sd(bad)


def test_a_consistent_gain_is_significant_and_noise_is_not():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 400)
    better = [base + 0.05 + rng.normal(0, 0.02, 400) for _ in range(3)]
    gain = paired_delta_interval(mean_metric, better, base, n_resamples=1000, seed=1)
    assert gain.n_seeds == 3 and gain.n_items == 400
    assert gain.low < gain.delta < gain.high
    assert gain.low > 0 and gain.excludes_zero
    assert 0.04 < gain.delta < 0.06
    jitter = rng.normal(0, 0.2, 400)
    noise = [base + jitter - jitter.mean()]  # per-item noise, no mean difference
    null = paired_delta_interval(mean_metric, noise, base, n_resamples=1000, seed=1)
    assert null.low < 0 < null.high and not null.excludes_zero
    assert null.as_dict()["significant"] is False
    # the same bootstrap seed gives the same interval
    again = paired_delta_interval(mean_metric, noise, base, n_resamples=1000, seed=1)
    assert (again.low, again.high) == (null.low, null.high)


def test_paired_delta_interval_rejects_bad_requests():
    base = np.zeros(10)
    with pytest.raises(ValueError, match="at least one encoder seed"):
        paired_delta_interval(mean_metric, [], base)
    with pytest.raises(ValueError, match="n_resamples"):
        paired_delta_interval(mean_metric, [base], base, n_resamples=10)
    with pytest.raises(ValueError, match="confidence"):
        paired_delta_interval(mean_metric, [base], base, confidence=1.5)
    with pytest.raises(ValueError, match=">= 2 items"):
        paired_delta_interval(mean_metric, [base[:1]], base[:1])


def test_item_metrics_equal_the_library_metrics():
    rng = np.random.default_rng(3)
    predicted, gold = rng.normal(size=50), rng.normal(size=50)
    gold[:5] = gold[5]  # ties
    idx = rng.integers(0, 50, 50)
    assert spearman((predicted, gold), idx) == pytest.approx(
        spearmanr(predicted[idx], gold[idx])[0]
    )
    labels, guesses = rng.integers(0, 4, 80), rng.integers(0, 5, 80)
    idx = rng.integers(0, 80, 80)
    expected = f1_score(labels[idx], guesses[idx], average="weighted", zero_division=0)
    assert weighted_f1((labels, guesses), idx) == pytest.approx(expected)
    assert mean(np.array([1.0, 0.0, 1.0]), np.array([0, 0, 1])) == pytest.approx(2 / 3)


def test_ndcg_and_recall_at_k_of_one_relevant_document():
    run = {
        "q1": {"d1": 0.9, "d2": 0.1},  # relevant at rank 1
        "q2": {"d1": 0.9, "d2": 0.8, "d3": 0.7},  # rank 3
        "q3": {f"x{i}": 1.0 - i / 100 for i in range(12)} | {"d9": 0.0},  # rank 13: beyond k
    }
    ndcg, recall, queries = ndcg_recall_at_k(run, {"q1": "d1", "q2": "d3", "q3": "d9"}, k=10)
    assert queries == ["q1", "q2", "q3"]
    assert ndcg.tolist() == pytest.approx([1.0, 1 / np.log2(4), 0.0])
    assert recall.tolist() == [1.0, 1.0, 0.0]


class _LookupEncoder:
    """Stands in for a SentenceTransformer: fixed unit vectors per text."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = {k: np.asarray(v) / np.linalg.norm(v) for k, v in vectors.items()}
        self.prompts: dict[str, str] = {}

    def encode(self, texts, **_: object) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def test_fidelity_tells_real_positives_from_shuffled_ones():
    # three topics; each positive matches its anchor, each negative is another topic
    vectors = {
        "a0": [1, 0, 0], "p0": [1, 0.1, 0], "n0": [0, 1, 0],
        "a1": [0, 1, 0], "p1": [0.1, 1, 0], "n1": [0, 0, 1],
        "a2": [0, 0, 1], "p2": [0, 0.1, 1], "n2": [1, 0, 0],
    }  # fmt: skip
    frame = pl.DataFrame(
        {
            "anchor": ["a0", "a1", "a2", None],
            "positive": ["p0", "p1", "p2", "p0"],
            "negative": ["n0", "n1", "n2", "n0"],
        }
    )
    out = triplet_fidelity(frame, _LookupEncoder(vectors), seed=5)
    assert out["n"] == 3.0  # the row with a null anchor is left out
    assert out["positive_closer_share"] == 1.0
    assert out["positive_over_shuffled_share"] == 1.0
    assert out["cos_anchor_positive"] > 0.99 > out["cos_anchor_positive_shuffled"]
    # a generator whose positives ignore the anchor scores at chance
    scrambled = frame.with_columns(pl.Series("positive", ["p1", "p2", "p0", "p0"]))
    bad = triplet_fidelity(scrambled, _LookupEncoder(vectors), seed=5)
    assert bad["positive_closer_share"] < 1.0 and bad["cos_anchor_positive"] < 0.5
    with pytest.raises(ValueError, match="missing column"):
        triplet_fidelity(frame.drop("negative"), _LookupEncoder(vectors))


def test_derangement_has_no_fixed_point():
    for n in (2, 3, 10, 101):
        perm = derangement(n, seed=n)
        assert sorted(perm.tolist()) == list(range(n))
        assert not np.any(perm == np.arange(n))
    with pytest.raises(ValueError):
        derangement(1, seed=0)
