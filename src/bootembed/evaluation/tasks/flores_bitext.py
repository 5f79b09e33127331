"""FLORES-200 ``devtest`` bitext mining in both directions (target->English, English->target).

Part of the evaluation protocol of arXiv 2603.01732 (Sec. 5), run through ``mteb.evaluate`` on local data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets import Dataset

from bootembed.evaluation.local import ENGLISH, LocalParallelBitextMiningTask, flores_to_bcp47
from bootembed.evaluation.tasks._flores import FloresDevtestTask
from bootembed.evaluation.tasks.base import (
    AbsTask,
    TaskResult,
    as_float,
    bitext_items,
    scores_by_subset,
    split_predictions,
)

__all__ = ["TASK", "FLORES_BITEXT_TASK_NAME", "FloresBitextTask", "make_flores_bitext_task"]

FLORES_BITEXT_TASK_NAME = "LocalFloresBitextMining"


class FloresBitextTask(FloresDevtestTask):
    """FLORES-200 devtest bitext mining, F1 in both directions.

    Each sentence of the query side is matched to its nearest neighbour (model similarity, cosine for
    sentence-transformers) on the other side; mteb reports weighted precision/recall/F1 and accuracy of the
    matches. The two directions are the hf subsets ``"{lang}-eng_Latn"`` and ``"eng_Latn-{lang}"`` of split
    ``"devtest"``; the target language must not be English.
    """

    name = "flores_bitext"
    order = 20
    metrics = ("flores_bitext_f1_tgt2eng", "flores_bitext_f1_eng2tgt")
    headline = {"flores_bitext_f1_tgt2eng": "bitext_t2e", "flores_bitext_f1_eng2tgt": "bitext_e2t"}
    description = "FLORES-200 devtest bitext mining, F1 in both directions"
    mteb_class = LocalParallelBitextMiningTask
    mteb_name = FLORES_BITEXT_TASK_NAME
    mteb_description = "FLORES-200 devtest bitext mining {lang}<->{english} (local copy)."
    main_score = "f1"
    non_english = "FLORES bitext mining"

    @classmethod
    def eval_langs(cls, lang: str, langscript: str) -> dict[str, list[str]]:
        eng_script = flores_to_bcp47(ENGLISH)
        return {
            f"{lang}-{ENGLISH}": [langscript, eng_script],
            f"{ENGLISH}-{lang}": [eng_script, langscript],
        }

    @classmethod
    def dataset(cls, lang: str, target: list[str], english: list[str]) -> dict[str, Dataset]:
        return {"devtest": Dataset.from_dict({lang: target, ENGLISH: english})}

    def scores(self, result: TaskResult, lang: str) -> dict[str, float]:
        rows = scores_by_subset(result, self.split)
        return {
            "flores_bitext_f1_tgt2eng": as_float(rows[f"{lang}-{ENGLISH}"]["f1"], "f1 tgt2eng"),
            "flores_bitext_f1_eng2tgt": as_float(rows[f"{ENGLISH}-{lang}"]["f1"], "f1 eng2tgt"),
        }

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per sentence and direction: gold match and nearest neighbour (weighted F1)."""
        pairs = split_predictions(predictions, "parallel", self.split)
        return {
            "flores_bitext_f1_tgt2eng": bitext_items(pairs[f"{lang}-{ENGLISH}"]),
            "flores_bitext_f1_eng2tgt": bitext_items(pairs[f"{ENGLISH}-{lang}"]),
        }


TASK = FloresBitextTask()

#: ``make_flores_bitext_task(lang, target, english, *, limit=None, seed=42)``: the mteb task
#: (:meth:`bootembed.evaluation.tasks.base.ParallelTask.make`).
make_flores_bitext_task = FloresBitextTask.make
