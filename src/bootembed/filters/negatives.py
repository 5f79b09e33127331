"""Negatives: hard negatives mined with the base encoder, instead of or beside the generated ones.

When enabled, every row still in the chain gets up to ``mining.num_negatives`` hard negatives mined by
:func:`bootembed.mining.mine_negatives` (``sentence_transformers.util.mine_hard_negatives``, the ``mining`` params:
range, relative margin / max score, sampling strategy and count; NV-Retriever's TopK-PercPos 95 % by default). The
candidates are the positives and generated negatives of the rows still in the chain (so they passed the structure,
copying, language and duplicate steps), the row's own positive excluded, as is any candidate that equals the row's
anchor or positive under :func:`bootembed.text.copy_key`.

* ``keep_generated: false`` (an alternative to generated negatives): the mined negatives replace the generated one;
  a row with none is dropped as ``no_mined_negative``.
* ``keep_generated: true`` (a complement): the row keeps its generated negative and gains the mined ones; the
  consistency step then judges each negative on its own.

A row with several negatives becomes one training triplet per negative (the encoder's no-duplicates batch sampler
keeps them in different batches).
"""

from __future__ import annotations

from typing import Any

from bootembed.filters.base import FilterContext, Rows, StepParams, StepResult, TripletFilter
from bootembed.mining import mine_negatives
from bootembed.text import copy_key

__all__ = ["FILTER", "NegativesParams", "NegativesStep"]


class NegativesParams(StepParams):
    """``filter.negatives``.

    Attributes:
        enabled: mine hard negatives (``false``: keep the generated negatives only).
        keep_generated: keep the generated negative beside the mined ones (complement) instead of replacing it.
    """

    keep_generated: bool


class NegativesStep(TripletFilter):
    """Mined hard negatives (sentence-transformers ``mine_hard_negatives``)."""

    name = "negatives"
    order = 50
    reasons = ("no_mined_negative",)
    params_model = NegativesParams
    description = (
        "hard negatives mined with the base encoder replace or complement the generated ones"
    )
    source = "sentence_transformers.util.mine_hard_negatives; NV-Retriever TopK-PercPos (arXiv 2407.15831, Sec. 4)"

    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Mine for every row; replace or extend its negatives."""
        if context.mining is None:
            raise ValueError("filter.negatives: needs the mining params (params.yaml: mining)")
        corpus = list(dict.fromkeys([*rows.positive, *(n for ns in rows.negatives for n in ns)]))
        mined = mine_negatives(
            rows.anchor,
            rows.positive,
            context.model(self.name),
            context.mining,
            corpus=corpus,
            prompt=context.prompt,
            batch_size=context.batch_size,
            seed=context.seed,
        )
        reasons: list[str | None] = []
        negatives: list[tuple[str, ...]] = []
        replaced = 0
        for anchor, positive, generated, found in zip(
            rows.anchor, rows.positive, rows.negatives, mined.negatives, strict=True
        ):
            banned = {copy_key(anchor), copy_key(positive)}
            fresh = [n for n in found if copy_key(n) not in banned]
            chosen = [*generated, *fresh] if section.keep_generated else fresh
            unique: list[str] = []
            for negative in chosen:  # one of each, in order (generated first, then hardest mined)
                if copy_key(negative) not in {copy_key(u) for u in unique}:
                    unique.append(negative)
            negatives.append(tuple(unique) if unique else generated)
            reasons.append(None if unique else "no_mined_negative")
            replaced += bool(fresh)
        stats = {**mined.stats, "rows_with_mined_negative": replaced}
        return StepResult(reasons, negatives=negatives, stats=stats)


FILTER = NegativesStep()
