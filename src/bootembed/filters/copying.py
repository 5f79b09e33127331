"""Copying: outputs that repeat the anchor, and a positive that is its own negative.

``copy_of_anchor``            the positive or a negative equals the anchor under the shared copy normaliser
                              (:func:`bootembed.text.copy_key`: case, punctuation, symbols and spacing ignored), or
                              copies most of it: the Dice coefficient of their word sets exceeds
                              ``max_anchor_overlap`` (a base LM tends to echo the premise instead of writing a
                              hypothesis; the data diagnostics of arXiv 2603.01732 measure the same overlap);
``positive_equals_negative``  the positive equals a negative under the same normaliser (no contrast to learn).

A hypothesis that differs from its negative by one word (``"A man is playing."`` / ``"A man is not playing."``)
is a good hard negative, so the positive / negative check is exact (after normalisation), not near.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bootembed.filters.base import FilterContext, Rows, StepParams, StepResult, TripletFilter
from bootembed.text import copy_key, dice

__all__ = ["FILTER", "CopyingFilter", "CopyingParams"]


class CopyingParams(StepParams):
    """``filter.copying``.

    Attributes:
        max_anchor_overlap: highest allowed Dice coefficient between the word sets of the anchor and the positive /
            a negative (higher = a near-copy of the anchor); 1.0 drops exact copies only.
    """

    max_anchor_overlap: float = Field(gt=0.0, le=1.0)


class CopyingFilter(TripletFilter):
    """Copies of the anchor, positive = negative."""

    name = "copying"
    order = 20
    reasons = ("copy_of_anchor", "positive_equals_negative")
    params_model = CopyingParams
    description = (
        "positive / negative equal or near-equal (Dice) to the anchor; positive = negative"
    )
    source = "lexical overlap as in the data diagnostics of arXiv 2603.01732"

    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Drop copies of the anchor first, then rows whose positive equals a negative."""
        out: list[str | None] = []
        for anchor, positive, negatives in zip(
            rows.anchor, rows.positive, rows.negatives, strict=True
        ):
            anchor_key, positive_key = copy_key(anchor), copy_key(positive)
            outputs = (positive, *negatives)
            if any(copy_key(t) == anchor_key for t in outputs) or any(
                dice(anchor, t) > section.max_anchor_overlap for t in outputs
            ):
                out.append("copy_of_anchor")
            elif any(copy_key(n) == positive_key for n in negatives):
                out.append("positive_equals_negative")
            else:
                out.append(None)
        return StepResult(out)


FILTER = CopyingFilter()
