"""SemRel 2024 (SemEval-2024 Task 1, track A) semantic textual relatedness on the ``test`` split, as an mteb STS task.

Part of the evaluation protocol of arXiv 2603.01732 (Sec. 5), run through ``mteb.evaluate`` on local data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datasets import Dataset, DatasetDict

from bootembed.data.semrel import load_semrel, semrel_splits
from bootembed.evaluation.local import (
    LocalSTSTask,
    flores_to_bcp47,
    subsample_indices,
)
from bootembed.evaluation.tasks.base import (
    AbsTask,
    DataSources,
    EvalTask,
    gold_column,
    split_predictions,
)

__all__ = ["TASK", "SEMREL_TASK_NAME", "SemRelTask", "make_semrel_task"]

SEMREL_TASK_NAME = "LocalSemRel2024STS"


def make_semrel_task(
    lang: str, pairs: Sequence[tuple[str, str, float]], *, limit: int | None = None, seed: int = 42
) -> LocalSTSTask:
    """SemRel 2024 (SemEval-2024 Task 1, track A) relatedness as an mteb STS task.

    The model embeds both sentences of each pair; mteb reports Pearson/Spearman correlations of
    cosine (and other) similarities against the gold relatedness. The paper's main STS metric is
    ``cosine_spearman``.

    Args:
        lang: FLORES-200 code of the language, e.g. ``"hau_Latn"``.
        pairs: ``(sentence1, sentence2, score)`` tuples; ``score`` in [0, 1].
        limit: Keep at most this many pairs (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb.

    Returns:
        An mteb task with split ``"test"`` and subset ``"default"``.

    Raises:
        ValueError: If ``pairs`` is empty or a score lies outside [0, 1].
    """
    langscript = flores_to_bcp47(lang)
    if not pairs:
        raise ValueError(f"semrel ({lang}): no sentence pairs to evaluate on")
    for i, (_, _, score) in enumerate(pairs):
        if not 0.0 <= float(score) <= 1.0:
            raise ValueError(
                f"semrel ({lang}): pair {i} field 'score' must lie in [0, 1], got {score!r}"
            )
    keep = subsample_indices(len(pairs), limit, seed)
    rows = [(pairs[i][0], pairs[i][1], float(pairs[i][2])) for i in keep]

    def build() -> dict[str, DatasetDict]:
        ds = Dataset.from_dict(
            {
                "sentence1": [r[0] for r in rows],
                "sentence2": [r[1] for r in rows],
                "score": [r[2] for r in rows],
            }
        )
        return {"default": DatasetDict({"test": ds})}

    metadata = SemRelTask.metadata(lang, [langscript], (lang, rows))
    return LocalSTSTask(metadata, build, seed=seed)


class SemRelTask(EvalTask):
    """SemRel 2024 test, semantic textual relatedness (Spearman of cosine similarity)."""

    name = "semrel"
    order = 10
    description = "SemRel 2024 test, semantic textual relatedness (Spearman of cosine similarity)"
    data = ("${data.root}/semrel2024",)
    split = "test"
    fields = {"semrel_spearman": "cosine_spearman"}
    headline = {"semrel_spearman": "semrel"}
    mteb_class = LocalSTSTask
    mteb_name = SEMREL_TASK_NAME
    mteb_description = (
        "SemEval-2024 Task 1 semantic textual relatedness, {lang} test split (local copy)."
    )
    main_score = "cosine_spearman"
    reference = "https://aclanthology.org/2024.semeval-1.277/"
    dataset_path = "local/semrel2024"
    license = "not specified"
    bibtex = r"""@inproceedings{ousidhoum-etal-2024-semeval,
  title = {{S}em{E}val-2024 Task 1: Semantic Textual Relatedness for {A}frican and {A}sian Languages},
  author = {Ousidhoum, Nedjma and others},
  booktitle = {Proceedings of the 18th International Workshop on Semantic Evaluation (SemEval-2024)},
  year = {2024},
}"""

    def unavailable(self, sources: DataSources, lang: str) -> str | None:
        if "test" not in semrel_splits(sources, lang):
            return f"SemRel 2024 has no test split for {lang}"
        return None

    def build(self, sources: DataSources, lang: str, *, limit: int | None, seed: int) -> AbsTask:
        pairs = [
            (p.sentence1, p.sentence2, float(p.score)) for p in load_semrel(sources, lang, "test")
        ]
        return make_semrel_task(lang, pairs, limit=limit, seed=seed)

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per pair: the cosine similarity and the gold score (Spearman over pairs)."""
        cosine = split_predictions(predictions, "default", self.split)["cosine_scores"]
        gold = gold_column(task, "default", self.split, "score")
        return {
            "semrel_spearman": {
                "statistic": "spearman",
                "values": [[float(x) for x in cosine], [float(x) for x in gold]],
            }
        }


TASK = SemRelTask()
