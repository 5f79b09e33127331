"""The evaluation-task interface: local data in, an mteb task out, flat scores back.

A task is one module of :mod:`bootembed.evaluation.tasks` holding one :class:`EvalTask` called ``TASK``. It says
whether a language has data for it (:meth:`EvalTask.unavailable`), builds an ordinary ``mteb`` task over data read
through :mod:`bootembed.data` (never the Hub; :meth:`EvalTask.build`), and turns mteb's result into the flat metric
keys of the report (:meth:`EvalTask.scores`, by default the :attr:`EvalTask.fields` of one split).

The types of the interface (``AbsTask``, ``TaskResult``, ``DataSources``) are re-exported here for the task modules.
"""

from __future__ import annotations

import abc
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.results import TaskResult

from bootembed.data.sources import DataSources
from bootembed.evaluation.local import (
    ENGLISH,
    LocalTask,
    flores_to_bcp47,
    local_metadata,
    parallel_sides,
)

__all__ = [
    "AbsTask",
    "DataSources",
    "EvalTask",
    "ParallelTask",
    "TaskResult",
    "as_float",
    "bitext_items",
    "gold_column",
    "scores_by_subset",
    "split_predictions",
]

logger = logging.getLogger(__name__)


class EvalTask(abc.ABC):
    """One evaluation task.

    Attributes:
        name: registry name (= module name), as in ``evaluate.tasks``.
        order: run and report order.
        metrics: the flat metric keys :meth:`scores` returns, in report order (default: the keys of
            :attr:`fields`).
        description: one line for the README and the report.
        data: mirror paths the task reads (``${item.language}`` for the evaluated language), for ``dvc.yaml``.
        split: the mteb eval split the task is scored on.
        fields: metric key -> mteb score field of the ``default`` hf subset of :attr:`split`, read by the
            default :meth:`scores`.
        headline: metric -> its short key in the headline metrics (``metrics/headline``, the DVC metrics), so that
            ``dvc metrics show`` / ``dvc exp show`` fit a terminal; default: the metric's own name.
        mteb_class: the local mteb task class (:mod:`bootembed.evaluation.local`); it fixes the mteb task type.
        mteb_name: name of the mteb task (``LocalSemRel2024STS``).
        mteb_description: the mteb description, ``{lang}`` (the evaluated language) and ``{english}`` filled in.
        category: mteb category (``"t2t"``, ``"t2c"``).
        main_score: mteb's main score of the task.
        reference: where the dataset is described.
        dataset_path: the mteb dataset path (``local/...``; never fetched).
        license: the dataset's license.
        bibtex: its citation.
        reuse_embeddings: encode each distinct (text, prompt type) once across the task's hf subsets (mteb's
            ``CachedEmbeddingWrapper``): for tasks whose subsets share queries or corpora.
    """

    name: ClassVar[str]
    order: ClassVar[int]
    metrics: ClassVar[tuple[str, ...]]
    description: ClassVar[str]
    data: ClassVar[tuple[str, ...]] = ()
    split: ClassVar[str]
    fields: ClassVar[Mapping[str, str]] = {}
    headline: ClassVar[Mapping[str, str]] = {}
    mteb_class: ClassVar[type[LocalTask]]
    mteb_name: ClassVar[str]
    mteb_description: ClassVar[str]
    category: ClassVar[str] = "t2t"
    main_score: ClassVar[str]
    reference: ClassVar[str]
    dataset_path: ClassVar[str]
    license: ClassVar[str]
    bibtex: ClassVar[str]
    reuse_embeddings: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "metrics" not in cls.__dict__ and cls.fields:
            cls.metrics = tuple(cls.fields)

    @classmethod
    def metadata(
        cls, lang: str, eval_langs: list[str] | Mapping[str, list[str]], payload: tuple[Any, ...]
    ) -> TaskMetadata:
        """The mteb metadata of the task on one language's data (:func:`bootembed.evaluation.local.local_metadata`).

        Args:
            lang: FLORES-200 code of the evaluated language.
            eval_langs: mteb language codes: one list, or a list per hf subset.
            payload: the data evaluated on (``(lang, rows, ...)``), digested into the dataset revision.

        Returns:
            The metadata: this class's constants, eval split :attr:`split`.
        """
        return local_metadata(
            name=cls.mteb_name,
            description=cls.mteb_description.format(lang=lang, english=ENGLISH),
            reference=cls.reference,
            path=cls.dataset_path,
            revision_payload=payload,
            task_type=cls.mteb_class.mteb_type,
            category=cls.category,
            eval_splits=[cls.split],
            eval_langs=eval_langs,
            main_score=cls.main_score,
            license=cls.license,
            bibtex=cls.bibtex,
        )

    def unavailable(self, sources: DataSources, lang: str) -> str | None:
        """Why ``lang`` cannot be evaluated on this task (no such data), or ``None`` if it can."""
        return None

    @abc.abstractmethod
    def build(self, sources: DataSources, lang: str, *, limit: int | None, seed: int) -> AbsTask:
        """Load the local data of ``lang`` and build the mteb task.

        Args:
            sources: where the data are read from.
            lang: FLORES-200 code of the evaluated language.
            limit: keep at most this many items (deterministic with ``seed``); ``None`` keeps all.
            seed: seed for subsampling and for mteb.

        Raises:
            DataError: a data file is missing or malformed.
        """

    def scores(self, result: TaskResult, lang: str) -> dict[str, float]:
        """The flat metrics (:attr:`metrics`) of one mteb result.

        By default each metric of :attr:`fields` is its mteb field in the ``default`` hf subset of
        :attr:`split`.

        Raises:
            RuntimeError: the result has no :attr:`split`.
        """
        row = scores_by_subset(result, self.split)["default"]
        return {metric: as_float(row[field], metric) for metric, field in self.fields.items()}

    def items(
        self, predictions: Mapping[str, Any], task: AbsTask, lang: str
    ) -> dict[str, dict[str, Any]]:
        """Per-item data of each metric, from mteb's saved predictions, for the paired bootstrap over test items.

        Args:
            predictions: the JSON mteb wrote to ``prediction_folder`` (hf subset -> split -> predictions).
            task: the evaluated mteb task (its data is reloaded for the gold labels).
            lang: FLORES-200 code of the evaluated language.

        Returns:
            ``{metric: {"statistic": name, "values": data}}`` for every metric of :attr:`metrics`: ``statistic``
            names a function of :data:`bootembed.evaluation.item_metrics.METRICS` and ``values`` its per-item
            data (JSON lists), so that the statistic over all items equals the task's score.

        Raises:
            NotImplementedError: the task has no per-item data (the report then gives no interval for it).
        """
        raise NotImplementedError(f"{self.name}: no per-item data for the bootstrap")


class ParallelTask(EvalTask):
    """A task over line-aligned target-language and English sentences (bitext mining, retrieval).

    :meth:`make` checks and subsamples the two sides (:func:`bootembed.evaluation.local.parallel_sides`) and
    builds :attr:`EvalTask.mteb_class` over :meth:`dataset`, with the :meth:`EvalTask.metadata` of
    :meth:`eval_langs`.

    Attributes:
        non_english: what needs a non-English target language, for the error (``"FLORES retrieval"``), or
            ``None`` when English is allowed.
    """

    non_english: ClassVar[str | None] = None

    @classmethod
    def make(
        cls,
        lang: str,
        target: Sequence[str],
        english: Sequence[str],
        *,
        limit: int | None = None,
        seed: int = 42,
    ) -> AbsTask:
        """The mteb task of this class on one language's line-aligned sentences.

        Args:
            lang: FLORES-200 code of the target language.
            target: Target-language sentences, line-aligned with ``english``.
            english: English sentences.
            limit: Keep at most this many aligned pairs (deterministic with ``seed``).
            seed: Seed for subsampling and for mteb.

        Returns:
            An mteb task with split :attr:`EvalTask.split` (hf subsets: see :meth:`dataset`).

        Raises:
            ValueError: If ``lang`` is no FLORES-200 code or is English where :attr:`non_english` is set, or
                the sides are empty or of different lengths.
        """
        langscript, tgt, eng = parallel_sides(
            cls.name, lang, target, english, limit=limit, seed=seed, non_english=cls.non_english
        )
        metadata = cls.metadata(lang, cls.eval_langs(lang, langscript), (lang, tgt, eng))
        return cls.mteb_class(metadata, lambda: cls.dataset(lang, tgt, eng), seed=seed)

    @classmethod
    def eval_langs(cls, lang: str, langscript: str) -> list[str] | dict[str, list[str]]:
        """mteb's languages of the task on ``lang`` (``langscript``: its mteb code); default: it and English."""
        return [langscript, flores_to_bcp47(ENGLISH)]

    @classmethod
    @abc.abstractmethod
    def dataset(cls, lang: str, target: list[str], english: list[str]) -> dict[str, Any]:
        """The in-memory data mteb evaluates (by hf subset or split) of the kept sentences."""


def bitext_items(neighbours: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per query sentence i of a line-aligned bitext: its gold match i and mteb's nearest neighbour (weighted F1)."""
    predicted = [int(n["corpus_id"]) for n in neighbours]
    return {"statistic": "weighted_f1", "values": [list(range(len(predicted))), predicted]}


def gold_column(task: AbsTask, subset: str, split: str, column: str) -> list[Any]:
    """Column ``column`` of the evaluated data (hf ``subset``, ``split``) of a local task, reloaded if mteb unloaded it."""
    if not getattr(task, "data_loaded", False) or task.dataset is None:
        task.load_data()
    return list(task.dataset[subset][split][column])


def split_predictions(predictions: Mapping[str, Any], subset: str, split: str) -> Any:
    """mteb's saved predictions of one hf subset and split.

    Raises:
        RuntimeError: the predictions lack them.
    """
    try:
        return predictions[subset][split]
    except KeyError as err:
        raise RuntimeError(
            f"mteb predictions have no {subset}/{split}; got subsets {sorted(predictions)}"
        ) from err


def scores_by_subset(result: TaskResult, split: str) -> dict[str, dict[str, Any]]:
    """mteb's score rows of ``split``, keyed by hf subset.

    Raises:
        RuntimeError: the result has no such split.
    """
    try:
        rows = result.scores[split]
    except KeyError as err:
        raise RuntimeError(
            f"mteb result of {result.task_name} has no split {split!r}; got {list(result.scores)}"
        ) from err
    return {row["hf_subset"]: row for row in rows}


def as_float(value: Any, what: str) -> float:
    """``float(value)``, with a warning when it is not finite."""
    out = float(value)
    if not math.isfinite(out):
        logger.warning("%s is not finite (%s)", what, out)
    return out
