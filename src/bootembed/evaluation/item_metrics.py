"""Metrics recomputed from per-item predictions, for the paired bootstrap over test items.

mteb saves every task's predictions (``mteb.evaluate(..., prediction_folder=...)``): similarity scores (STS),
nearest neighbours (bitext mining), ranked documents (retrieval), labels per probe experiment (classification).
Each task turns them into per-item arrays (:meth:`bootembed.evaluation.tasks.base.EvalTask.items`), and these
functions compute the task's metric on any subset of items (``indices``, with repeats under resampling), with the
definitions mteb uses, so that the full-set value equals mteb's score:

* :func:`spearman`: Spearman correlation of cosine scores with gold scores (STS, ``cosine_spearman``);
* :func:`weighted_f1`: support-weighted F1 of predicted against gold item labels (bitext mining, as sklearn's
  ``f1_score(average="weighted", zero_division=0)``);
* :func:`mean`: the mean of per-item scores (classification accuracy averaged over the probe experiments,
  retrieval recall@10 / nDCG@10 / MRR@10 per query, :func:`rank_metrics_at_k`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "item_data",
    "mean",
    "ndcg_recall_at_k",
    "rank_metrics_at_k",
    "spearman",
    "weighted_f1",
]


def mean(values: np.ndarray, indices: np.ndarray) -> float:
    """Mean of per-item scores ``values`` at ``indices``."""
    return float(np.asarray(values, dtype=float)[indices].mean())


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as ``scipy.stats.rankdata``."""
    from scipy.stats import rankdata

    return rankdata(x)


def spearman(items: tuple[np.ndarray, np.ndarray], indices: np.ndarray) -> float:
    """Spearman's rho of predicted ``items[0]`` against gold ``items[1]`` at ``indices`` (0.0 if undefined)."""
    predicted, gold = (np.asarray(a, dtype=float)[indices] for a in items)
    a, b = _ranks(predicted), _ranks(gold)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def weighted_f1(items: tuple[np.ndarray, np.ndarray], indices: np.ndarray) -> float:
    """Support-weighted F1 over gold labels of ``(gold, predicted)`` item labels at ``indices``.

    Equals ``sklearn.metrics.f1_score(gold, predicted, average="weighted", zero_division=0)``: per gold label l,
    F1_l = 2 TP_l / (support_l + predicted_l), weighted by support_l (labels predicted but never gold have no
    weight).
    """
    gold, predicted = (np.asarray(a, dtype=np.int64)[indices] for a in items)
    size = int(max(gold.max(), predicted.max())) + 1
    support = np.bincount(gold, minlength=size)
    predicted_count = np.bincount(predicted, minlength=size)
    true_positive = np.bincount(gold[gold == predicted], minlength=size)
    denominator = support + predicted_count
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(size), where=denominator > 0)
    return float((f1 * support).sum() / support.sum())


def rank_metrics_at_k(
    run: dict[str, dict[str, float]], relevant: dict[str, str], k: int = 10
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per-query nDCG@k, recall@k and MRR@k of a retrieval run with one relevant document per query.

    Documents are ranked by score, ties broken by document id (descending), as pytrec_eval and mteb's MRR do. With
    one relevant document at rank r: nDCG@k = 1 / log2(r + 1), recall@k = 1 and MRR@k = 1 / r if r <= k, else all
    three are 0.

    Args:
        run: query id -> document id -> score (mteb's retrieval predictions).
        relevant: query id -> its relevant document id.
        k: cut-off.

    Returns:
        ``({"ndcg": ..., "recall": ..., "mrr": ...}, query_ids)``: arrays in the order of ``query_ids`` (those of
        ``relevant``).
    """
    ndcg, recall, mrr, queries = [], [], [], []
    for query, doc in relevant.items():
        scores = run.get(query, {})
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], _desc(kv[0])))
        rank = next((i + 1 for i, (d, _) in enumerate(ranked) if d == doc), None)
        hit = rank is not None and rank <= k
        ndcg.append(1.0 / np.log2(rank + 1) if hit else 0.0)
        recall.append(1.0 if hit else 0.0)
        mrr.append(1.0 / rank if hit else 0.0)
        queries.append(query)
    arrays = {"ndcg": np.asarray(ndcg), "recall": np.asarray(recall), "mrr": np.asarray(mrr)}
    return arrays, queries


def ndcg_recall_at_k(
    run: dict[str, dict[str, float]], relevant: dict[str, str], k: int = 10
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-query nDCG@k and recall@k (:func:`rank_metrics_at_k`): ``(ndcg, recall, query_ids)``."""
    arrays, queries = rank_metrics_at_k(run, relevant, k)
    return arrays["ndcg"], arrays["recall"], queries


def _desc(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


#: Item-metric function per name used by :meth:`EvalTask.items`.
METRICS: dict[str, Any] = {"mean": mean, "spearman": spearman, "weighted_f1": weighted_f1}


def item_data(entry: dict[str, Any]) -> tuple[Any, Any, int]:
    """``(metric, data, n_items)`` of one metric's per-item entry (``{"statistic", "values"}``, as
    :meth:`bootembed.evaluation.tasks.base.EvalTask.items` writes it): ``metric(data, indices)`` scores the items at
    ``indices``.

    Raises:
        ValueError: an unknown statistic, or per-item arrays of different lengths.
    """
    name = entry.get("statistic")
    if name not in METRICS:
        raise ValueError(f"statistic: expected one of {sorted(METRICS)}, got {name!r}")
    values = entry["values"]
    if name == "mean":
        data = np.asarray(values, dtype=float)
        return METRICS[name], data, int(data.size)
    first, second = (np.asarray(v) for v in values)
    if first.shape != second.shape:
        raise ValueError(
            f"{name}: per-item arrays differ in length ({first.size} vs {second.size})"
        )
    return METRICS[name], (first, second), int(first.size)
