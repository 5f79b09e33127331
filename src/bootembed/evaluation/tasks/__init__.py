"""Evaluation tasks: one module each (SemRel, FLORES-200 bitext mining and retrieval, SIB-200, Tatoeba).

:data:`TASKS` finds them; ``evaluate.tasks`` in params names them, the evaluation stage runs them in registry
order, and the report orders its columns by their metrics. Adding a task is adding one module with a ``TASK``
object (:class:`bootembed.evaluation.tasks.base.EvalTask`) and its tests.
"""

from __future__ import annotations

from bootembed.registry import Registry

__all__ = ["TASKS", "metric_order"]

#: Every evaluation task, one per module of this package (``base`` is the interface).
TASKS: Registry = Registry(
    "evaluation task", "bootembed.evaluation.tasks", "TASK", order=lambda t: t.order
)


def metric_order() -> tuple[str, ...]:
    """Every metric key of every task, in task order (the report's column order)."""
    return tuple(metric for task in TASKS.ordered() for metric in task.metrics)
