"""FLORES-200 ``devtest`` cross-lingual retrieval: target-language queries against the English corpus.

Part of the evaluation protocol of arXiv 2603.01732 (Sec. 5), run through ``mteb.evaluate`` on local data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets import Dataset

from bootembed.evaluation.item_metrics import ndcg_recall_at_k
from bootembed.evaluation.local import LocalRetrievalTask
from bootembed.evaluation.tasks._flores import FloresDevtestTask
from bootembed.evaluation.tasks.base import AbsTask, split_predictions

__all__ = [
    "TASK",
    "FLORES_RETRIEVAL_TASK_NAME",
    "FloresRetrievalTask",
    "make_flores_retrieval_task",
]

FLORES_RETRIEVAL_TASK_NAME = "LocalFloresRetrieval"


class FloresRetrievalTask(FloresDevtestTask):
    """FLORES-200 devtest retrieval: target queries, English corpus (recall@10, nDCG@10).

    Query ``q{i}`` is target sentence *i*; the corpus holds every (kept) English sentence as ``d{i}``; the only
    relevant document of ``q{i}`` is its translation ``d{i}``. Queries are encoded with the query prompt and
    documents with the passage/document prompt; mteb reports nDCG/MAP/recall/precision/MRR at k in (1, 3, 5, 10,
    20, 100, 1000), split ``"devtest"``, subset ``"default"``. The target language must not be English.
    """

    name = "flores_retrieval"
    order = 30
    description = (
        "FLORES-200 devtest retrieval: target queries, English corpus (recall@10, nDCG@10)"
    )
    fields = {
        "flores_retrieval_recall_at_10": "recall_at_10",
        "flores_retrieval_ndcg_at_10": "ndcg_at_10",
    }
    headline = {
        "flores_retrieval_recall_at_10": "recall@10",
        "flores_retrieval_ndcg_at_10": "ndcg@10",
    }
    mteb_class = LocalRetrievalTask
    mteb_name = FLORES_RETRIEVAL_TASK_NAME
    mteb_description = (
        "FLORES-200 devtest retrieval: {lang} queries against the English devtest corpus "
        "(relevant document = the translation; local copy)."
    )
    main_score = "ndcg_at_10"
    non_english = "FLORES retrieval"

    @classmethod
    def dataset(cls, lang: str, target: list[str], english: list[str]) -> dict[str, Any]:
        ids = list(range(len(target)))
        queries = Dataset.from_dict({"id": [f"q{i}" for i in ids], "text": target})
        corpus = Dataset.from_dict({"id": [f"d{i}" for i in ids], "text": english})
        relevant = {f"q{i}": {f"d{i}": 1} for i in ids}
        split = {
            "corpus": corpus,
            "queries": queries,
            "relevant_docs": relevant,
            "top_ranked": None,
        }
        return {"default": {"devtest": split}}

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per query ``q{i}`` (relevant document ``d{i}``, as :meth:`dataset` builds them): nDCG@10 and recall@10."""
        run = split_predictions(predictions, "default", self.split)
        relevant = {query: "d" + query[1:] for query in run}
        ndcg, recall, _ = ndcg_recall_at_k(run, relevant, k=10)
        return {
            "flores_retrieval_recall_at_10": {"statistic": "mean", "values": recall.tolist()},
            "flores_retrieval_ndcg_at_10": {"statistic": "mean", "values": ndcg.tolist()},
        }


TASK = FloresRetrievalTask()

#: ``make_flores_retrieval_task(lang, target, english, *, limit=None, seed=42)``: the mteb task
#: (:meth:`bootembed.evaluation.tasks.base.ParallelTask.make`).
make_flores_retrieval_task = FloresRetrievalTask.make
