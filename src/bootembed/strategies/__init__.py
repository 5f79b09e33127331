"""Synthesis strategies and baselines: one module each, found by :data:`STRATEGIES`.

Baselines (arXiv 2603.01732, Sec. 4): ``translation`` (FLORES-200 translation pairs) and ``english`` (English-only
SICK). Synthetic strategies (Sec. 3): ``icl`` (3.1), ``composition`` (3.2), ``xllora`` (3.3).

Adding a strategy is adding one module here with a ``STRATEGY`` object (see :mod:`bootembed.strategies.base`),
its params section in ``params.yaml`` (when it has one) and its tests; ``bootembed dvc-yaml`` then renders its
stages into ``dvc.yaml``.
"""

from __future__ import annotations

from bootembed.registry import Registry

__all__ = ["STRATEGIES", "baselines", "synthetic"]

#: Every strategy, one per module of this package (``base`` is the interface).
STRATEGIES: Registry = Registry(
    "strategy", "bootembed.strategies", "STRATEGY", order=lambda s: s.order
)


def synthetic() -> list:
    """The synthetic strategies (:class:`~bootembed.strategies.base.SyntheticStrategy`), in report order."""
    return [s for s in STRATEGIES.ordered() if s.kind == "synthetic"]


def baselines() -> list:
    """The baselines (:class:`~bootembed.strategies.base.BaselineStrategy`), in report order."""
    return [s for s in STRATEGIES.ordered() if s.kind == "baseline"]
