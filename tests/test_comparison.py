"""Seeds, paired intervals, winners and the paper's claims (bootembed.comparison), and the report built on them."""

from __future__ import annotations

import numpy as np
import pytest

from bootembed.comparison import claim_verdict, compare_language
from bootembed.report import build_summary, render_markdown
from bootembed.statistics import DeltaInterval

N = 300


def _items(shift: float, noise: int) -> dict:
    """Per-item data of one run: accuracy-like per-item scores and an STS pair list."""
    rng = np.random.default_rng(noise)
    gold = np.linspace(0, 1, N)
    correct = (rng.random(N) < 0.5 + shift).astype(float)
    cosine = gold * (0.2 + shift * 4) + rng.normal(0, 0.3, N)
    return {
        "acc": {"statistic": "mean", "values": correct.tolist()},
        "sts": {"statistic": "spearman", "values": [cosine.tolist(), gold.tolist()]},
        "f1": {
            "statistic": "weighted_f1",
            "values": [list(range(N)), [i if rng.random() < 0.6 + shift else 0 for i in range(N)]],
        },
    }


def _runs() -> dict:
    return {
        "base": [_items(0.0, 1)],
        "translation": [_items(0.25, s) for s in (10, 11, 12)],
        "icl": [_items(0.0, s) for s in (20, 21, 22)],
        "xllora": [_items(0.1, s) for s in (30, 31, 32)],
    }


KINDS = {"translation": "baseline", "icl": "synthetic", "xllora": "synthetic"}


@pytest.fixture(scope="module")
def compared() -> dict:
    return compare_language(_runs(), kinds=KINDS, resamples=1000, confidence=0.95, seed=7)


def test_intervals_against_the_base(compared: dict) -> None:
    strong = compared["delta_vs_base"]["translation"]["acc"]
    assert strong["delta"] > 0.15 and strong["low"] > 0 and strong["significant"]
    assert strong["n_items"] == N and strong["n_seeds"] == 3 and strong["n_resamples"] == 1000
    same = compared["delta_vs_base"]["icl"]["acc"]
    assert same["low"] < 0 < same["high"] and not same["significant"]
    for metric in ("acc", "sts", "f1"):
        assert compared["delta_vs_base"]["translation"][metric]["significant"], metric


def test_winner_and_best_synthetic(compared: dict) -> None:
    win = compared["winners"]["acc"]
    assert win["model"] == "translation" and win["runner_up"] == "xllora"
    assert win["significant"] is True  # +0.15 over 300 items and 3 seeds
    assert win["best_synthetic"] == "xllora"
    assert win["best_synthetic_vs_base"]["significant"]


def test_claims_against_the_best_baseline(compared: dict) -> None:
    claims = compared["claims"]["acc"]
    assert claims["icl"]["baseline"] == "translation"
    assert claims["icl"]["verdict"] == "holds"  # ICL is far below the translation baseline
    assert claims["xllora"]["verdict"] == "contradicted"  # XL-LoRA is below it too, not above
    assert "composition" not in claims  # not in the run


def test_the_same_seed_gives_the_same_intervals(compared: dict) -> None:
    again = compare_language(_runs(), kinds=KINDS, resamples=1000, confidence=0.95, seed=7)
    assert again == compared


def test_claim_verdict() -> None:
    def interval(low: float, high: float) -> DeltaInterval:
        return DeltaInterval((low + high) / 2, low, high, 0.95, 10, 1000, 3, "percentile", 0)

    assert claim_verdict(interval(0.1, 0.2), +1) == "holds"
    assert claim_verdict(interval(0.1, 0.2), -1) == "contradicted"
    assert claim_verdict(interval(-0.2, -0.1), -1) == "holds"
    assert claim_verdict(interval(-0.1, 0.2), +1) == "not significant"


def test_summary_with_seeds_intervals_and_verdicts(compared: dict) -> None:
    evals = {
        "hau_Latn": {
            "base": {"acc": 0.5},
            "translation": [{"acc": 0.74}, {"acc": 0.76}, {"acc": 0.75}],
            "icl": [{"acc": 0.5}, {"acc": 0.52}, {"acc": 0.48}],
            "xllora": [{"acc": 0.6}, {"acc": 0.6}, {"acc": 0.6}],
        }
    }
    fidelity = {"hau_Latn": {"xllora": {"positive_closer_share": 0.61, "n": 480.0}}}
    summary = build_summary(evals, fidelity=fidelity, comparison={"hau_Latn": compared})
    assert summary["scores"]["hau_Latn"]["translation"]["acc"] == 0.75
    assert summary["sd"]["hau_Latn"]["translation"]["acc"] == 0.01
    assert summary["sd"]["hau_Latn"]["base"]["acc"] == 0.0
    assert summary["n_seeds"]["hau_Latn"] == {"base": 1, "translation": 3, "icl": 3, "xllora": 3}
    assert summary["seed_scores"]["hau_Latn"]["icl"]["acc"] == [0.5, 0.52, 0.48]
    assert summary["delta_vs_base"]["hau_Latn"]["translation"]["acc"] == 0.25
    assert summary["intervals"]["hau_Latn"]["translation"]["acc"]["significant"]
    assert summary["claims"]["hau_Latn"]["acc"]["icl"]["verdict"] == "holds"
    assert summary["fidelity"]["hau_Latn"]["xllora"]["positive_closer_share"] == 0.61
    md = render_markdown(summary)
    assert "0.7500 ± 0.0100 (+0.2500 [+" in md and "]*)" in md
    assert "### Verdicts (hau_Latn)" in md and "→ **holds**" in md and "→ **contradicted**" in md
    assert "`translation` (3 seeds)" in md
    assert "### Fidelity of the training triplets (hau_Latn, base encoder)" in md


def test_seed_lists_are_checked() -> None:
    with pytest.raises(
        ValueError, match=r"evals\['hau_Latn'\]\['icl'\]: expected at least one run"
    ):
        build_summary({"hau_Latn": {"base": {"m": 0.1}, "icl": []}})
    with pytest.raises(ValueError, match=r"\['icl'\]\['m'\]: expected a finite number"):
        build_summary({"hau_Latn": {"base": {"m": 0.1}, "icl": [{"m": 0.2}, {"m": float("inf")}]}})
