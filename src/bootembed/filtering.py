"""The quality-filter chain of synthetic triplets (the ``filter`` stage's work): every input row kept or counted once.

Before the first step, rows the chain cannot read are dropped whatever is enabled (a triplet needs three texts):

``unparseable``  the anchor, positive or negative is null or not a string (a generation that could not be parsed);
``empty``        one of them is blank after stripping.

Then the steps of :data:`bootembed.filters.FILTERS` run in their declared order (structure, copying, language,
duplicates, negatives, consistency, judge), each on the rows the earlier ones kept, each switched on and off by
``filter.<step>.enabled`` (the reasons of each step are in its module). A row dropped by a step is counted under that
step's reason and never seen again, so ``input = kept + Σ dropped`` always holds; a malformed value never raises.
The kept rows become training triplets, one per hard negative (a row has one unless mining added some).

:func:`variant_params` gives the params of the ablation's extra training sets (``filter.ablation``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bootembed.filters import FILTERS
from bootembed.filters.base import ABLATION_VARIANTS, FilterContext, Rows
from bootembed.text import dice

__all__ = [
    "BASIC_REASONS",
    "DROPPED_SCHEMA",
    "REASONS",
    "ChainResult",
    "dice",
    "filter_triplets",
    "run_chain",
    "variant_params",
]

logger = logging.getLogger(__name__)

#: Reasons of the readability check that precedes every step.
BASIC_REASONS: tuple[str, ...] = ("unparseable", "empty")
#: Every drop reason, in chain order.
REASONS: tuple[str, ...] = (
    *BASIC_REASONS,
    *(reason for step in FILTERS.ordered() for reason in step.reasons),
)
#: The pseudo-step of :data:`BASIC_REASONS` in reports.
READABLE = "readable"
#: Columns of the sample of dropped rows (:meth:`ChainResult.dropped_sample`).
DROPPED_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "filter": pl.String(),
    "reason": pl.String(),
    "anchor": pl.String(),
    "positive": pl.String(),
    "negative": pl.String(),
}
_FIELDS = ("anchor", "positive", "negative")


@dataclass
class ChainResult:
    """The outcome of :func:`run_chain` on N input rows.

    Attributes:
        kept: the training triplets: the input columns of every kept row, once per hard negative (``negative`` set
            to it, ``negative_raw`` null for a mined one) and a ``negative_source`` column (``generated`` /
            ``mined``); input order.
        reasons: N entries, ``None`` for a kept row, else the one reason it was dropped for.
        counts: ``input`` (N), ``kept`` (rows kept), ``rows_out`` (triplets written) and one count per
            :data:`REASONS` entry.
        steps: per step in chain order: ``name``, ``enabled``, ``rows_in``, ``dropped`` (``{reason: count}``) and
            ``stats``; the readability check first.
    """

    kept: pl.DataFrame
    reasons: list[str | None]
    counts: dict[str, int]
    steps: list[dict[str, Any]] = field(default_factory=list)
    _frame: pl.DataFrame | None = field(default=None, repr=False)

    def dropped_sample(self, per_reason: int, seed: int) -> pl.DataFrame:
        """Up to ``per_reason`` dropped input rows per reason (a seeded draw, input order within a reason).

        Returns:
            A frame with :data:`DROPPED_SCHEMA` columns (``row`` = input row index, ``filter`` = the step); fields
            that were not strings are shown with ``str()``.
        """
        step_of = {r: READABLE for r in BASIC_REASONS}
        step_of.update({r: step.name for step in FILTERS.ordered() for r in step.reasons})
        rng = random.Random(seed)
        picked: list[int] = []
        for reason in REASONS:
            rows = [i for i, r in enumerate(self.reasons) if r == reason]
            picked += sorted(rng.sample(rows, min(per_reason, len(rows))))
        frame = self._frame if self._frame is not None else pl.DataFrame()

        def text(column: str, i: int) -> str | None:
            if column not in frame.columns:
                return None
            value = frame[column][i]
            return value if value is None or isinstance(value, str) else str(value)

        data = {
            "row": picked,
            "filter": [step_of[self.reasons[i]] for i in picked],  # type: ignore[index]
            "reason": [self.reasons[i] for i in picked],
            **{c: [text(c, i) for i in picked] for c in _FIELDS},
        }
        return pl.DataFrame(data, schema=DROPPED_SCHEMA)


def variant_params(params: Any, variant: str) -> Any:  # noqa: ANN401 - FilterParams
    """The ``filter`` params of an ablation variant (:data:`bootembed.filters.base.ABLATION_VARIANTS`).

    ``unfiltered``: every step disabled (only unreadable rows dropped); ``mined``: the steps as configured, with the
    mining step on and the generated negatives replaced (``negatives.enabled``, not ``keep_generated``).

    Raises:
        ValueError: an unknown variant.
    """
    if variant not in ABLATION_VARIANTS:
        raise ValueError(f"--variant: expected one of {list(ABLATION_VARIANTS)}, got {variant!r}")
    if variant == "unfiltered":
        update = {
            step.name: getattr(params, step.name).model_copy(update={"enabled": False})
            for step in FILTERS.ordered()
        }
    else:
        update = {
            "negatives": params.negatives.model_copy(
                update={"enabled": True, "keep_generated": False}
            )
        }
    return params.model_copy(update=update)


def _readable(anchor: object, positive: object, negative: object) -> str | None:
    values = (anchor, positive, negative)
    if not all(isinstance(v, str) for v in values):
        return "unparseable"
    if not all(v.strip() for v in values):  # type: ignore[union-attr]
        return "empty"
    return None


def run_chain(frame: pl.DataFrame, params: Any, context: FilterContext) -> ChainResult:  # noqa: ANN401
    """Run the filter chain over N triplets.

    Args:
        frame: N rows with ``anchor``, ``positive``, ``negative`` columns (any dtype; values that are not non-blank
            strings are dropped as ``unparseable`` / ``empty``), other columns carried along.
        params: the ``filter`` params (:func:`bootembed.filters.filter_params_model`).
        context: languages, base encoder, prompt, seed and mining params.

    Returns:
        The :class:`ChainResult`; ``counts["input"] == counts["kept"] + sum(counts[r] for r in REASONS)``.

    Raises:
        ValueError: a required column is missing, or a step returned a malformed result (a bug).
    """
    missing = [c for c in _FIELDS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"triplets: missing column(s) {missing}; expected anchor, positive, negative"
        )
    n = frame.height
    columns = {c: frame[c].to_list() for c in _FIELDS}
    raw = {
        c: [v if isinstance(v, str) else None for v in frame[f"{c}_raw"].to_list()]
        if f"{c}_raw" in frame.columns
        else [None] * n
        for c in ("positive", "negative")
    }
    reasons: list[str | None] = [
        _readable(a, p, g)
        for a, p, g in zip(columns["anchor"], columns["positive"], columns["negative"], strict=True)
    ]
    steps: list[dict[str, Any]] = [
        {
            "name": READABLE,
            "enabled": True,
            "rows_in": n,
            "dropped": {r: reasons.count(r) for r in BASIC_REASONS},
            "stats": {},
        }
    ]
    alive = [i for i in range(n) if reasons[i] is None]
    negatives: dict[int, tuple[str, ...]] = {i: (columns["negative"][i],) for i in alive}
    for step in FILTERS.ordered():
        section = getattr(params, step.name)
        entry: dict[str, Any] = {
            "name": step.name,
            "enabled": step.active(section),
            "rows_in": len(alive),
            "dropped": dict.fromkeys(step.reasons, 0),
            "stats": {},
        }
        steps.append(entry)
        if not entry["enabled"] or not alive:
            continue
        rows = Rows(
            anchor=tuple(columns["anchor"][i] for i in alive),
            positive=tuple(columns["positive"][i] for i in alive),
            negatives=tuple(negatives[i] for i in alive),
            positive_raw=tuple(raw["positive"][i] for i in alive),
            negative_raw=tuple(raw["negative"][i] for i in alive),
        )
        result = step.apply(rows, section, context)
        if len(result.reasons) != len(alive) or any(
            r is not None and r not in step.reasons for r in result.reasons
        ):
            raise ValueError(f"filter.{step.name}: returned reasons that do not fit its rows")
        if result.negatives is not None:
            if len(result.negatives) != len(alive):
                raise ValueError(f"filter.{step.name}: returned negatives that do not fit its rows")
            for i, new in zip(alive, result.negatives, strict=True):
                negatives[i] = new
        survivors = []
        for i, reason in zip(alive, result.reasons, strict=True):
            if reason is None and negatives[i]:
                survivors.append(i)
            else:
                reasons[i] = reason or step.reasons[0]
                entry["dropped"][reasons[i]] += 1
        alive = survivors
        entry["stats"] = result.stats
        logger.info("filter.%s: %d in, dropped %s", step.name, entry["rows_in"], entry["dropped"])
    order = [i for i in alive for _ in negatives[i]]
    chosen = [neg for i in alive for neg in negatives[i]]
    generated = [columns["negative"][i] for i in order]
    source = ["generated" if c == g else "mined" for c, g in zip(chosen, generated, strict=True)]
    kept = frame[order] if order else frame.clear()
    updates = [
        pl.Series("negative", chosen, dtype=pl.String),
        pl.Series("negative_source", source, dtype=pl.String),
    ]
    if "negative_raw" in frame.columns:
        raw = kept["negative_raw"].to_list()
        updates.append(
            pl.Series(
                "negative_raw",
                [r if s == "generated" else None for r, s in zip(raw, source, strict=True)],
                dtype=kept.schema["negative_raw"],
            )
        )
    kept = kept.with_columns(updates)
    counts = {"input": n, "kept": len(alive), "rows_out": kept.height}
    counts.update({r: reasons.count(r) for r in REASONS})
    assert counts["input"] == counts["kept"] + sum(counts[r] for r in REASONS)
    logger.info("filter chain: %s", counts)
    return ChainResult(kept, reasons, counts, steps, frame)


def filter_triplets(
    frame: pl.DataFrame,
    params: Any,  # noqa: ANN401 - FilterParams
    context: FilterContext,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """:func:`run_chain`, returning ``(kept triplets, counts)`` only."""
    result = run_chain(frame, params, context)
    return result.kept, result.counts
