"""Duplicates: exact and near-duplicate triplets, the first occurrence kept.

``duplicate``       the ``fields`` of the row equal those of an earlier kept row under the shared copy normaliser
                    (:func:`bootembed.text.copy_key`);
``near_duplicate``  the Jaccard similarity of the rows' character ``shingle_chars``-gram sets (of the normalised
                    ``fields`` joined) is at least ``near_threshold``. Candidates come from a MinHash LSH index
                    (``datasketch.MinHashLSH``, Broder 1997 / Indyk & Motwani 1998; ``num_perm`` permutations seeded
                    with the params ``seed``); each candidate is confirmed on the exact Jaccard of the shingle sets,
                    so LSH only decides which pairs are compared.

``fields`` picks what makes two triplets the same: ``[anchor, positive, negative]`` (default) compares whole
triplets; ``[positive, negative]`` also catches one generated pair repeated for different anchors (a generator
that copies its few-shot exemplars).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from bootembed.filters.base import FilterContext, Rows, StepParams, StepResult, TripletFilter
from bootembed.text import copy_key

__all__ = ["FILTER", "DuplicatesFilter", "DuplicatesParams", "shingles"]

_SEPARATOR = "\u241f"  # SYMBOL FOR UNIT SEPARATOR: never inside a copy key (symbols are removed)


class DuplicatesParams(StepParams):
    """``filter.duplicates``.

    Attributes:
        near_threshold: Jaccard similarity of shingle sets from which two triplets are near-duplicates, in (0, 1);
            ``null``: exact duplicates only.
        num_perm: MinHash permutations (more: fewer missed candidates, slower); with ``near_threshold`` it must
            leave datasketch at least two LSH bands.
        shingle_chars: length of the character shingles.
        fields: the fields compared (``anchor``, ``positive``, ``negative``).
    """

    near_threshold: float | None = Field(gt=0.0, lt=1.0)
    num_perm: int = Field(ge=16, le=4096)
    shingle_chars: int = Field(ge=1, le=50)
    fields: Annotated[
        tuple[Literal["anchor", "positive", "negative"], ...], Field(strict=False, min_length=1)
    ]

    @model_validator(mode="after")
    def _bands(self) -> DuplicatesParams:
        if self.near_threshold is not None:
            problem = _bands_for(self.near_threshold, self.num_perm)
            if isinstance(problem, str):
                raise ValueError(
                    f"near_threshold: datasketch cannot index threshold {self.near_threshold} with num_perm "
                    f"{self.num_perm} ({problem}); lower the threshold or raise num_perm"
                )
        return self


@functools.lru_cache(maxsize=256)
def _bands_for(threshold: float, num_perm: int) -> tuple[int, int] | str:
    """datasketch's LSH banding ``(bands, rows)`` for these settings, or why it refuses them (its search for the
    banding takes ~30 ms, so it runs once per setting)."""
    from datasketch import MinHashLSH

    try:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    except ValueError as exc:
        return str(exc)
    return lsh.b, lsh.r


def shingles(text: str, k: int) -> set[str]:
    """The set of character ``k``-grams of ``text`` (the whole text when it is shorter than ``k``).

    Example:
        >>> sorted(shingles("abcd", 3)), shingles("ab", 3)
        (['abc', 'bcd'], {'ab'})
    """
    if len(text) <= k:
        return {text}
    return {text[i : i + k] for i in range(len(text) - k + 1)}


class DuplicatesFilter(TripletFilter):
    """Exact and near-duplicate triplets (datasketch MinHash LSH)."""

    name = "duplicates"
    order = 40
    reasons = ("duplicate", "near_duplicate")
    params_model = DuplicatesParams
    description = (
        "exact and near-duplicate triplets (datasketch MinHash LSH, confirmed on exact Jaccard)"
    )
    source = "MinHash (Broder 1997) with LSH banding (datasketch.MinHashLSH)"

    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Keep the first of every group of (near-)duplicates, in row order."""
        from datasketch import MinHash, MinHashLSH

        def key(i: int) -> tuple[str, ...]:
            parts: list[str] = []
            if "anchor" in section.fields:
                parts.append(copy_key(rows.anchor[i]))
            if "positive" in section.fields:
                parts.append(copy_key(rows.positive[i]))
            if "negative" in section.fields:
                parts += sorted(copy_key(n) for n in rows.negatives[i])
            return tuple(parts)

        near = section.near_threshold
        lsh = None
        if near is not None:
            bands = _bands_for(near, section.num_perm)
            lsh = MinHashLSH(threshold=near, num_perm=section.num_perm, params=bands)
        seen: set[tuple[str, ...]] = set()
        kept_shingles: dict[int, set[str]] = {}
        out: list[str | None] = []
        for i in range(len(rows)):
            k = key(i)
            if k in seen:
                out.append("duplicate")
                continue
            if lsh is None:
                seen.add(k)
                out.append(None)
                continue
            grams = shingles(_SEPARATOR.join(k), section.shingle_chars)
            minhash = MinHash(num_perm=section.num_perm, seed=context.seed)
            minhash.update_batch(g.encode("utf-8") for g in sorted(grams))
            if any(
                len(grams & kept_shingles[j]) / len(grams | kept_shingles[j]) >= near
                for j in lsh.query(minhash)
            ):
                out.append("near_duplicate")
                continue
            seen.add(k)
            kept_shingles[i] = grams
            lsh.insert(i, minhash)
            out.append(None)
        return StepResult(out)


FILTER = DuplicatesFilter()
