"""The description of one DVC stage, as strategies and :mod:`bootembed.pipeline` declare them.

``dvc.yaml`` is rendered from these specs (``bootembed dvc-yaml``), so a reader of ``dvc.yaml`` still sees the whole
pipeline while its matrices, code dependencies and plots come from the registries. A stage's code dependencies are
not written by hand: they are the ``bootembed`` modules its entry point imports (:mod:`bootembed.pipeline`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["LIVE_ROOT", "StageSpec", "live_outputs"]

#: Root of the dvclive folders of the training stages (:mod:`bootembed.curves`).
LIVE_ROOT = "metrics/dvclive"


@dataclass(frozen=True)
class StageSpec:
    """One DVC stage.

    Attributes:
        name: stage name in ``dvc.yaml`` (``train_xllora``).
        module: the :mod:`bootembed.stages` module whose function the command runs (``train_generator``); its
            imports give the stage's code dependencies.
        cmd: the command line after ``bootembed`` (``train-generator --sft ...``; ``${item.language}`` etc.).
        matrix: DVC ``matrix`` (``{"language": "${languages}"}``), or ``None``.
        deps: data and model dependencies (paths).
        code: extra code dependencies that imports do not reveal (``src/bootembed/generation`` for the lazily
            loaded backends).
        params: params keys the stage reads (``train_generator``, ``seed``).
        outs: outputs (a path, or ``{path: {"cache": False}}``).
        metrics: metrics JSON files (never cached).
        plots: DVC plots the stage writes (``{path: {"cache": False, "x": "step"}}``).
        comment: one line shown above the stage in ``dvc.yaml``.
    """

    name: str
    module: str
    cmd: str
    matrix: Mapping[str, object] | None = None
    deps: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    outs: tuple[str | Mapping[str, object], ...] = ()
    metrics: tuple[str, ...] = ()
    plots: tuple[Mapping[str, object], ...] = ()
    comment: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)


def live_outputs(
    folder: str, runs: Sequence[str] = ("",)
) -> tuple[tuple[Mapping[str, object], ...], tuple[Mapping[str, object], ...]]:
    """The ``outs`` and ``plots`` of a training stage's dvclive folder (:class:`bootembed.curves.LiveCurves`).

    Args:
        folder: the stage's ``--live-dir`` (``metrics/dvclive/train_encoder/${item.language}/...``).
        runs: the subfolders of its trainer runs (``("positive", "negative")``); ``("",)``: the folder itself.

    Returns:
        ``(outs, plots)``: each run's ``metrics.json`` (dvclive's last values, a plain output kept in git) and its
        ``plots`` folder (the per-step histories, a DVC plot over ``step``), neither cached.
    """
    dirs = [f"{folder}/{run}" if run else folder for run in runs]
    return (
        tuple({f"{d}/metrics.json": {"cache": False}} for d in dirs),
        tuple({f"{d}/plots": {"cache": False, "x": "step"}} for d in dirs),
    )
