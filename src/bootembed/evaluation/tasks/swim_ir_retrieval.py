"""SWIM-IR retrieval on FLORES-200 ``devtest`` passages, in the three directions the SAP variants train.

The evaluation of the SWIM-IR retrievers (Thakur et al., NAACL 2024; variants in :mod:`bootembed.sap`), run through
``mteb.evaluate`` on local data. Passages are runs of consecutive ``devtest`` sentences of one article; from each, one
sentence (seeded) is held out as the query and the rest is the passage
(:func:`bootembed.passages.evaluation_passages`), so the query is about its passage but never inside it. Training
passages come from ``dev`` only. Three mteb hf subsets, one per direction:

* ``tgt2eng``: target-language query -> English passages (what ``crosslingual`` trains);
* ``tgt2tgt``: target-language query -> target-language passages (``monolingual``);
* ``eng2tgt``: English query -> target-language passages (``swapped``).

Every direction has the same queries (the same held-out lines) and corpus size, so the directions are comparable.
Scores: nDCG@10, recall@10 and MRR@10 per direction, with per-query values for the paired bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets import Dataset

from bootembed.evaluation.item_metrics import rank_metrics_at_k
from bootembed.evaluation.local import (
    ENGLISH,
    LocalRetrievalTask,
    flores_to_bcp47,
    subsample_indices,
)
from bootembed.evaluation.tasks.base import (
    AbsTask,
    DataSources,
    EvalTask,
    TaskResult,
    as_float,
    scores_by_subset,
    split_predictions,
)

__all__ = ["DIRECTIONS", "SWIM_IR_TASK_NAME", "TASK", "SwimIrRetrievalTask", "make_swim_ir_task"]

SWIM_IR_TASK_NAME = "LocalSwimIrFloresRetrieval"

#: hf subset -> (query side, passage side); "tgt" = the target language, "eng" = English.
DIRECTIONS: dict[str, tuple[str, str]] = {
    "tgt2eng": ("tgt", "eng"),
    "tgt2tgt": ("tgt", "tgt"),
    "eng2tgt": ("eng", "tgt"),
}
#: Per direction: report metric suffix -> mteb score field.
_FIELDS = {"ndcg_at_10": "ndcg_at_10", "recall_at_10": "recall_at_10", "mrr_at_10": "mrr_at_10"}
#: Per-item arrays of :func:`bootembed.evaluation.item_metrics.rank_metrics_at_k` -> report metric suffix.
_ITEMS = {"ndcg": "ndcg_at_10", "recall": "recall_at_10", "mrr": "mrr_at_10"}


def _metric(direction: str, suffix: str) -> str:
    return f"swim_ir_{direction}_{suffix}"


def make_swim_ir_task(
    lang: str,
    queries: Mapping[str, list[str]],
    passages: Mapping[str, list[str]],
    *,
    limit: int | None = None,
    seed: int = 42,
) -> AbsTask:
    """The mteb retrieval task over held-out query sentences and their passages, in both languages.

    Query ``q{i}`` (``queries[side][i]``) has one relevant document, ``d{i}`` (``passages[side][i]``); every kept
    passage is in the corpus of every query of a direction.

    Args:
        lang: FLORES-200 code of the target language (not English).
        queries: ``{"tgt": [...], "eng": [...]}``, line-parallel.
        passages: ``{"tgt": [...], "eng": [...]}``, line-parallel with the queries.
        limit: keep at most this many (query, passage) items, seeded, as FLORES retrieval does (the corpus shrinks
            with the queries); ``None`` keeps all.
        seed: seed of the subsample and of mteb.

    Returns:
        An mteb retrieval task with split ``devtest`` and the hf subsets of :data:`DIRECTIONS`.

    Raises:
        ValueError: English ``lang``, sides of different lengths, or no query.
    """
    if lang == ENGLISH:
        raise ValueError("lang: SWIM-IR retrieval needs a non-English target language")
    sizes = {len(queries["tgt"]), len(queries["eng"]), len(passages["tgt"]), len(passages["eng"])}
    if len(sizes) != 1:
        raise ValueError(
            f"swim_ir_retrieval ({lang}): queries and passages must be line-parallel, got sizes {sizes}"
        )
    n = sizes.pop()
    if n == 0:
        raise ValueError(f"swim_ir_retrieval ({lang}): no query to evaluate")
    keep = subsample_indices(n, limit, seed)
    codes = {"tgt": flores_to_bcp47(lang), "eng": flores_to_bcp47(ENGLISH)}
    payload = (lang, [[side[i] for i in keep] for side in (*queries.values(), *passages.values())])
    metadata = SwimIrRetrievalTask.metadata(
        lang,
        {name: sorted({codes[q], codes[p]}) for name, (q, p) in DIRECTIONS.items()},
        payload,
    )

    def dataset() -> dict[str, Any]:
        out = {}
        for name, (query_side, passage_side) in DIRECTIONS.items():
            split = {
                "corpus": Dataset.from_dict(
                    {
                        "id": [f"d{i}" for i in keep],
                        "text": [passages[passage_side][i] for i in keep],
                    }
                ),
                "queries": Dataset.from_dict(
                    {"id": [f"q{i}" for i in keep], "text": [queries[query_side][i] for i in keep]}
                ),
                "relevant_docs": {f"q{i}": {f"d{i}": 1} for i in keep},
                "top_ranked": None,
            }
            out[name] = {"devtest": split}
        return out

    return LocalRetrievalTask(metadata, dataset, seed=seed)


class SwimIrRetrievalTask(EvalTask):
    """SWIM-IR retrieval on FLORES-200 devtest passages: three directions, nDCG@10 / recall@10 / MRR@10 each."""

    name = "swim_ir_retrieval"
    order = 60
    description = (
        "SWIM-IR retrieval on FLORES-200 devtest passages (held-out sentence as query): target->English, "
        "target->target, English->target (nDCG@10, recall@10, MRR@10)"
    )
    metrics = tuple(_metric(d, suffix) for d in DIRECTIONS for suffix in _FIELDS)
    # the headline (DVC metrics) keeps nDCG@10 per direction: recall@10 and MRR@10 are in the summary
    headline = {
        _metric("tgt2eng", "ndcg_at_10"): "ir_t2e",
        _metric("tgt2tgt", "ndcg_at_10"): "ir_t2t",
        _metric("eng2tgt", "ndcg_at_10"): "ir_e2t",
    }
    split = "devtest"
    data = (
        "${data.root}/flores200/devtest/${item.language}.devtest",
        "${data.root}/flores200/devtest/eng_Latn.devtest",
        "${data.root}/flores200/metadata_devtest.tsv",
    )
    mteb_class = LocalRetrievalTask
    mteb_name = SWIM_IR_TASK_NAME
    mteb_description = (
        "FLORES-200 devtest passages (consecutive sentences of one article, {lang} and {english}); query = a "
        "held-out sentence of the passage; directions target->English, target->target, English->target."
    )
    main_score = "ndcg_at_10"
    # tgt2eng and tgt2tgt share the target queries, tgt2tgt and eng2tgt the target passages: 4 encodings, not 6
    reuse_embeddings = True
    reference = "https://arxiv.org/abs/2311.05800"
    dataset_path = "local/flores200-passages"
    license = "cc-by-sa-4.0"
    bibtex = r"""@inproceedings{thakur2024swimir,
  title = {Leveraging {LLMs} for Synthesizing Training Data Across Many Languages in Multilingual Dense Retrieval},
  author = {Thakur, Nandan and Ni, Jianmo and Hern{\'a}ndez {\'A}brego, Gustavo and Wieting, John and Lin, Jimmy
            and Cer, Daniel},
  booktitle = {Proceedings of NAACL 2024},
  year = {2024},
}"""

    def build(self, sources: DataSources, lang: str, *, limit: int | None, seed: int) -> AbsTask:
        from bootembed.passages import evaluation_passages

        frame = evaluation_passages(sources, lang, seed=seed)
        return make_swim_ir_task(
            lang,
            {"tgt": frame["query_target"].to_list(), "eng": frame["query_english"].to_list()},
            {"tgt": frame["target"].to_list(), "eng": frame["english"].to_list()},
            limit=limit,
            seed=seed,
        )

    def scores(self, result: TaskResult, lang: str) -> dict[str, float]:
        """nDCG@10, recall@10 and MRR@10 of every direction (hf subset)."""
        rows = scores_by_subset(result, self.split)
        return {
            _metric(d, suffix): as_float(rows[d][field], _metric(d, suffix))
            for d in DIRECTIONS
            for suffix, field in _FIELDS.items()
        }

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per query ``q{i}`` (relevant document ``d{i}``, in the order of ``i``) of every direction: nDCG@10,
        recall@10 and MRR@10."""
        out = {}
        for direction in DIRECTIONS:
            run = split_predictions(predictions, direction, self.split)
            relevant = {query: "d" + query[1:] for query in sorted(run, key=lambda q: int(q[1:]))}
            arrays, _ = rank_metrics_at_k(run, relevant, k=10)
            for key, suffix in _ITEMS.items():
                out[_metric(direction, suffix)] = {
                    "statistic": "mean",
                    "values": arrays[key].tolist(),
                }
        return out


TASK = SwimIrRetrievalTask()
