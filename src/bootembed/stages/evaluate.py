"""The ``evaluate`` stages: MTEB tasks on local data for one encoder and one language."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bootembed.evaluation.runner import evaluate_encoder
from bootembed.io import atomic_dir
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, data_sources, language_stage
from bootembed.stages.encoding import encoding_dtype

__all__ = ["run"]


def _evaluate(
    request: LanguageRequest,
    *,
    model_dir: Path,
    name: str,
    results_dir: Path,
    train_seed: int | None = None,
    tasks: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Evaluate ``model_dir`` on ``evaluate.tasks`` (or on ``tasks`` when given: the SWIM-IR retrievers' own task)
    and the official ``evaluate.mteb_tasks`` (a relative ``evaluate.mteb_data`` folder is read against the params
    file's folder); mteb's result files and the per-item data (``items.json``) go to ``results_dir`` (atomically).
    ``train_seed``: the encoder's training seed, recorded; the evaluation protocol (subsamples, probe seeds) uses
    the params ``seed`` for every encoder, so the bootstrap over items is paired.

    A task for which the language has no data is listed under ``skipped`` with its reason; a language with data
    for none of the tasks is an error, never an empty success.
    """
    params, language = request.params, request.language
    sources = data_sources(params, request.params_path)
    e = params.evaluate
    start = time.perf_counter()
    decision = encoding_dtype(params, model_dir, sources, language)
    with atomic_dir(results_dir) as tmp:
        result = evaluate_encoder(
            model_dir,
            sources=sources,
            lang=language,
            output_dir=tmp,
            tasks=tasks or e.tasks,
            batch_size=e.batch_size,
            limit=e.limit,
            seed=params.seed,
            dtype=decision.dtype,
            mteb_tasks=e.mteb_tasks,
            mteb_data={
                name: _resolve(folder, request.params_path) for name, folder in e.mteb_data.items()
            },
        )
    return {
        "language": language,
        "model": name,
        "train_seed": train_seed,
        "tasks": list(tasks or e.tasks),
        "limit": e.limit,
        "scores": {k: round(v, 4) for k, v in result.scores.items()},
        "items": {
            k: len(v["values"][0]) if v["statistic"] != "mean" else len(v["values"])
            for k, v in result.items.items()
        },
        "item_check": result.item_check,
        "skipped": result.skipped,
        "task_seconds": result.seconds,
        "seconds": round(time.perf_counter() - start, 1),
        **record(seed=params.seed, dtypes=[decision]),
    }


def _resolve(folder: str, params_path: Path) -> Path:
    """``evaluate.mteb_data`` folder: a relative one is read against the params file's folder (as ``data.root``)."""
    path = Path(folder).expanduser()
    return path if path.is_absolute() else Path(params_path).resolve().parent / path


run = language_stage(_evaluate)
