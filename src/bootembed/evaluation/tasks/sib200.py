"""SIB-200 topic classification (7 labels) with mteb's logistic-regression probe.

Part of the evaluation protocol of arXiv 2603.01732 (Sec. 5), run through ``mteb.evaluate`` on local data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from bootembed.data.sib200 import load_sib200
from bootembed.evaluation.local import (
    LocalClassificationTask,
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

__all__ = ["TASK", "SIB200_TASK_NAME", "Sib200Task", "make_sib200_task"]

SIB200_TASK_NAME = "LocalSIB200Classification"


def make_sib200_task(
    lang: str,
    train: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    *,
    limit: int | None = None,
    seed: int = 42,
    samples_per_label: int | None = None,
    n_experiments: int | None = None,
) -> LocalClassificationTask:
    """SIB-200 topic classification with mteb's logistic-regression probe.

    Follows mteb's own ``SIB200Classification``: for each of ``n_experiments`` runs,
    ``samples_per_label`` training examples per label are drawn from the train split, a
    ``LogisticRegression`` is fitted on their embeddings and scored on the test split; mteb
    reports the mean accuracy / F1 over runs.

    Args:
        lang: FLORES-200 code of the language.
        train: ``(text, category)`` pairs of the train split.
        test: ``(text, category)`` pairs of the test split.
        limit: Keep at most this many examples of each split (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb's undersampling / classifier.
        samples_per_label: Training examples per label per experiment; ``None`` keeps mteb's
            default (8).
        n_experiments: Number of repeated experiments; ``None`` keeps mteb's default (10).

    Returns:
        An mteb task with train split ``"train"``, eval split ``"test"``, subset ``"default"``.

    Raises:
        ValueError: If a split is empty, or a test category never occurs in the train split.
    """
    langscript = flores_to_bcp47(lang)
    if not train or not test:
        raise ValueError(
            f"sib200 ({lang}): train and test splits must be non-empty, got {len(train)} train "
            f"and {len(test)} test examples"
        )
    keep_train = subsample_indices(len(train), limit, seed)
    keep_test = subsample_indices(len(test), limit, seed + 1)
    tr = [(train[i][0], train[i][1]) for i in keep_train]
    te = [(test[i][0], test[i][1]) for i in keep_test]
    names = sorted({c for _, c in tr})
    unseen = sorted({c for _, c in te} - set(names))
    if unseen:
        raise ValueError(
            f"sib200 ({lang}): test field 'category' has labels {unseen} absent from the train split"
        )

    def build() -> dict[str, DatasetDict]:
        features = Features({"text": Value("string"), "label": ClassLabel(names=names)})

        def to_ds(rows: list[tuple[str, str]]) -> Dataset:
            return Dataset.from_dict(
                {"text": [t for t, _ in rows], "label": [names.index(c) for _, c in rows]},
                features=features,
            )

        return {"default": DatasetDict({"train": to_ds(tr), "test": to_ds(te)})}

    metadata = Sib200Task.metadata(lang, [langscript], (lang, tr, te))
    task = LocalClassificationTask(metadata, build, seed=seed)
    if samples_per_label is not None:
        task.samples_per_label = samples_per_label
    if n_experiments is not None:
        task.n_experiments = n_experiments
    return task


class Sib200Task(EvalTask):
    """SIB-200 topic classification, logistic-regression probe (accuracy)."""

    name = "sib200"
    order = 40
    description = "SIB-200 topic classification, logistic-regression probe (accuracy)"
    data = ("${data.root}/sib200/annotated/${item.language}",)
    split = "test"
    fields = {"sib200_accuracy": "accuracy"}
    headline = {"sib200_accuracy": "sib200"}
    mteb_class = LocalClassificationTask
    mteb_name = SIB200_TASK_NAME
    mteb_description = "SIB-200 topic classification (7 labels), {lang} (local copy)."
    category = "t2c"
    main_score = "accuracy"
    reference = "https://arxiv.org/abs/2309.07445"
    dataset_path = "local/sib200"
    license = "cc-by-sa-4.0"
    bibtex = r"""@inproceedings{adelani-etal-2024-sib,
  title = {{SIB}-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in 200+ Languages and Dialects},
  author = {Adelani, David Ifeoluwa and others},
  booktitle = {Proceedings of EACL 2024 (Volume 1: Long Papers)},
  year = {2024},
}"""

    def build(self, sources: DataSources, lang: str, *, limit: int | None, seed: int) -> AbsTask:
        train = [(ex.text, ex.category) for ex in load_sib200(sources, lang, "train")]
        test = [(ex.text, ex.category) for ex in load_sib200(sources, lang, "test")]
        return make_sib200_task(lang, train, test, limit=limit, seed=seed)

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per test example: the share of mteb's probe experiments that label it correctly (its mean = accuracy)."""
        experiments = split_predictions(predictions, "default", self.split)
        gold = gold_column(task, "default", self.split, "label")
        if not experiments or any(len(run) != len(gold) for run in experiments):
            raise RuntimeError(
                f"sib200 ({lang}): predictions do not cover the {len(gold)} test items"
            )
        correct = [
            sum(int(run[i]) == int(label) for run in experiments) / len(experiments)
            for i, label in enumerate(gold)
        ]
        return {"sib200_accuracy": {"statistic": "mean", "values": correct}}


TASK = Sib200Task()
