"""Evaluate one sentence-transformers encoder folder on the local MTEB tasks of one language.

The protocol is the paper's (Basoz, Horne, Opper, "Bootstrapping Embeddings for Low Resource
Languages", arXiv 2603.01732, Section 5): SemRel 2024 STS, FLORES-200 bitext mining (both
directions) and cross-lingual retrieval, SIB-200 classification and Tatoeba bitext mining, all run
through ``mteb.evaluate`` on data read by :mod:`bootembed.data` (never from the Hugging Face Hub).

Example:
    >>> from bootembed.data import DataSourceConfig, DataSources
    >>> sources = DataSources(DataSourceConfig(mode="local", root="/path/to/data"))
    >>> metrics = evaluate_encoder(
    ...     "models/encoder", sources=sources, lang="hau_Latn", output_dir="metrics/mteb"
    ... )  # doctest: +SKIP
    >>> metrics["flores_bitext_f1_tgt2eng"]  # doctest: +SKIP
    0.42
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from bootembed.data.flores import load_flores
from bootembed.data.semrel import load_semrel, semrel_splits
from bootembed.data.sib200 import load_sib200
from bootembed.data.tatoeba import load_tatoeba
from bootembed.evaluation.tasks import (
    ENGLISH,
    make_flores_bitext_task,
    make_flores_retrieval_task,
    make_semrel_task,
    make_sib200_task,
    make_tatoeba_task,
)

if TYPE_CHECKING:
    from mteb.abstasks.abstask import AbsTask
    from mteb.models import SentenceTransformerEncoderWrapper
    from mteb.results import TaskResult

    from bootembed.data import DataSources

logger = logging.getLogger(__name__)

ALL_TASKS: tuple[str, ...] = ("semrel", "flores_bitext", "flores_retrieval", "sib200", "tatoeba")
"""Short names of the evaluation tasks, in the order they are run."""

_DOC_PROMPT_NAMES = ("document", "passage", "corpus")
# mteb task types whose inputs are all encoded like queries (symmetric tasks).
_SYMMETRIC_TASK_TYPES = ("STS", "BitextMining", "Classification")


def build_tasks(
    sources: DataSources,
    lang: str,
    tasks: Sequence[str] = ALL_TASKS,
    *,
    limit: int | None = None,
    seed: int = 42,
) -> dict[str, AbsTask]:
    """Load the local data of ``lang`` and build the requested mteb tasks.

    Args:
        sources: Where the data sets are read from.
        lang: FLORES-200 code of the evaluated language, e.g. ``"hau_Latn"``.
        tasks: Short task names, a subset of :data:`ALL_TASKS`.
        limit: If set, every task keeps at most ``limit`` items (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb.

    Returns:
        Mapping short task name -> mteb task, in :data:`ALL_TASKS` order. ``"semrel"`` is absent
        when the language has no SemRel ``test`` split and ``"tatoeba"`` when it has no Tatoeba
        set.

    Raises:
        ValueError: If ``tasks`` is empty or names an unknown task, or ``limit`` is not positive.
    """
    unknown = sorted(set(tasks) - set(ALL_TASKS))
    if unknown:
        raise ValueError(f"tasks: unknown task name(s) {unknown}; expected a subset of {ALL_TASKS}")
    if not tasks:
        raise ValueError(f"tasks: expected at least one of {ALL_TASKS}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit: expected a positive integer or None, got {limit!r}")

    wanted = [t for t in ALL_TASKS if t in set(tasks)]
    built: dict[str, AbsTask] = {}
    flores_cache: dict[str, list[str]] = {}

    def flores_devtest(code: str) -> list[str]:
        if code not in flores_cache:
            flores_cache[code] = load_flores(sources, code, "devtest")
        return flores_cache[code]

    for name in wanted:
        if name == "semrel":
            if "test" not in semrel_splits(sources, lang):
                logger.info("semrel: %s has no SemRel 2024 test split; skipping", lang)
                continue
            pairs = [
                (p.sentence1, p.sentence2, float(p.score))
                for p in load_semrel(sources, lang, "test")
            ]
            built[name] = make_semrel_task(lang, pairs, limit=limit, seed=seed)
        elif name == "flores_bitext":
            built[name] = make_flores_bitext_task(
                lang, flores_devtest(lang), flores_devtest(ENGLISH), limit=limit, seed=seed
            )
        elif name == "flores_retrieval":
            built[name] = make_flores_retrieval_task(
                lang, flores_devtest(lang), flores_devtest(ENGLISH), limit=limit, seed=seed
            )
        elif name == "sib200":
            train = [(ex.text, ex.category) for ex in load_sib200(sources, lang, "train")]
            test = [(ex.text, ex.category) for ex in load_sib200(sources, lang, "test")]
            built[name] = make_sib200_task(lang, train, test, limit=limit, seed=seed)
        elif name == "tatoeba":
            pair = load_tatoeba(sources, lang)
            if pair is None:
                logger.info("tatoeba: %s has no Tatoeba test set; skipping", lang)
                continue
            target, english = pair
            built[name] = make_tatoeba_task(lang, target, english, limit=limit, seed=seed)
    return built


def resolve_prompts(model_prompts: dict[str, str | None] | None) -> dict[str, str] | None:
    """Map a sentence-transformers ``prompts`` dict to mteb's prompt keys.

    E5-style models are trained with ``"query: "`` on queries and on both sides of symmetric
    tasks, and ``"passage: "`` on retrieval documents (Wang et al. 2022, "Text Embeddings by
    Weakly-Supervised Contrastive Pre-training", Section 4). mteb passes no prompt type for STS,
    bitext mining and classification, so the query prompt is registered under those task types;
    retrieval uses the ``"query"`` / ``"document"`` prompt types.

    Note that sentence-transformers >= 6 adds an empty ``"document"`` prompt to every model, so
    the document prompt is the first *non-empty* one of ``document``, ``passage``, ``corpus``.

    Args:
        model_prompts: ``SentenceTransformer.prompts`` (name -> prefix text), or ``None``.

    Returns:
        mteb ``model_prompts`` (keys ``query``, ``document``, ``STS``, ``BitextMining``,
        ``Classification``; only those with a non-empty prompt), or ``None`` if the model has no
        non-empty prompt.

    Example:
        >>> resolve_prompts({"query": "query: ", "document": "", "passage": "passage: "})["document"]
        'passage: '
    """
    prompts = {k: v for k, v in (model_prompts or {}).items() if v}
    query = prompts.get("query")
    document = next((prompts[k] for k in _DOC_PROMPT_NAMES if k in prompts), None)
    resolved: dict[str, str] = {}
    if query:
        resolved["query"] = query
        for task_type in _SYMMETRIC_TASK_TYPES:
            resolved[task_type] = query
    if document:
        resolved["document"] = document
    return resolved or None


def load_encoder(
    model_dir: str | Path, *, device: str | None = None
) -> SentenceTransformerEncoderWrapper:
    """Load a sentence-transformers folder (offline) and wrap it for mteb.

    The model's own prompts are translated by :func:`resolve_prompts`; the mteb model metadata is
    built locally (name ``local/<folder name>``, revision ``local``) so mteb never queries the Hub.

    Args:
        model_dir: Folder written by ``SentenceTransformer.save`` (holds ``modules.json``).
        device: Torch device; ``None`` lets sentence-transformers pick (CUDA if available).

    Returns:
        An mteb encoder wrapping the loaded model.

    Raises:
        FileNotFoundError: If ``model_dir`` does not exist or is not a directory.
        ValueError: If ``model_dir`` has no ``modules.json`` (not a sentence-transformers folder).
    """
    from mteb.models import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    path = Path(model_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"model_dir: {path} does not exist or is not a directory")
    if not (path / "modules.json").is_file():
        raise ValueError(
            f"model_dir: {path / 'modules.json'} is missing; expected a sentence-transformers "
            "folder written by SentenceTransformer.save"
        )
    model = SentenceTransformer(str(path), device=device, local_files_only=True)
    prompts = resolve_prompts(dict(model.prompts or {}))
    logger.info("Encoder %s: prompts for mteb %s", path, prompts)
    wrapper = SentenceTransformerEncoderWrapper(model, model_prompts=prompts)
    wrapper.mteb_model_meta = wrapper.mteb_model_meta.model_copy(
        update={"name": f"local/{path.resolve().name}", "revision": "local"}
    )
    return wrapper


def _write_result_atomically(result: TaskResult, output_dir: Path) -> Path:
    """Write mteb's JSON of one task result to ``output_dir/<task name>.json`` atomically."""
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{result.task_name}.json"
    fd, tmp = tempfile.mkstemp(dir=output_dir, prefix=f".{result.task_name}.", suffix=".tmp")
    os.close(fd)
    try:
        result.to_disk(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _scores_by_subset(result: TaskResult, split: str) -> dict[str, dict[str, Any]]:
    try:
        rows = result.scores[split]
    except KeyError as err:
        raise RuntimeError(
            f"mteb result of {result.task_name} has no split {split!r}; got {list(result.scores)}"
        ) from err
    return {row["hf_subset"]: row for row in rows}


def _as_float(value: Any, what: str) -> float:
    out = float(value)
    if not math.isfinite(out):
        logger.warning("%s is not finite (%s)", what, out)
    return out


def _flatten(name: str, result: TaskResult, lang: str) -> dict[str, float]:
    """Turn one mteb task result into the flat metric keys of :func:`evaluate_encoder`."""
    if name == "semrel":
        row = _scores_by_subset(result, "test")["default"]
        return {"semrel_spearman": _as_float(row["cosine_spearman"], "semrel_spearman")}
    if name == "flores_bitext":
        rows = _scores_by_subset(result, "devtest")
        return {
            "flores_bitext_f1_tgt2eng": _as_float(rows[f"{lang}-{ENGLISH}"]["f1"], "f1 tgt2eng"),
            "flores_bitext_f1_eng2tgt": _as_float(rows[f"{ENGLISH}-{lang}"]["f1"], "f1 eng2tgt"),
        }
    if name == "flores_retrieval":
        row = _scores_by_subset(result, "devtest")["default"]
        return {
            "flores_retrieval_recall_at_10": _as_float(row["recall_at_10"], "recall@10"),
            "flores_retrieval_ndcg_at_10": _as_float(row["ndcg_at_10"], "ndcg@10"),
        }
    if name == "sib200":
        row = _scores_by_subset(result, "test")["default"]
        return {"sib200_accuracy": _as_float(row["accuracy"], "sib200_accuracy")}
    if name == "tatoeba":
        row = _scores_by_subset(result, "test")["default"]
        return {"tatoeba_f1": _as_float(row["f1"], "tatoeba_f1")}
    raise ValueError(f"unknown task {name!r}")


def evaluate_encoder(
    model_dir: str | Path,
    *,
    sources: DataSources,
    lang: str,
    output_dir: str | Path,
    tasks: Sequence[str] = ALL_TASKS,
    batch_size: int = 32,
    limit: int | None = None,
    seed: int = 42,
) -> dict[str, float]:
    """Evaluate a sentence-transformers encoder on the local MTEB tasks of one language.

    Tasks (paper Section 5; all scores in [0, 1] except Spearman in [-1, 1], as mteb reports):

    - ``semrel``: SemRel 2024 ``test`` STS, Spearman of cosine similarity vs gold
      (``semrel_spearman``); skipped if the language has no SemRel test split.
    - ``flores_bitext``: FLORES-200 ``devtest`` bitext mining, weighted F1 in both directions
      (``flores_bitext_f1_tgt2eng``, ``flores_bitext_f1_eng2tgt``).
    - ``flores_retrieval``: target ``devtest`` sentences as queries against all English
      ``devtest`` sentences (``flores_retrieval_recall_at_10``, ``flores_retrieval_ndcg_at_10``).
    - ``sib200``: SIB-200 topic classification with mteb's logistic-regression probe fitted on
      the train split and scored on test (``sib200_accuracy``).
    - ``tatoeba``: Tatoeba target->English bitext mining F1 (``tatoeba_f1``); skipped if the
      language has no Tatoeba set.

    The query prompt of the model (e.g. E5's ``"query: "``) is used for symmetric tasks and
    retrieval queries, the passage/document prompt for the retrieval corpus; models without
    prompts are run without prefixes. mteb's result JSON of each task is written atomically to
    ``output_dir/<TaskName>.json``.

    Args:
        model_dir: sentence-transformers model folder.
        sources: Where the evaluation data are read from.
        lang: FLORES-200 code of the evaluated language (e.g. ``"hau_Latn"``), not English.
        output_dir: Folder for mteb's per-task result JSON files (created if needed).
        tasks: Subset of :data:`ALL_TASKS` to run.
        batch_size: Encoding batch size.
        limit: If set, subsample every task to at most ``limit`` items (deterministic with
            ``seed``), for smoke runs.
        seed: Seed for subsampling and for mteb (classifier undersampling, global RNGs).

    Returns:
        Flat metrics, e.g. ``{"semrel_spearman": 0.31, "flores_bitext_f1_tgt2eng": 0.12, ...}``;
        keys of skipped tasks are absent.

    Raises:
        ValueError: On an unknown task name, a non-positive ``limit`` or ``batch_size``, an
            English ``lang``, or a folder that is not a sentence-transformers model.
        FileNotFoundError: If ``model_dir`` or a required data file is missing.
    """
    import mteb

    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if lang == ENGLISH:
        raise ValueError(f"lang: expected a non-English FLORES-200 code, got {lang!r}")
    out_dir = Path(output_dir)
    task_map = build_tasks(sources, lang, tasks, limit=limit, seed=seed)
    if not task_map:
        logger.warning("No task to run for %s (requested %s)", lang, list(tasks))
        return {}
    encoder = load_encoder(model_dir)

    metrics: dict[str, float] = {}
    for name, task in tqdm(task_map.items(), desc=f"MTEB {lang}", unit="task"):
        start = time.monotonic()
        logger.info("Evaluating %s on %s (%s)", model_dir, task.metadata.name, lang)
        model_result = mteb.evaluate(
            encoder,
            task,
            cache=None,
            overwrite_strategy="always",
            encode_kwargs={"batch_size": batch_size},
            co2_tracker=False,
            raise_error=True,
            show_progress_bar=False,
        )
        if len(model_result.task_results) != 1:
            raise RuntimeError(
                f"mteb returned {len(model_result.task_results)} results for "
                f"{task.metadata.name}; exceptions: {model_result.exceptions}"
            )
        result = model_result.task_results[0]
        path = _write_result_atomically(result, out_dir)
        task_metrics = _flatten(name, result, lang)
        metrics.update(task_metrics)
        logger.info(
            "%s done in %.1fs: %s (written %s)", name, time.monotonic() - start, task_metrics, path
        )
    return metrics


__all__ = [
    "ALL_TASKS",
    "build_tasks",
    "evaluate_encoder",
    "load_encoder",
    "resolve_prompts",
]
