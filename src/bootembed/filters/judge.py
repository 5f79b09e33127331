"""LLM judge: NOT IMPLEMENTED. A documented stub that must stay disabled.

The issue asks, as an option, for the generation backend (``synthesize.backend``) to score each (anchor, positive)
and (anchor, negative) pair and for low scores to be dropped (``judge_low_score``). It is not built: the default
generator (Gemma-3-270M) is too weak to judge entailment in Hausa, and running a second generation pass inside the
filter stage needs the backend's engine, adapters and dtype decision there. ``filter.judge.enabled: true`` is
refused when the params are read, with a message saying so, so a run never believes it was judged.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from bootembed.filters.base import FilterContext, Rows, StepParams, StepResult, TripletFilter

__all__ = ["FILTER", "JudgeFilter", "JudgeParams"]


class JudgeParams(StepParams):
    """``filter.judge``.

    Attributes:
        enabled: must be ``false``: the LLM judge is not implemented.
    """

    @model_validator(mode="after")
    def _not_implemented(self) -> JudgeParams:
        if self.enabled:
            raise ValueError(
                "enabled: expected false, got true (the LLM judge is not implemented; see bootembed.filters.judge)"
            )
        return self


class JudgeFilter(TripletFilter):
    """LLM judge (not implemented)."""

    name = "judge"
    order = 70
    reasons = ("judge_low_score",)
    params_model = JudgeParams
    description = "LLM judge of each pair (not implemented: must stay disabled)"
    source = "not implemented"

    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Never reached (the params refuse ``enabled: true``).

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError("filter.judge: the LLM judge is not implemented")


FILTER = JudgeFilter()
