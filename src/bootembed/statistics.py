"""Uncertainty of every comparison: seeds summarised as mean ± sd, differences with paired bootstrap intervals.

A score difference between an encoder and the base encoder is a result only with its uncertainty. Two sources are
reported separately:

* **seeds** (training randomness): each strategy's encoder is trained with several seeds; its score is the mean
  ± sample standard deviation over seeds (:func:`mean_sd`);
* **test items** (finite test sets): the difference Δ = metric(encoder) − metric(base) on the same items gets a
  paired bootstrap 95 % confidence interval over the items (Efron & Tibshirani 1993, ch. 13; paired: every
  resample draws the same item indices for both models), computed with :func:`scipy.stats.bootstrap`, seeded,
  percentile method, at least 1000 resamples (:func:`paired_delta_interval`). With several seeds the statistic is
  the seed-mean metric minus the base metric on each resample.

A Δ is called significant when its interval excludes 0.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base, better = rng.random(200), rng.random(200) + 0.2
    >>> interval = paired_delta_interval(mean_metric, [better], base, seed=1)
    >>> interval.excludes_zero
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIN_RESAMPLES",
    "DeltaInterval",
    "mean_metric",
    "mean_sd",
    "paired_delta_interval",
    "paired_difference_interval",
]

#: The fewest bootstrap resamples accepted.
MIN_RESAMPLES = 1000

#: ``metric(item_data, indices) -> score``: a model's score on the items at ``indices``.
Metric = Callable[[Any, np.ndarray], float]


def mean_metric(values: np.ndarray, indices: np.ndarray) -> float:
    """The mean of per-item scores at ``indices`` (accuracy, recall@10, nDCG@10, ... as per-item values)."""
    return float(np.mean(np.asarray(values)[indices]))


def mean_sd(values: Sequence[float]) -> dict[str, float | int]:
    """``{"mean", "sd", "n"}`` of per-seed scores (sample sd, ``ddof=1``; 0.0 for one seed).

    Raises:
        ValueError: no values, or a value that is not finite.
    """
    array = np.asarray(list(values), dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"mean_sd: expected finite scores, got {list(values)!r}")
    sd = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"mean": float(array.mean()), "sd": sd, "n": int(array.size)}


@dataclass(frozen=True)
class DeltaInterval:
    """A difference of one metric between an encoder (seed mean) and the base encoder, with its interval.

    Attributes:
        delta: seed-mean metric of the encoder minus the base metric, on all items.
        low: lower end of the confidence interval.
        high: upper end.
        confidence: the interval's level (0.95).
        n_items: test items resampled.
        n_resamples: bootstrap resamples.
        n_seeds: encoder seeds averaged.
        method: bootstrap interval method (``percentile``).
        seed: the bootstrap's random seed.
    """

    delta: float
    low: float
    high: float
    confidence: float
    n_items: int
    n_resamples: int
    n_seeds: int
    method: str
    seed: int

    @property
    def excludes_zero(self) -> bool:
        """Significant at the interval's level: the whole interval lies above or below 0."""
        return self.low > 0 or self.high < 0

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        """JSON-ready, rounded, with ``significant``."""
        data = asdict(self)
        for key in ("delta", "low", "high"):
            data[key] = round(data[key], digits) + 0.0
        data["significant"] = self.excludes_zero
        return data


def paired_delta_interval(
    metric: Metric,
    encoder_items: Sequence[Any],
    base_items: Any,
    *,
    n_items: int | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DeltaInterval:
    """Paired bootstrap interval of Δ = mean over seeds of metric(encoder seed) − metric(base), over test items.

    Args:
        metric: ``metric(items, indices) -> score`` for one model (e.g. :func:`mean_metric` for per-item scores,
            or Spearman of the indexed cosine scores against the indexed gold scores).
        encoder_items: one per-item data object per seed of the encoder (same items, same order as the base).
        base_items: the base encoder's per-item data.
        n_items: number of items (default: ``len(base_items)``).
        n_resamples: bootstrap resamples (>= :data:`MIN_RESAMPLES`).
        confidence: interval level.
        seed: random seed of the resampling (recorded).

    Returns:
        The :class:`DeltaInterval`.

    Raises:
        ValueError: no seeds, fewer than 2 items, too few resamples, or a confidence outside (0, 1).
    """
    n = len(base_items) if n_items is None else n_items
    return paired_difference_interval(
        metric,
        encoder_items,
        [base_items],
        n_items=n,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def paired_difference_interval(
    metric: Metric,
    a_items: Sequence[Any],
    b_items: Sequence[Any],
    *,
    n_items: int,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DeltaInterval:
    """Paired bootstrap interval of Δ = seed-mean metric of model A − seed-mean metric of model B, over test items.

    Both models are scored on the same resampled item indices (paired), each averaged over its seeds; used for a
    strategy against the base encoder (B = the base, one "seed") and for a strategy against a baseline.

    Args:
        metric: ``metric(items, indices) -> score`` for one model.
        a_items: per-item data of model A, one per seed.
        b_items: per-item data of model B, one per seed.
        n_items: number of test items (the same for both).
        n_resamples: bootstrap resamples (>= :data:`MIN_RESAMPLES`).
        confidence: interval level.
        seed: random seed of the resampling (recorded).

    Returns:
        The :class:`DeltaInterval` (``n_seeds``: A's seeds).

    Raises:
        ValueError: a model without seeds, fewer than 2 items, too few resamples, or a confidence outside (0, 1).
    """
    from scipy.stats import bootstrap

    if not a_items or not b_items:
        raise ValueError("paired_delta_interval: expected at least one encoder seed per model")
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"n_resamples: expected >= {MIN_RESAMPLES}, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a value in (0, 1), got {confidence}")
    n = n_items
    if n < 2:
        raise ValueError(f"paired_delta_interval: expected >= 2 items, got {n}")

    def delta(indices: np.ndarray) -> float:
        indices = np.asarray(indices, dtype=int)
        a = sum(metric(items, indices) for items in a_items) / len(a_items)
        b = sum(metric(items, indices) for items in b_items) / len(b_items)
        return a - b

    everything = np.arange(n)
    point = delta(everything)
    result = bootstrap(
        (everything,),
        delta,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=False,
        paired=False,
        random_state=np.random.default_rng(seed),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (
        math.isfinite(low) and math.isfinite(high)
    ):  # a degenerate metric (all resamples equal)
        low = high = point
    return DeltaInterval(
        point, low, high, confidence, n, n_resamples, len(a_items), "percentile", seed
    )
