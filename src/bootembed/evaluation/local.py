"""Shared parts of the local MTEB tasks (no Hugging Face Hub access): task classes, metadata, subsampling.

Every task here is an ordinary ``mteb`` 2.x task (``AbsTaskSTS``, ``AbsTaskBitextMining``,
``AbsTaskRetrieval``, ``AbsTaskClassification``) whose :class:`mteb.TaskMetadata` is built per
language at construction time and whose ``load_data`` installs in-memory data that the caller
already loaded (through :mod:`bootembed.data`) instead of calling ``datasets.load_dataset`` on a
Hub id. The evaluation protocol follows the paper "Bootstrapping Embeddings for Low Resource
Languages" (Basoz, Horne, Opper, arXiv 2603.01732), Section 5 (evaluation): SemRel 2024 STS,
FLORES-200 bitext mining and retrieval, SIB-200 classification and Tatoeba bitext mining.

Each evaluation task is one module of :mod:`bootembed.evaluation.tasks`; this module holds what they share.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from mteb.abstasks import (
    AbsTaskBitextMining,
    AbsTaskClassification,
    AbsTaskRetrieval,
    AbsTaskSTS,
)
from mteb.abstasks.task_metadata import TaskMetadata

logger = logging.getLogger(__name__)

ENGLISH = "eng_Latn"
"""FLORES-200 code of English, the pivot language of all cross-lingual tasks."""


def flores_to_bcp47(lang: str) -> str:
    """Convert a FLORES-200 code (``hau_Latn``) to mteb's ``{iso639-3}-{script}`` form.

    Args:
        lang: FLORES-200 code: three lowercase letters, ``_``, four-letter script code.

    Returns:
        The code with ``-`` as separator, e.g. ``"hau-Latn"``.

    Raises:
        ValueError: If ``lang`` is not of the form ``xxx_Yyyy``.
    """
    parts = lang.split("_")
    if (
        len(parts) != 2
        or len(parts[0]) != 3
        or not parts[0].isalpha()
        or not parts[0].islower()
        or len(parts[1]) != 4
        or not parts[1].isalpha()
        or not parts[1][0].isupper()
    ):
        raise ValueError(
            f"lang: expected a FLORES-200 code like 'hau_Latn' (iso639-3 + '_' + script), got {lang!r}"
        )
    return f"{parts[0]}-{parts[1]}"


def subsample_indices(n: int, limit: int | None, seed: int) -> list[int]:
    """Pick a deterministic subset of ``range(n)`` of size at most ``limit``.

    Args:
        n: Number of items available (>= 0).
        limit: Maximum number of items to keep; ``None`` keeps all.
        seed: Seed of the numpy generator that draws the subset.

    Returns:
        Sorted list of ``min(n, limit)`` distinct indices (all of ``range(n)`` if ``limit`` is
        ``None`` or ``>= n``), so the original order of the kept items is preserved.

    Raises:
        ValueError: If ``limit`` is smaller than 1.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit: expected a positive integer or None, got {limit!r}")
    if limit is None or limit >= n:
        return list(range(n))
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n, size=limit, replace=False))


def _content_revision(*payload: Any) -> str:
    """Short SHA-1 of the task data, recorded as the mteb dataset revision (provenance)."""
    digest = hashlib.sha1(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:12]


def check_parallel(name: str, target: Sequence[str], english: Sequence[str]) -> None:
    """Check that two sides are line-aligned and not empty.

    Args:
        name: What the sides are for, at the start of the error message (``"tatoeba (afr_Latn)"``).
        target: Target-language sentences.
        english: English sentences, line-aligned with ``target``.

    Raises:
        ValueError: If the sides differ in length or are empty.
    """
    if len(target) != len(english):
        raise ValueError(
            f"{name}: target and English sides must be line-aligned, got {len(target)} target "
            f"and {len(english)} English sentences"
        )
    if not target:
        raise ValueError(f"{name}: no sentence pairs to evaluate on")


def parallel_sides(
    task: str,
    lang: str,
    target: Sequence[str],
    english: Sequence[str],
    *,
    limit: int | None,
    seed: int,
    non_english: str | None = None,
) -> tuple[str, list[str], list[str]]:
    """The checked, subsampled sides of a target->English parallel task.

    Args:
        task: Task name for error messages (``"flores_bitext"``).
        lang: FLORES-200 code of the target language.
        target: Target-language sentences, line-aligned with ``english``.
        english: English sentences.
        limit: Keep at most this many aligned pairs (:func:`subsample_indices` with ``seed``).
        seed: Seed of the subsample.
        non_english: If set, ``lang`` must not be English; what needs that, for the message
            (``"FLORES retrieval"``).

    Returns:
        ``(mteb language code of lang, kept target sentences, kept English sentences)``, the kept
        pairs in their original order.

    Raises:
        ValueError: If ``lang`` is no FLORES-200 code, is English while ``non_english`` is set,
            the sides are empty or of different lengths, or ``limit`` is below 1.
    """
    langscript = flores_to_bcp47(lang)
    if non_english is not None and lang == ENGLISH:
        raise ValueError(f"lang: {non_english} needs a non-English target language")
    check_parallel(f"{task} ({lang})", target, english)
    keep = subsample_indices(len(target), limit, seed)
    return langscript, [target[i] for i in keep], [english[i] for i in keep]


class _LocalDataMixin:
    """Per-instance metadata plus ``load_data`` that installs pre-built data.

    Must come first in the base list so that its ``load_data``/``unload_data`` override the
    Hub-loading ones of the mteb abstract task.

    Attributes:
        mteb_type: the mteb task type of the class (``TaskMetadata.type``).
    """

    mteb_type: ClassVar[str]
    metadata: TaskMetadata
    dataset: Any
    data_loaded: bool

    def __init__(
        self, metadata: TaskMetadata, build: Callable[[], Any], *, seed: int = 42, **kwargs: Any
    ) -> None:
        self.metadata = metadata
        self._build = build
        super().__init__(seed=seed, **kwargs)  # type: ignore[call-arg]

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Install the in-memory data as ``self.dataset`` (never touches the network)."""
        if self.data_loaded:
            return
        self.dataset = self._build()
        self.data_loaded = True

    def unload_data(self) -> None:
        """Drop the data but keep the per-instance metadata (mteb's version would delete it)."""
        self.dataset = None
        self.data_loaded = False


class LocalSTSTask(_LocalDataMixin, AbsTaskSTS):
    """STS task over local sentence pairs with gold scores in [0, 1] (SemRel 2024 scale)."""

    mteb_type = "STS"
    min_score = 0
    max_score = 1


class LocalBitextMiningTask(_LocalDataMixin, AbsTaskBitextMining):
    """Bitext mining over local line-aligned sentences (``sentence1`` queries ``sentence2``)."""

    mteb_type = "BitextMining"


class LocalParallelBitextMiningTask(_LocalDataMixin, AbsTaskBitextMining):
    """Bitext mining over a multi-way parallel split; every hf subset is one direction ``a-b``."""

    mteb_type = "BitextMining"
    parallel_subsets = True


class LocalRetrievalTask(_LocalDataMixin, AbsTaskRetrieval):
    """Retrieval task over a local corpus, queries and relevance judgements."""

    mteb_type = "Retrieval"


class LocalClassificationTask(_LocalDataMixin, AbsTaskClassification):
    """Classification with mteb's logistic-regression probe (train split fits, test scores)."""

    mteb_type = "Classification"


#: Any of the local mteb task classes above.
LocalTask = (
    LocalSTSTask
    | LocalBitextMiningTask
    | LocalParallelBitextMiningTask
    | LocalRetrievalTask
    | LocalClassificationTask
)


def local_metadata(
    *,
    name: str,
    description: str,
    reference: str,
    path: str,
    revision_payload: tuple[Any, ...],
    task_type: str,
    category: str,
    eval_splits: list[str],
    eval_langs: list[str] | Mapping[str, list[str]],
    main_score: str,
    license: str,
    bibtex: str,
) -> TaskMetadata:
    """The mteb :class:`TaskMetadata` of a task built on local data.

    The dataset revision is a digest of the task's data (``revision_payload``), so results record exactly which
    items were evaluated; the dataset path is ``local/<name>`` and is never fetched.
    """
    return TaskMetadata(
        name=name,
        description=description,
        reference=reference,
        dataset={"path": path, "revision": _content_revision(*revision_payload)},
        type=task_type,
        category=category,
        modalities=["text"],
        eval_splits=eval_splits,
        eval_langs=eval_langs,
        main_score=main_score,
        license=license,
        bibtex_citation=bibtex,
    )


__all__ = [
    "ENGLISH",
    "LocalBitextMiningTask",
    "LocalClassificationTask",
    "LocalParallelBitextMiningTask",
    "LocalRetrievalTask",
    "LocalSTSTask",
    "LocalTask",
    "check_parallel",
    "flores_to_bcp47",
    "local_metadata",
    "parallel_sides",
    "subsample_indices",
]
