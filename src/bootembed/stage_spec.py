"""The description of one DVC stage, as strategies and :mod:`bootembed.pipeline` declare them.

``dvc.yaml`` is rendered from these specs (``bootembed dvc-yaml``), so a reader of ``dvc.yaml`` still sees the whole
pipeline while its matrices, code dependencies and plots come from the registries. A stage's code dependencies are
not written by hand: they are the ``bootembed`` modules its entry point imports (:mod:`bootembed.pipeline`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["StageSpec"]


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
    comment: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)
