"""The ``build-generator`` stages: generator folders built from files (the ICL exemplar pool)."""

from __future__ import annotations

from typing import Any

from bootembed.provenance import record
from bootembed.stages.common import StrategyRequest, strategy_stage
from bootembed.strategies.base import SyntheticStrategy

__all__ = ["run"]


def _build(request: StrategyRequest) -> dict[str, Any]:
    """Write ``strategy``'s generator folder for ``language`` into ``out`` (its metrics to ``metrics_path``).

    Raises:
        ValueError: not a synthetic strategy.
        NotImplementedError: the strategy's generator is trained, not built from files.
    """
    strategy, language = request.strategy, request.language
    built = strategy.build_generator(request.params, language, request.inputs, request.out)
    return {"strategy": strategy.name, "language": language, **built, **record()}


run = strategy_stage(SyntheticStrategy, "a synthetic strategy", _build)
