"""Tatoeba (LASER v1 test sets) target->English bitext mining, where the language has a set.

Part of the evaluation protocol of arXiv 2603.01732 (Sec. 5), run through ``mteb.evaluate`` on local data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets import Dataset, DatasetDict

from bootembed.data.tatoeba import load_tatoeba
from bootembed.evaluation.local import LocalBitextMiningTask
from bootembed.evaluation.tasks.base import (
    AbsTask,
    DataSources,
    ParallelTask,
    bitext_items,
    split_predictions,
)

__all__ = ["TASK", "TATOEBA_TASK_NAME", "TatoebaTask", "make_tatoeba_task"]

TATOEBA_TASK_NAME = "LocalTatoebaBitextMining"


class TatoebaTask(ParallelTask):
    """Tatoeba target->English bitext mining (F1), where the language has a test set.

    As mteb's Tatoeba task: the target sentences (``sentence1``) are the queries, the line-aligned English
    sentences (``sentence2``) are searched; split ``"test"``, subset ``"default"``.
    """

    name = "tatoeba"
    order = 50
    description = "Tatoeba target->English bitext mining (F1), where the language has a test set"
    data = ("${data.root}/tatoeba",)
    split = "test"
    fields = {"tatoeba_f1": "f1"}
    headline = {"tatoeba_f1": "tatoeba"}
    mteb_class = LocalBitextMiningTask
    mteb_name = TATOEBA_TASK_NAME
    mteb_description = "Tatoeba bitext mining {lang}->{english} (LASER v1 test set, local copy)."
    main_score = "f1"
    reference = "https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1"
    dataset_path = "local/tatoeba"
    license = "cc-by-2.0"
    bibtex = r"""@article{artetxe2019massively,
  title = {Massively Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond},
  author = {Artetxe, Mikel and Schwenk, Holger},
  journal = {Transactions of the Association for Computational Linguistics},
  year = {2019},
}"""

    @classmethod
    def dataset(cls, lang: str, target: list[str], english: list[str]) -> dict[str, DatasetDict]:
        ds = Dataset.from_dict({"sentence1": target, "sentence2": english})
        return {"default": DatasetDict({"test": ds})}

    def unavailable(self, sources: DataSources, lang: str) -> str | None:
        if load_tatoeba(sources, lang) is None:
            return f"Tatoeba has no test set for {lang}"
        return None

    def build(self, sources: DataSources, lang: str, *, limit: int | None, seed: int) -> AbsTask:
        pair = load_tatoeba(sources, lang)
        if pair is None:
            raise ValueError(f"tatoeba: {lang} has no Tatoeba test set")
        target, english = pair
        return self.make(lang, target, english, limit=limit, seed=seed)

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per target sentence: gold match and nearest English neighbour (weighted F1)."""
        pairs = split_predictions(predictions, "default", self.split)
        if len(pairs) != 1:
            raise RuntimeError(f"tatoeba ({lang}): expected one direction, got {sorted(pairs)}")
        return {"tatoeba_f1": bitext_items(next(iter(pairs.values())))}


TASK = TatoebaTask()

#: ``make_tatoeba_task(lang, target, english, *, limit=None, seed=42)``: the mteb task
#: (:meth:`bootembed.evaluation.tasks.base.ParallelTask.make`).
make_tatoeba_task = TatoebaTask.make
