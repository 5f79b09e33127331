"""The ``filter`` stage: drop synthetic triplets that cannot teach the encoder anything useful.

Each dropped row is counted under the first reason that applies, in this order:

``unparseable``      the positive or negative generation could not be parsed (null);
``empty``            positive or negative is blank after stripping;
``too_short``        fewer than ``min_chars`` characters or ``min_words`` words;
``too_long``         more than ``max_chars`` characters;
``copy_of_anchor``   positive or negative equals the anchor (after normalisation), or copies most of it: the Dice
                     coefficient of their word sets exceeds ``max_anchor_overlap`` (a base LM tends to echo the
                     premise instead of writing a hypothesis);
``positive_equals_negative``  the two generations are identical (no contrast);
``duplicate``        the same (anchor, positive, negative) was already kept.
"""

from __future__ import annotations

import logging

import polars as pl

from bootembed.config import FilterParams
from bootembed.text import dice, normalize_sentence

__all__ = ["REASONS", "dice", "filter_triplets"]

logger = logging.getLogger(__name__)

REASONS = (
    "unparseable",
    "empty",
    "too_short",
    "too_long",
    "copy_of_anchor",
    "positive_equals_negative",
    "duplicate",
)


def _reason(
    anchor: str, positive: str | None, negative: str | None, params: FilterParams
) -> str | None:
    if positive is None or negative is None:
        return "unparseable"
    pos, neg = positive.strip(), negative.strip()
    if not pos or not neg:
        return "empty"
    if (
        min(len(pos), len(neg)) < params.min_chars
        or min(len(pos.split()), len(neg.split())) < params.min_words
    ):
        return "too_short"
    if max(len(pos), len(neg)) > params.max_chars:
        return "too_long"
    norm_anchor, norm_pos, norm_neg = (normalize_sentence(t) for t in (anchor, pos, neg))
    if norm_pos == norm_anchor or norm_neg == norm_anchor:
        return "copy_of_anchor"
    if max(dice(anchor, pos), dice(anchor, neg)) > params.max_anchor_overlap:
        return "copy_of_anchor"
    if norm_pos == norm_neg:
        return "positive_equals_negative"
    return None


def filter_triplets(
    triplets: pl.DataFrame, params: FilterParams
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Apply the quality filter.

    Args:
        triplets: frame with at least ``anchor``, ``positive``, ``negative`` string columns (N rows).
        params: thresholds.

    Returns:
        ``(kept, counts)``: kept rows (same columns, original order) and a count per reason in :data:`REASONS`
        plus ``input`` and ``kept``.

    Raises:
        ValueError: a required column is missing.
    """
    missing = {"anchor", "positive", "negative"} - set(triplets.columns)
    if missing:
        raise ValueError(
            f"triplets: missing column(s) {sorted(missing)}; expected anchor, positive, negative"
        )
    counts = dict.fromkeys(REASONS, 0)
    keep: list[bool] = []
    seen: set[tuple[str, str, str]] = set()
    for anchor, positive, negative in zip(
        triplets["anchor"].to_list(),
        triplets["positive"].to_list(),
        triplets["negative"].to_list(),
        strict=False,
    ):
        reason = _reason(anchor, positive, negative, params)
        if reason is None:
            key = tuple(normalize_sentence(t) for t in (anchor, positive, negative))
            if key in seen:
                reason = "duplicate"
            else:
                seen.add(key)  # type: ignore[arg-type]
        if reason is not None:
            counts[reason] += 1
        keep.append(reason is None)
    kept = triplets.filter(pl.Series(keep, dtype=pl.Boolean))
    counts["input"] = triplets.height
    counts["kept"] = kept.height
    logger.info("filter: %s", counts)
    return kept, counts
