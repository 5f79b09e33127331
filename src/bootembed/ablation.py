"""The filter ablation: does filtering, and mining the hard negatives, change what the encoder learns?

For every synthetic strategy and language, up to three training sets of the same synthetic triplets, each giving one
encoder per training seed, evaluated on the same test items as the strategies' table (``filter.ablation``):

* ``unfiltered``: only unreadable rows dropped (every step of the chain off);
* ``filtered``: the configured chain (the strategy's own encoders of the main table);
* ``mined``: the configured chain with every hard negative mined (``filter.negatives`` on, generated negatives
  replaced).

Each arm's score is its seed mean ± sd; two differences get a paired bootstrap interval over the test items
(:func:`bootembed.statistics.paired_difference_interval`, seed means on both sides, the report's resamples, level and
seed): **filtering** (filtered − unfiltered) and **mining** (mined − filtered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bootembed.evaluation.item_metrics import item_data
from bootembed.evaluation.tasks import metric_order
from bootembed.statistics import mean_sd, paired_difference_interval

__all__ = ["ARMS", "COMPARISONS", "ablation_summary", "render_ablation_markdown"]

#: The arms of the ablation, in table order, and how each is named in the table.
ARMS: dict[str, str] = {
    "unfiltered": "unfiltered",
    "filtered": "filtered",
    "mined": "filtered + mined negatives",
}
#: The differences with an interval: ``name -> (arm A, arm B)`` for Δ = A − B.
COMPARISONS: dict[str, tuple[str, str]] = {
    "filtering": ("filtered", "unfiltered"),
    "mining": ("mined", "filtered"),
}
_DIGITS = 4

#: ``runs[arm]``: one per-item data dict (``{metric: {"statistic", "values"}}``) per seed.
Runs = Mapping[str, Sequence[Mapping[str, Mapping[str, Any]]]]


def _score(entry: Mapping[str, Any]) -> float:
    function, data, n = item_data(dict(entry))
    return float(function(data, np.arange(n)))


def _strategy_summary(runs: Runs, *, resamples: int, confidence: float, seed: int) -> dict:
    arms = [arm for arm in ARMS if arm in runs]
    metrics = [
        m
        for m in runs[arms[0]][0]
        if all(m in seed_items for arm in arms for seed_items in runs[arm])
    ]
    order = {m: i for i, m in enumerate(metric_order())}
    metrics.sort(key=lambda m: order.get(m, len(order)))
    scores = {
        arm: {
            metric: {
                k: round(v, _DIGITS) if isinstance(v, float) else v
                for k, v in mean_sd([_score(s[metric]) for s in runs[arm]]).items()
            }
            for metric in metrics
        }
        for arm in arms
    }
    deltas: dict[str, dict[str, Any]] = {}
    for name, (a, b) in COMPARISONS.items():
        if a not in runs or b not in runs:
            continue
        deltas[name] = {}
        for metric in metrics:
            function, _, n = item_data(dict(runs[a][0][metric]))
            deltas[name][metric] = paired_difference_interval(
                function,
                [item_data(dict(s[metric]))[1] for s in runs[a]],
                [item_data(dict(s[metric]))[1] for s in runs[b]],
                n_items=n,
                n_resamples=resamples,
                confidence=confidence,
                seed=seed,
            ).as_dict()
    return {"metrics": metrics, "scores": scores, "deltas": deltas}


def ablation_summary(
    runs: Mapping[str, Mapping[str, Runs]],
    *,
    variants: Sequence[str],
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """Scores and intervals of the ablation.

    Args:
        runs: ``runs[language][strategy][arm]`` = per-seed per-item data (arm: a key of :data:`ARMS`; ``filtered``
            required, the others where ``variants`` has them). Every arm covers the same test items.
        variants: ``filter.ablation`` (``unfiltered``, ``mined``); empty: no ablation was run.
        resamples: bootstrap resamples per interval.
        confidence: interval level.
        seed: seed of every bootstrap.

    Returns:
        ``{"variants", "arms", "comparisons", "languages": {language: {strategy: {"metrics", "scores": {arm:
        {metric: {"mean", "sd", "n"}}}, "deltas": {comparison: {metric: interval}}}}}}``; with no variants,
        ``languages`` is empty and ``note`` says how to run the ablation.

    Raises:
        KeyError: a strategy lacks the ``filtered`` arm.
        ValueError: per-item data of different sizes for one metric.
    """
    out: dict[str, Any] = {
        "variants": list(variants),
        "arms": ARMS,
        "comparisons": {k: f"{a} - {b}" for k, (a, b) in COMPARISONS.items()},
        "bootstrap": {"resamples": resamples, "confidence": confidence, "seed": seed},
        "languages": {},
    }
    if not variants:
        out["note"] = (
            "filter.ablation is empty: no ablation encoders were trained. Run it with "
            "`dvc exp run -S 'filter.ablation=[unfiltered,mined]'`."
        )
        return out
    for language, strategies in runs.items():
        out["languages"][language] = {}
        for strategy, arms in strategies.items():
            if "filtered" not in arms:
                raise KeyError(f"ablation: {language}/{strategy} has no 'filtered' arm")
            out["languages"][language][strategy] = _strategy_summary(
                arms, resamples=resamples, confidence=confidence, seed=seed
            )
    return out


def _interval(interval: Mapping[str, Any]) -> str:
    mark = "*" if interval["significant"] else ""
    return (
        f"{interval['delta']:+.{_DIGITS}f} [{interval['low']:+.{_DIGITS}f}, "
        f"{interval['high']:+.{_DIGITS}f}]{mark}"
    )


def render_ablation_markdown(summary: Mapping[str, Any]) -> str:
    """The ablation as Markdown: per language, a row per strategy and arm, a column per metric.

    A cell reads the seed mean ± sd and, for ``filtered`` and ``mined``, Δ against the arm before it (filtered −
    unfiltered; mined − filtered) with its paired bootstrap interval (``*``: the interval excludes 0).
    """
    lines = ["# Filter ablation: unfiltered vs filtered vs filtered + mined negatives", ""]
    if not summary["languages"]:
        return "\n".join([*lines, summary.get("note", "No ablation was run."), ""])
    boot = summary["bootstrap"]
    lines += [
        f"Seed mean ± sd; Δ vs the arm above (filtering: filtered − unfiltered; mining: mined − filtered) with its "
        f"paired bootstrap {boot['confidence']:.0%} interval over the test items ({boot['resamples']} resamples); "
        "`*`: the interval excludes 0.",
        "",
    ]
    against = {a: name for name, (a, _) in COMPARISONS.items()}
    for language, strategies in summary["languages"].items():
        metrics = list(dict.fromkeys(m for s in strategies.values() for m in s["metrics"]))
        lines += [f"## {language}", "", "| strategy | training set | " + " | ".join(metrics) + " |"]
        lines.append("|" + "|".join(["---"] * (len(metrics) + 2)) + "|")
        for strategy, entry in strategies.items():
            for arm, scores in entry["scores"].items():
                cells = []
                for metric in metrics:
                    if metric not in scores:
                        cells.append("–")
                        continue
                    cell = (
                        f"{scores[metric]['mean']:.{_DIGITS}f} ± {scores[metric]['sd']:.{_DIGITS}f}"
                    )
                    comparison = entry["deltas"].get(against.get(arm, ""), {}).get(metric)
                    if comparison is not None:
                        cell += f" ({_interval(comparison)})"
                    cells.append(cell)
                lines.append(f"| `{strategy}` | {ARMS[arm]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
