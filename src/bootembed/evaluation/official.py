"""Official MTEB tasks by name (``evaluate.mteb_tasks``), beside the local tasks of :mod:`bootembed.evaluation.tasks`.

A user with the Hugging Face Hub lists any mteb task (``SemRel24STS``, ``AfriSentiClassification``,
``MasakhaNEWSClassification``, ``BelebeleRetrieval``, ...); the evaluation stage builds it with ``mteb.get_task``
restricted to the evaluated language's subsets (``hau-Latn``), runs it with ``mteb.evaluate`` like the local tasks,
writes mteb's result JSON to the same results folder and its main score to the same scores
(``<TaskName>_<main score>``, e.g. ``SemRel24STS_cosine_spearman``; the mean over the language's subsets and eval
splits, mteb's ``TaskResult.get_score``), so the report and the headline metrics carry it.

Offline, ``evaluate.mteb_data`` points a task at a local copy of its Hub dataset: a folder that
``datasets.load_dataset`` reads as the Hub repository (``README.md`` with the ``configs`` of the hf subsets, and
their data files), e.g. ``huggingface-cli download mteb/SemRel24STS --repo-type dataset --local-dir <folder>`` on a
machine with the Hub. Only the task's dataset path changes (its metadata, on this task object: mteb's class is left
as it is); mteb then loads, evaluates and scores the task as it does from the Hub, and the result records the
pinned revision of the task's metadata.

Official tasks are scored on their full test sets (``evaluate.limit`` subsamples the local tasks only) with the
tasks' own seed, and give no per-item data, so the report shows their scores without a bootstrap interval.

Example:
    >>> tasks, skipped = build_official(["SemRel24STS"], "hau_Latn", {})  # doctest: +SKIP
    >>> official_scores(result)  # doctest: +SKIP
    {'SemRel24STS_cosine_spearman': 0.41}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bootembed.evaluation.local import flores_to_bcp47

if TYPE_CHECKING:
    from mteb.abstasks.abstask import AbsTask
    from mteb.results import TaskResult

__all__ = ["build_official", "check_names", "official_metric", "official_scores"]

logger = logging.getLogger(__name__)


def check_names(names: Sequence[str]) -> None:
    """Check that every name is an mteb task.

    Raises:
        ValueError: ``evaluate.mteb_tasks: unknown mteb task(s) ...`` with mteb's closest name where it has one.
    """
    import mteb

    bad = []
    for name in names:
        try:
            mteb.get_task(name)
        except (
            KeyError
        ) as err:  # mteb: "KeyError: '<name>' not found. Did you mean: '<close match>'?"
            bad.append(str(err.args[0]) if err.args else name)
    if bad:
        raise ValueError(f"evaluate.mteb_tasks: unknown mteb task(s): {'; '.join(bad)}")


def build_official(
    names: Sequence[str], lang: str, local_data: Mapping[str, Path]
) -> tuple[dict[str, AbsTask], dict[str, str]]:
    """The mteb tasks ``names`` restricted to the subsets of ``lang``, local copies of their data where given.

    Args:
        names: mteb task names (``SemRel24STS``).
        lang: FLORES-200 code of the evaluated language (``hau_Latn`` -> mteb's ``hau-Latn``).
        local_data: task name -> local copy of its Hub dataset (module docstring).

    Returns:
        ``(tasks, skipped)``: task name -> mteb task, and task name -> why it is not run (no subset of ``lang``).

    Raises:
        ValueError: an unknown task name (:func:`check_names`).
        FileNotFoundError: a local copy is not a folder.
    """
    import mteb

    check_names(names)
    tasks: dict[str, AbsTask] = {}
    skipped: dict[str, str] = {}
    for name in names:
        try:
            task = mteb.get_task(name, languages=[flores_to_bcp47(lang)])
        except ValueError as err:  # mteb: "No subsets were found for <task> with filters: ..."
            skipped[name] = f"mteb task {name} has no {flores_to_bcp47(lang)} subset ({err})"
            logger.info("%s: skipping (%s)", name, skipped[name])
            continue
        if name in local_data:
            folder = Path(local_data[name])
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"evaluate.mteb_data: {name}: {folder} is not a folder (a local copy of "
                    f"{task.metadata.dataset['path']})"
                )
            dataset = {**task.metadata.dataset, "path": str(folder.resolve())}
            task.metadata = task.metadata.model_copy(update={"dataset": dataset})
        tasks[name] = task
    return tasks, skipped


def official_metric(task: str, main_score: str) -> str:
    """The flat metric key of an official task's main score: ``SemRel24STS_cosine_spearman``."""
    return f"{task}_{main_score}"


def official_scores(result: TaskResult, main_score: str) -> dict[str, float]:
    """``{official_metric(task, main_score): mteb's mean main score over the evaluated subsets and splits}``."""
    return {official_metric(result.task_name, main_score): float(result.get_score())}
