"""MTEB task definitions built from locally loaded data (no Hugging Face Hub access).

Every task here is an ordinary ``mteb`` 2.x task (``AbsTaskSTS``, ``AbsTaskBitextMining``,
``AbsTaskRetrieval``, ``AbsTaskClassification``) whose :class:`mteb.TaskMetadata` is built per
language at construction time and whose ``load_data`` installs in-memory data that the caller
already loaded (through :mod:`bootembed.data`) instead of calling ``datasets.load_dataset`` on a
Hub id. The evaluation protocol follows the paper "Bootstrapping Embeddings for Low Resource
Languages" (Basoz, Horne, Opper, arXiv 2603.01732), Section 5 (evaluation): SemRel 2024 STS,
FLORES-200 bitext mining and retrieval, SIB-200 classification and Tatoeba bitext mining.

Example:
    >>> task = make_flores_bitext_task("hau_Latn", ["Sannu"], ["Hello"])
    >>> task.metadata.hf_subsets
    ['hau_Latn-eng_Latn', 'eng_Latn-hau_Latn']
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
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

SEMREL_TASK_NAME = "LocalSemRel2024STS"
FLORES_BITEXT_TASK_NAME = "LocalFloresBitextMining"
FLORES_RETRIEVAL_TASK_NAME = "LocalFloresRetrieval"
SIB200_TASK_NAME = "LocalSIB200Classification"
TATOEBA_TASK_NAME = "LocalTatoebaBitextMining"

_SEMREL_BIBTEX = r"""@inproceedings{ousidhoum-etal-2024-semeval,
  title = {{S}em{E}val-2024 Task 1: Semantic Textual Relatedness for {A}frican and {A}sian Languages},
  author = {Ousidhoum, Nedjma and others},
  booktitle = {Proceedings of the 18th International Workshop on Semantic Evaluation (SemEval-2024)},
  year = {2024},
}"""
_FLORES_BIBTEX = r"""@article{nllb2022,
  title = {No Language Left Behind: Scaling Human-Centered Machine Translation},
  author = {{NLLB Team} and others},
  journal = {arXiv preprint arXiv:2207.04672},
  year = {2022},
}"""
_SIB_BIBTEX = r"""@inproceedings{adelani-etal-2024-sib,
  title = {{SIB}-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in 200+ Languages and Dialects},
  author = {Adelani, David Ifeoluwa and others},
  booktitle = {Proceedings of EACL 2024 (Volume 1: Long Papers)},
  year = {2024},
}"""
_TATOEBA_BIBTEX = r"""@article{artetxe2019massively,
  title = {Massively Multilingual Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond},
  author = {Artetxe, Mikel and Schwenk, Holger},
  journal = {Transactions of the Association for Computational Linguistics},
  year = {2019},
}"""


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


def _check_parallel(name: str, target: Sequence[str], english: Sequence[str]) -> None:
    if len(target) != len(english):
        raise ValueError(
            f"{name}: target and English sides must be line-aligned, got {len(target)} target "
            f"and {len(english)} English sentences"
        )
    if not target:
        raise ValueError(f"{name}: no sentence pairs to evaluate on")


class _LocalDataMixin:
    """Per-instance metadata plus ``load_data`` that installs pre-built data.

    Must come first in the base list so that its ``load_data``/``unload_data`` override the
    Hub-loading ones of the mteb abstract task.
    """

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

    min_score = 0
    max_score = 1


class LocalBitextMiningTask(_LocalDataMixin, AbsTaskBitextMining):
    """Bitext mining over local line-aligned sentences (``sentence1`` queries ``sentence2``)."""


class LocalParallelBitextMiningTask(_LocalDataMixin, AbsTaskBitextMining):
    """Bitext mining over a multi-way parallel split; every hf subset is one direction ``a-b``."""

    parallel_subsets = True


class LocalRetrievalTask(_LocalDataMixin, AbsTaskRetrieval):
    """Retrieval task over a local corpus, queries and relevance judgements."""


class LocalClassificationTask(_LocalDataMixin, AbsTaskClassification):
    """Classification with mteb's logistic-regression probe (train split fits, test scores)."""


def make_semrel_task(
    lang: str,
    pairs: Sequence[tuple[str, str, float]],
    *,
    limit: int | None = None,
    seed: int = 42,
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

    metadata = TaskMetadata(
        name=SEMREL_TASK_NAME,
        description=f"SemEval-2024 Task 1 semantic textual relatedness, {lang} test split (local copy).",
        reference="https://aclanthology.org/2024.semeval-1.277/",
        dataset={"path": "local/semrel2024", "revision": _content_revision(lang, rows)},
        type="STS",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=[langscript],
        main_score="cosine_spearman",
        license="not specified",
        bibtex_citation=_SEMREL_BIBTEX,
    )
    return LocalSTSTask(metadata, build, seed=seed)


def make_flores_bitext_task(
    lang: str,
    target: Sequence[str],
    english: Sequence[str],
    *,
    limit: int | None = None,
    seed: int = 42,
) -> LocalParallelBitextMiningTask:
    """FLORES-200 ``devtest`` bitext mining in both directions (target->English, English->target).

    Each sentence of the query side is matched to its nearest neighbour (model similarity, cosine
    for sentence-transformers) on the other side; mteb reports weighted precision/recall/F1 and
    accuracy of the matches. The two directions are the hf subsets ``"{lang}-eng_Latn"`` and
    ``"eng_Latn-{lang}"``.

    Args:
        lang: FLORES-200 code of the target language (not ``eng_Latn``).
        target: Target-language sentences, line-aligned with ``english``.
        english: English sentences.
        limit: Keep at most this many aligned pairs (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb.

    Returns:
        An mteb task with split ``"devtest"``.

    Raises:
        ValueError: If ``lang`` is English, or the sides are empty or of different lengths.
    """
    langscript = flores_to_bcp47(lang)
    if lang == ENGLISH:
        raise ValueError("lang: FLORES bitext mining needs a non-English target language")
    _check_parallel(f"flores_bitext ({lang})", target, english)
    keep = subsample_indices(len(target), limit, seed)
    tgt = [target[i] for i in keep]
    eng = [english[i] for i in keep]

    def build() -> dict[str, Dataset]:
        return {"devtest": Dataset.from_dict({lang: tgt, ENGLISH: eng})}

    eng_script = flores_to_bcp47(ENGLISH)
    metadata = TaskMetadata(
        name=FLORES_BITEXT_TASK_NAME,
        description=f"FLORES-200 devtest bitext mining {lang}<->{ENGLISH} (local copy).",
        reference="https://github.com/facebookresearch/flores/tree/main/flores200",
        dataset={"path": "local/flores200", "revision": _content_revision(lang, tgt, eng)},
        type="BitextMining",
        category="t2t",
        modalities=["text"],
        eval_splits=["devtest"],
        eval_langs={
            f"{lang}-{ENGLISH}": [langscript, eng_script],
            f"{ENGLISH}-{lang}": [eng_script, langscript],
        },
        main_score="f1",
        license="cc-by-sa-4.0",
        bibtex_citation=_FLORES_BIBTEX,
    )
    return LocalParallelBitextMiningTask(metadata, build, seed=seed)


def make_flores_retrieval_task(
    lang: str,
    target: Sequence[str],
    english: Sequence[str],
    *,
    limit: int | None = None,
    seed: int = 42,
) -> LocalRetrievalTask:
    """FLORES-200 ``devtest`` cross-lingual retrieval: target queries, English corpus.

    Query ``q{i}`` is target sentence *i*; the corpus holds every (kept) English sentence as
    ``d{i}``; the only relevant document of ``q{i}`` is its translation ``d{i}``. Queries are
    encoded with the query prompt and documents with the passage/document prompt; mteb reports
    nDCG/MAP/recall/precision/MRR at k in (1, 3, 5, 10, 20, 100, 1000).

    Args:
        lang: FLORES-200 code of the target language (not ``eng_Latn``).
        target: Target-language sentences, line-aligned with ``english``.
        english: English sentences.
        limit: Keep at most this many aligned pairs (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb.

    Returns:
        An mteb task with split ``"devtest"`` and subset ``"default"``.

    Raises:
        ValueError: If ``lang`` is English, or the sides are empty or of different lengths.
    """
    langscript = flores_to_bcp47(lang)
    if lang == ENGLISH:
        raise ValueError("lang: FLORES retrieval needs a non-English target language")
    _check_parallel(f"flores_retrieval ({lang})", target, english)
    keep = subsample_indices(len(target), limit, seed)
    tgt = [target[i] for i in keep]
    eng = [english[i] for i in keep]

    def build() -> dict[str, dict[str, Any]]:
        ids = list(range(len(tgt)))
        queries = Dataset.from_dict({"id": [f"q{i}" for i in ids], "text": tgt})
        corpus = Dataset.from_dict({"id": [f"d{i}" for i in ids], "text": eng})
        relevant = {f"q{i}": {f"d{i}": 1} for i in ids}
        split = {
            "corpus": corpus,
            "queries": queries,
            "relevant_docs": relevant,
            "top_ranked": None,
        }
        return {"default": {"devtest": split}}

    metadata = TaskMetadata(
        name=FLORES_RETRIEVAL_TASK_NAME,
        description=(
            f"FLORES-200 devtest retrieval: {lang} queries against the English devtest corpus "
            "(relevant document = the translation; local copy)."
        ),
        reference="https://github.com/facebookresearch/flores/tree/main/flores200",
        dataset={"path": "local/flores200", "revision": _content_revision(lang, tgt, eng)},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["devtest"],
        eval_langs=[langscript, flores_to_bcp47(ENGLISH)],
        main_score="ndcg_at_10",
        license="cc-by-sa-4.0",
        bibtex_citation=_FLORES_BIBTEX,
    )
    return LocalRetrievalTask(metadata, build, seed=seed)


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

    metadata = TaskMetadata(
        name=SIB200_TASK_NAME,
        description=f"SIB-200 topic classification (7 labels), {lang} (local copy).",
        reference="https://arxiv.org/abs/2309.07445",
        dataset={"path": "local/sib200", "revision": _content_revision(lang, tr, te)},
        type="Classification",
        category="t2c",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=[langscript],
        main_score="accuracy",
        license="cc-by-sa-4.0",
        bibtex_citation=_SIB_BIBTEX,
    )
    task = LocalClassificationTask(metadata, build, seed=seed)
    if samples_per_label is not None:
        task.samples_per_label = samples_per_label
    if n_experiments is not None:
        task.n_experiments = n_experiments
    return task


def make_tatoeba_task(
    lang: str,
    target: Sequence[str],
    english: Sequence[str],
    *,
    limit: int | None = None,
    seed: int = 42,
) -> LocalBitextMiningTask:
    """Tatoeba (LASER v1 test set) bitext mining, target->English, as in mteb's Tatoeba task.

    Args:
        lang: FLORES-200 code of the target language.
        target: Target-language sentences (``sentence1``, the queries).
        english: Line-aligned English sentences (``sentence2``, searched).
        limit: Keep at most this many aligned pairs (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb.

    Returns:
        An mteb task with split ``"test"`` and subset ``"default"``.

    Raises:
        ValueError: If the sides are empty or of different lengths.
    """
    langscript = flores_to_bcp47(lang)
    _check_parallel(f"tatoeba ({lang})", target, english)
    keep = subsample_indices(len(target), limit, seed)
    tgt = [target[i] for i in keep]
    eng = [english[i] for i in keep]

    def build() -> dict[str, DatasetDict]:
        ds = Dataset.from_dict({"sentence1": tgt, "sentence2": eng})
        return {"default": DatasetDict({"test": ds})}

    metadata = TaskMetadata(
        name=TATOEBA_TASK_NAME,
        description=f"Tatoeba bitext mining {lang}->{ENGLISH} (LASER v1 test set, local copy).",
        reference="https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1",
        dataset={"path": "local/tatoeba", "revision": _content_revision(lang, tgt, eng)},
        type="BitextMining",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=[langscript, flores_to_bcp47(ENGLISH)],
        main_score="f1",
        license="cc-by-2.0",
        bibtex_citation=_TATOEBA_BIBTEX,
    )
    return LocalBitextMiningTask(metadata, build, seed=seed)


__all__ = [
    "ENGLISH",
    "FLORES_BITEXT_TASK_NAME",
    "FLORES_RETRIEVAL_TASK_NAME",
    "SEMREL_TASK_NAME",
    "SIB200_TASK_NAME",
    "TATOEBA_TASK_NAME",
    "LocalBitextMiningTask",
    "LocalClassificationTask",
    "LocalParallelBitextMiningTask",
    "LocalRetrievalTask",
    "LocalSTSTask",
    "flores_to_bcp47",
    "make_flores_bitext_task",
    "make_flores_retrieval_task",
    "make_semrel_task",
    "make_sib200_task",
    "make_tatoeba_task",
    "subsample_indices",
]
