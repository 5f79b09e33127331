"""MTEB evaluation of sentence encoders on local data (SemRel, FLORES-200, SIB-200, Tatoeba).

The public entry point is :func:`evaluate_encoder`; each task is one module of
:mod:`bootembed.evaluation.tasks`.
"""

from __future__ import annotations

from bootembed.evaluation.runner import (
    ALL_TASKS,
    EvaluationResult,
    build_tasks,
    evaluate_encoder,
    load_encoder,
)

__all__ = ["ALL_TASKS", "EvaluationResult", "build_tasks", "evaluate_encoder", "load_encoder"]
