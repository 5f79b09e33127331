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

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from bootembed.evaluation.local import ENGLISH
from bootembed.evaluation.official import build_official, official_scores
from bootembed.evaluation.tasks import TASKS
from bootembed.hardware import torch_dtype
from bootembed.io import atomic_file

if TYPE_CHECKING:
    from mteb.abstasks.abstask import AbsTask
    from mteb.models import SentenceTransformerEncoderWrapper
    from mteb.results import TaskResult

    from bootembed.data import DataSources

logger = logging.getLogger(__name__)

ALL_TASKS: tuple[str, ...] = tuple(t.name for t in TASKS.ordered())
"""Names of the registered evaluation tasks (:data:`bootembed.evaluation.tasks.TASKS`), in run order."""

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
) -> tuple[dict[str, AbsTask], dict[str, str]]:
    """Load the local data of ``lang`` and build the requested mteb tasks.

    Args:
        sources: Where the data sets are read from.
        lang: FLORES-200 code of the evaluated language, e.g. ``"hau_Latn"``.
        tasks: Task names (modules of :mod:`bootembed.evaluation.tasks`).
        limit: If set, every task keeps at most ``limit`` items (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb.

    Returns:
        ``(built, skipped)``: task name -> mteb task, in registry order, and task name -> why the language has
        no data for it (e.g. ``"Tatoeba has no test set for hau_Latn"``).

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
    built: dict[str, AbsTask] = {}
    skipped: dict[str, str] = {}
    for task in TASKS.ordered():
        if task.name not in set(tasks):
            continue
        reason = task.unavailable(sources, lang)
        if reason is not None:
            logger.info("%s: skipping (%s)", task.name, reason)
            skipped[task.name] = reason
            continue
        built[task.name] = task.build(sources, lang, limit=limit, seed=seed)
    return built, skipped


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
    model_dir: str | Path, *, device: str | None = None, dtype: str = "float32"
) -> SentenceTransformerEncoderWrapper:
    """Load a sentence-transformers folder (offline) and wrap it for mteb.

    The model's own prompts are translated by :func:`resolve_prompts`; the mteb model metadata is
    built locally (name ``local/<folder name>``, revision ``local``) so mteb never queries the Hub.

    Args:
        model_dir: Folder written by ``SentenceTransformer.save`` (holds ``modules.json``).
        device: Torch device; ``None`` lets sentence-transformers pick (CUDA if available).
        dtype: ``"float32"`` or ``"bfloat16"`` (the encoding dtype of :func:`bootembed.hardware.resolve_dtype`).

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
    if dtype != "float32":
        model = model.to(torch_dtype(dtype))
    prompts = resolve_prompts(dict(model.prompts or {}))
    logger.info("Encoder %s: prompts for mteb %s", path, prompts)
    wrapper = SentenceTransformerEncoderWrapper(model, model_prompts=prompts)
    wrapper.mteb_model_meta = wrapper.mteb_model_meta.model_copy(
        update={"name": f"local/{path.resolve().name}", "revision": "local"}
    )
    return wrapper


def _write_result_atomically(result: TaskResult, output_dir: Path) -> Path:
    """Write mteb's JSON of one task result to ``output_dir/<task name>.json`` atomically."""
    target = output_dir / f"{result.task_name}.json"
    with atomic_file(target) as tmp:
        result.to_disk(tmp)
    return target


def _run_mteb(
    encoder: SentenceTransformerEncoderWrapper, task: AbsTask, batch_size: int, predictions: Path
) -> TaskResult:
    """``mteb.evaluate`` of one task (no cache, nothing reused), its one result.

    Raises:
        RuntimeError: mteb returned no result (its exceptions in the message).
    """
    import mteb

    model_result = mteb.evaluate(
        encoder,
        task,
        cache=None,
        overwrite_strategy="always",
        encode_kwargs={"batch_size": batch_size},
        co2_tracker=False,
        raise_error=True,
        show_progress_bar=False,
        prediction_folder=predictions,
    )
    if len(model_result.task_results) != 1:
        raise RuntimeError(
            f"mteb returned {len(model_result.task_results)} results for "
            f"{task.metadata.name}; exceptions: {model_result.exceptions}"
        )
    return model_result.task_results[0]


#: File of the per-item data in an evaluation's results folder (:func:`evaluate_encoder`).
ITEMS_FILE = "items.json"


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate_encoder` measured.

    Attributes:
        scores: flat metrics, e.g. ``{"semrel_spearman": 0.31, "flores_bitext_f1_tgt2eng": 0.82, ...}``.
        skipped: task name -> why the language has no data for it.
        seconds: task name -> wall seconds of its evaluation.
        items: metric -> per-item data (:meth:`bootembed.evaluation.tasks.base.EvalTask.items`), for the metrics
            whose task has it.
        item_check: metric -> |statistic of the per-item data over all items - mteb's score| (0 up to rounding).
    """

    scores: dict[str, float]
    skipped: dict[str, str]
    seconds: dict[str, float]
    items: dict[str, dict] = field(default_factory=dict)
    item_check: dict[str, float] = field(default_factory=dict)


def _task_items(
    name: str, task: AbsTask, lang: str, prediction_folder: Path, scores: dict[str, float]
) -> tuple[dict[str, dict], dict[str, float]]:
    """The per-item data of one evaluated task from mteb's predictions file, and its check against the scores.

    Raises:
        RuntimeError: the per-item data do not reproduce mteb's score (difference > 1e-4).
    """
    import numpy as np

    from bootembed.evaluation.item_metrics import item_data

    path = prediction_folder / f"{task.metadata.name}_predictions.json"
    predictions = json.loads(path.read_text(encoding="utf-8"))
    try:
        items = TASKS.get(name).items(predictions, task, lang)
    except NotImplementedError as exc:
        logger.warning("%s", exc)
        return {}, {}
    check = {}
    for metric, entry in items.items():
        statistic, data, n = item_data(entry)
        difference = abs(statistic(data, np.arange(n)) - scores[metric])
        if difference > 1e-4:
            raise RuntimeError(
                f"{name}: per-item {metric} over all {n} items differs from mteb's score by {difference:.6f}"
            )
        check[metric] = round(difference, 8)
    return items, check


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
    dtype: str = "float32",
    mteb_tasks: Sequence[str] = (),
    mteb_data: Mapping[str, Path] | None = None,
) -> EvaluationResult:
    """Evaluate a sentence-transformers encoder on the local MTEB tasks of one language.

    Protocol of arXiv 2603.01732, Sec. 5; every task is a module of :mod:`bootembed.evaluation.tasks` (SemRel
    2024 STS Spearman, FLORES-200 ``devtest`` bitext mining F1 both directions and retrieval recall@10 /
    nDCG@10, SIB-200 accuracy, Tatoeba F1), run through ``mteb.evaluate``. A task for which the language has no
    data is skipped and its reason returned.

    The query prompt of the model (e.g. E5's ``"query: "``) is used for symmetric tasks and retrieval queries, the
    passage/document prompt for the retrieval corpus; models without prompts are run without prefixes. mteb's
    result JSON of each task is written atomically to ``output_dir/<TaskName>.json``, and the per-item data of
    every metric (from mteb's ``prediction_folder``; :meth:`bootembed.evaluation.tasks.base.EvalTask.items`) to
    ``output_dir/items.json``, checked to reproduce mteb's scores, for the paired bootstrap of the report.

    Args:
        model_dir: sentence-transformers model folder.
        sources: Where the evaluation data are read from.
        lang: FLORES-200 code of the evaluated language (e.g. ``"hau_Latn"``), not English.
        output_dir: Folder for mteb's per-task result JSON files (created if needed).
        tasks: Task names to run.
        batch_size: Encoding batch size.
        limit: If set, subsample every task to at most ``limit`` items (deterministic with ``seed``).
        seed: Seed for subsampling and for mteb (classifier undersampling, global RNGs).
        dtype: Encoding dtype (``"float32"`` or ``"bfloat16"``).
        mteb_tasks: official mteb task names, run after the local tasks on the language's subsets
            (:mod:`bootembed.evaluation.official`; result JSON in ``output_dir``, scores as
            ``<TaskName>_<main score>``, no per-item data); a task without a subset of ``lang`` is skipped.
        mteb_data: task name -> local copy of its Hub dataset, for offline use.

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        ValueError: On an unknown task name, a non-positive ``limit`` or ``batch_size``, an English ``lang``, a
            folder that is not a sentence-transformers model, or when the language has data for none of the
            requested tasks (never an empty success).
        FileNotFoundError: If ``model_dir`` or a required data file is missing.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if lang == ENGLISH:
        raise ValueError(f"lang: expected a non-English FLORES-200 code, got {lang!r}")
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task_map, skipped = build_tasks(sources, lang, tasks, limit=limit, seed=seed)
    official, official_skipped = build_official(mteb_tasks, lang, mteb_data or {})
    skipped.update(official_skipped)
    if not task_map:
        raise ValueError(
            f"evaluate.tasks: {lang} has data for none of {list(tasks)} ({'; '.join(skipped.values())})"
        )
    encoder = load_encoder(model_dir, dtype=dtype)

    metrics: dict[str, float] = {}
    seconds: dict[str, float] = {}
    items: dict[str, dict] = {}
    item_check: dict[str, float] = {}
    predictions_dir = Path(tempfile.mkdtemp(prefix=".predictions-", dir=out_dir))
    for name, task in tqdm(task_map.items(), desc=f"MTEB {lang}", unit="task"):
        start = time.monotonic()
        logger.info("Evaluating %s on %s (%s)", model_dir, task.metadata.name, lang)
        model = encoder
        if TASKS.get(name).reuse_embeddings:
            from mteb.models.cache_wrappers import CachedEmbeddingWrapper

            model = CachedEmbeddingWrapper(encoder, predictions_dir / f"cache-{name}")
        result = _run_mteb(model, task, batch_size, predictions_dir)
        path = _write_result_atomically(result, out_dir)
        task_metrics = TASKS.get(name).scores(result, lang)
        metrics.update(task_metrics)
        task_items, task_check = _task_items(name, task, lang, predictions_dir, task_metrics)
        items.update(task_items)
        item_check.update(task_check)
        seconds[name] = round(time.monotonic() - start, 1)
        logger.info("%s done in %.1fs: %s (written %s)", name, seconds[name], task_metrics, path)
    for name, task in official.items():
        start = time.monotonic()
        logger.info("Evaluating %s on the official mteb task %s (%s)", model_dir, name, lang)
        result = _run_mteb(encoder, task, batch_size, predictions_dir)
        path = _write_result_atomically(result, out_dir)
        task_metrics = official_scores(result, task.metadata.main_score)
        metrics.update(task_metrics)
        seconds[name] = round(time.monotonic() - start, 1)
        logger.info("%s done in %.1fs: %s (written %s)", name, seconds[name], task_metrics, path)
    shutil.rmtree(predictions_dir, ignore_errors=True)
    with atomic_file(out_dir / ITEMS_FILE) as tmp:
        tmp.write_text(json.dumps({"language": lang, "items": items}), encoding="utf-8")
    return EvaluationResult(
        scores=metrics, skipped=skipped, seconds=seconds, items=items, item_check=item_check
    )


__all__ = [
    "ALL_TASKS",
    "ITEMS_FILE",
    "EvaluationResult",
    "build_tasks",
    "evaluate_encoder",
    "load_encoder",
    "resolve_prompts",
]
