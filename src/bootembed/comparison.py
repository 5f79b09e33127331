"""Which encoder wins, by how much, and can we tell? Seeds, paired intervals and verdicts for the report.

Inputs are the per-item data of every evaluation (``results/mteb/<language>/<model>[/seed<N>]/items.json``,
:meth:`bootembed.evaluation.tasks.base.EvalTask.items`). For each language and metric:

* every fine-tuned encoder's Δ vs the base encoder: the seed-mean score minus the base score, with a paired
  bootstrap confidence interval over the test items (:func:`bootembed.statistics.paired_delta_interval`);
* the **winner** (highest seed mean among fine-tuned encoders), with its interval against the base and against
  the runner-up: a win is significant when the interval against the runner-up excludes 0;
* the **paper's claims** (Basoz, Horne, Opper, arXiv 2603.01732, Sec. 6): ICL falls short of the non-synthetic
  baselines; adapter composition and XL-LoRA give gains. Each claim is tested against the best non-synthetic
  baseline on that metric (Δ = strategy − baseline, paired over items, seed means on both sides) and reads
  ``holds`` (interval on the claimed side of 0), ``contradicted`` (on the other side) or ``not significant``.

Example:
    >>> import numpy as np
    >>> items = {"m": {"statistic": "mean", "values": [1.0, 0.0, 1.0, 1.0]}}
    >>> runs = {"base": [items], "icl": [items, items]}
    >>> out = compare_language(runs, kinds={"icl": "synthetic"}, resamples=1000, confidence=0.95, seed=0)
    >>> out["delta_vs_base"]["icl"]["m"]["delta"]
    0.0
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bootembed.evaluation.item_metrics import item_data
from bootembed.statistics import DeltaInterval, paired_difference_interval

__all__ = ["CLAIMS", "claim_verdict", "compare_language", "compare_pairs"]

logger = logging.getLogger(__name__)

#: The paper's claims tested per metric: strategy -> the side of the best non-synthetic baseline it is claimed on
#: (``-1`` below, ``+1`` above).
CLAIMS: dict[str, int] = {"icl": -1, "composition": +1, "xllora": +1}

#: ``runs[model]``: one per-item data dict (``{metric: {"statistic", "values"}}``) per seed; the base has one.
Runs = Mapping[str, Sequence[Mapping[str, Mapping[str, Any]]]]


def claim_verdict(interval: DeltaInterval, side: int) -> str:
    """``holds`` if the interval lies on ``side`` of 0 (``+1`` above, ``-1`` below), ``contradicted`` if on the
    other side, else ``not significant``."""
    if not interval.excludes_zero:
        return "not significant"
    above = interval.low > 0
    return "holds" if above == (side > 0) else "contradicted"


def _interval(
    metric: str, a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], **options: Any
) -> DeltaInterval:
    function, _, n = item_data(a[0][metric])
    a_data = [item_data(run[metric])[1] for run in a]
    b_data = [item_data(run[metric])[1] for run in b]
    return paired_difference_interval(function, a_data, b_data, n_items=n, **options)


def _mean(metric: str, runs: Sequence[Mapping[str, Any]]) -> float:
    import numpy as np

    values = []
    for run in runs:
        function, data, n = item_data(run[metric])
        values.append(function(data, np.arange(n)))
    return float(sum(values) / len(values))


def compare_language(
    runs: Runs,
    *,
    kinds: Mapping[str, str],
    resamples: int,
    confidence: float,
    seed: int,
    base_name: str = "base",
) -> dict[str, Any]:
    """Intervals, winners and claim verdicts of one language.

    Args:
        runs: model -> per-seed per-item data (the base: one entry). Every model must cover the same items.
        kinds: fine-tuned model -> ``"synthetic"`` or ``"baseline"`` (the strategy registry's kind).
        resamples: bootstrap resamples per interval (>= 1000).
        confidence: interval level.
        seed: seed of every bootstrap (the same seed for every comparison).
        base_name: the base encoder's key in ``runs``.

    Returns:
        ``{"delta_vs_base": {model: {metric: interval}}, "winners": {metric: {...}}, "claims": {metric: {strategy:
        {...}}}}``; intervals as :meth:`bootembed.statistics.DeltaInterval.as_dict`. Metrics are the base's; each is
        compared over the models with per-item data for it (a SWIM-IR retriever has only its retrieval metrics).

    Raises:
        KeyError: ``runs`` lacks the base.
        ValueError: per-item data of different sizes for one metric.
    """
    options = {"n_resamples": resamples, "confidence": confidence, "seed": seed}
    base = runs[base_name]
    everyone = [m for m in runs if m != base_name]
    delta_vs_base: dict[str, dict[str, Any]] = {m: {} for m in everyone}
    winners: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    for metric in base[0]:
        # the models with per-item data for this metric in every seed (SWIM-IR retrievers: only on their task)
        models = [m for m in everyone if all(metric in run for run in runs[m])]
        for model in models:
            delta_vs_base[model][metric] = _interval(metric, runs[model], base, **options).as_dict()
        if not models:
            continue
        means = {m: _mean(metric, runs[m]) for m in models}
        ranked = sorted(models, key=lambda m: -means[m])
        winner = ranked[0]
        entry: dict[str, Any] = {
            "model": winner,
            "mean": round(means[winner], 4),
            "vs_base": delta_vs_base[winner][metric],
        }
        if len(ranked) > 1:
            runner_up = ranked[1]
            vs = _interval(metric, runs[winner], runs[runner_up], **options)
            entry["runner_up"] = runner_up
            entry["vs_runner_up"] = vs.as_dict()
            entry["significant"] = vs.excludes_zero
        synthetic = [m for m in ranked if kinds.get(m) == "synthetic"]
        if synthetic:
            entry["best_synthetic"] = synthetic[0]
            entry["best_synthetic_vs_base"] = delta_vs_base[synthetic[0]][metric]
        winners[metric] = entry
        baselines = [m for m in ranked if kinds.get(m) == "baseline"]
        if baselines:
            best_baseline = baselines[0]
            claims[metric] = {}
            for strategy, side in CLAIMS.items():
                if strategy not in models:
                    continue
                vs = _interval(metric, runs[strategy], runs[best_baseline], **options)
                claims[metric][strategy] = {
                    "claim": f"{strategy} {'above' if side > 0 else 'below'} the best non-synthetic baseline",
                    "baseline": best_baseline,
                    "vs_baseline": vs.as_dict(),
                    "verdict": claim_verdict(vs, side),
                }
    logger.info("compared %d models on %d metrics", len(everyone), len(base[0]))
    return {"delta_vs_base": delta_vs_base, "winners": winners, "claims": claims}


def compare_pairs(
    runs: Runs,
    pairs: Sequence[tuple[str, str]],
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """The paired difference ``a - b`` of each pair of fine-tuned models, per metric both have (an ablation, such as
    SWIM-IR's summarize-then-ask vs plain prompting).

    Args:
        runs: model -> per-seed per-item data, as :func:`compare_language`.
        pairs: ``(a, b)`` model pairs; a pair with a model missing from ``runs`` is left out.
        resamples: bootstrap resamples per interval (>= 1000).
        confidence: interval level.
        seed: seed of every bootstrap.

    Returns:
        ``{"<a> - <b>": {"a": a, "b": b, "metrics": {metric: interval}}}``: Δ = seed-mean of ``a`` minus seed-mean
        of ``b``, with its paired percentile bootstrap interval over the test items
        (:func:`bootembed.statistics.paired_difference_interval`; :meth:`~bootembed.statistics.DeltaInterval.as_dict`).

    Raises:
        ValueError: per-item data of different sizes for one metric.

    Example:
        >>> a = {"m": {"statistic": "mean", "values": [1.0, 1.0, 0.0, 1.0]}}
        >>> b = {"m": {"statistic": "mean", "values": [1.0, 0.0, 0.0, 1.0]}}
        >>> out = compare_pairs({"x": [a], "y": [b]}, [("x", "y")], resamples=1000, confidence=0.95, seed=0)
        >>> out["x - y"]["metrics"]["m"]["delta"]
        0.25
    """
    options = {"n_resamples": resamples, "confidence": confidence, "seed": seed}
    out: dict[str, dict[str, Any]] = {}
    for a, b in pairs:
        if a not in runs or b not in runs:
            continue
        metrics = [m for m in runs[a][0] if all(m in run for run in [*runs[a], *runs[b]])]
        out[f"{a} - {b}"] = {
            "a": a,
            "b": b,
            "metrics": {m: _interval(m, runs[a], runs[b], **options).as_dict() for m in metrics},
        }
    return out
