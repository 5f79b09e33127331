"""Structure: outputs that are not one whole, plain sentence of a sensible length.

Each positive and hard negative is checked; the row is dropped under the first reason that applies to either:

``too_short``   fewer than ``min_chars`` characters or ``min_words`` words;
``too_long``    more than ``max_chars`` characters or ``max_words`` words (the encoder truncates long inputs, and a
                generator that runs on is rarely writing one hypothesis);
``truncated``   generation stopped at the token budget (``synthesize.max_new_tokens``) in mid-sentence: the output
                has no sentence-final mark at its end (``. ! ? …``, the Devanagari danda ``।``, Arabic ``؟``,
                Ethiopic ``።``, CJK ``。``, ...; closing quotes and brackets after it allowed) **and** its raw
                generation (``positive_raw`` / ``negative_raw``, where the frame has them) did not end its line: every
                backend keeps the newline it stops at, so a raw text with a newline after the sentence ended
                there, complete even without a period (SICK-style hypotheses, which the ICL exemplars teach, have
                none: on a real 64-anchor ICL run the mark alone called 61 of 64 rows truncated);
``repetitive``  degenerate repetition: more than ``max_repeated_ngram_share`` of the word ``repetition_ngram``-grams
                repeat an earlier one in the same text (the "duplicate n-gram" share of Gopher's quality filters,
                Rae et al. 2021, Sec. A.1.1, on words), or one word repeated throughout (``"wani wani wani"``).

Words are those of :func:`bootembed.text.copy_key` (punctuation removed). On FLORES-200 ``dev`` (997 sentences per
language) the default repetition rule (bigrams, share > 0.3) drops no sentence of ``hau_Latn``, ``afr_Latn``,
``eng_Latn`` or ``mar_Deva`` (highest share 0.296, English); see ``tests/test_filters.py``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import Field, model_validator

from bootembed.filters.base import FilterContext, Rows, StepParams, StepResult, TripletFilter
from bootembed.text import copy_key

__all__ = [
    "FILTER",
    "StructureFilter",
    "StructureParams",
    "ended_its_line",
    "is_truncated",
    "repeated_share",
]

#: Sentence-final marks (Unicode ``Sentence_Terminal`` characters of the scripts of FLORES-200, and the ellipsis).
TERMINALS = frozenset(".!?…‼⁇⁈⁉।॥؟۔።፧፨。！？｡։՜՞܀܁܂߹჻᙮᠃᠉")


class StructureParams(StepParams):
    """``filter.structure``.

    Attributes:
        min_chars: shortest allowed positive / negative (characters, after stripping).
        max_chars: longest allowed positive / negative (characters).
        min_words: fewest words.
        max_words: most words.
        detect_truncation: drop outputs cut off in mid-sentence (``truncated``: no sentence-final mark, and no
            newline in the raw generation after it).
        repetition_ngram: n of the word n-grams whose repetition is measured.
        max_repeated_ngram_share: highest allowed share of repeated n-grams, in [0, 1].
    """

    min_chars: int = Field(ge=1, le=100_000)
    max_chars: int = Field(ge=2, le=100_000)
    min_words: int = Field(ge=1, le=10_000)
    max_words: int = Field(ge=1, le=10_000)
    detect_truncation: bool
    repetition_ngram: int = Field(ge=1, le=10)
    max_repeated_ngram_share: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _bounds(self) -> StructureParams:
        if self.max_chars <= self.min_chars:
            raise ValueError(
                f"max_chars: expected > min_chars ({self.min_chars}), got {self.max_chars}"
            )
        if self.max_words < self.min_words:
            raise ValueError(
                f"max_words: expected >= min_words ({self.min_words}), got {self.max_words}"
            )
        return self


def is_truncated(text: str) -> bool:
    """Whether ``text`` lacks a sentence-final mark at its end (closing quotes and brackets after it allowed).

    Example:
        >>> is_truncated("Ina son ruwa."), is_truncated("Ina son ruwa"), is_truncated('Hy het gesê: "Ja!"')
        (False, True, False)
    """
    stripped = text.rstrip()
    while stripped and (
        unicodedata.category(stripped[-1]) in ("Pe", "Pf") or stripped[-1] in "\"'"
    ):
        stripped = stripped[:-1].rstrip()
    return not stripped or stripped[-1] not in TERMINALS


def repeated_share(text: str, n: int) -> float:
    """Share of the word ``n``-grams of ``text`` that repeat an earlier one, in [0, 1]; 1.0 for one word repeated.

    Words are those of :func:`bootembed.text.copy_key`. Fewer than two n-grams give 0.0 (nothing can repeat),
    except a text of one word said at least twice, which gives 1.0.

    Example:
        >>> repeated_share("wani abu wani abu wani abu", 2), repeated_share("Ina son ruwa sosai", 2)
        (0.6, 0.0)
    """
    tokens = copy_key(text).split()
    if len(tokens) >= 2 and len(set(tokens)) == 1:
        return 1.0
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if len(grams) < 2:
        return 0.0
    return (len(grams) - len(set(grams))) / len(grams)


def ended_its_line(raw: str | None) -> bool:
    """Whether a raw generation stopped at a newline after its first line (so that line is complete).

    Example:
        >>> ended_its_line(" A man is playing the flute\\n"), ended_its_line(" Yara suna wasa a"), ended_its_line(None)
        (True, False, False)
    """
    return raw is not None and "\n" in raw.lstrip()


def _reason(text: str, raw: str | None, p: StructureParams) -> str | None:
    stripped = text.strip()
    n_words = len(copy_key(stripped).split())
    if len(stripped) < p.min_chars or n_words < p.min_words:
        return "too_short"
    if len(stripped) > p.max_chars or n_words > p.max_words:
        return "too_long"
    if p.detect_truncation and is_truncated(stripped) and not ended_its_line(raw):
        return "truncated"
    if repeated_share(stripped, p.repetition_ngram) > p.max_repeated_ngram_share:
        return "repetitive"
    return None


class StructureFilter(TripletFilter):
    """Truncated, too short / long and degenerate outputs."""

    name = "structure"
    order = 10
    reasons = ("too_short", "too_long", "truncated", "repetitive")
    params_model = StructureParams
    description = "truncated, too short / long (words, characters) and degenerate repeated outputs"
    source = (
        "length and repetition rules after Gopher's quality filters (Rae et al. 2021, Sec. A.1.1)"
    )

    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Drop a row when its positive or any of its negatives breaks a rule (the first reason in ``reasons``
        order that any output breaks)."""
        n = len(rows)
        positive_raw = rows.positive_raw or (None,) * n
        negative_raw = rows.negative_raw or (None,) * n
        out: list[str | None] = []
        for i, (positive, negatives) in enumerate(zip(rows.positive, rows.negatives, strict=True)):
            # the raw generation belongs to the positive and to the generated (first) negative
            raws = (positive_raw[i], negative_raw[i], *(None,) * (len(negatives) - 1))
            found = [
                r
                for r in (
                    _reason(t, w, section)
                    for t, w in zip((positive, *negatives), raws, strict=True)
                )
                if r
            ]
            out.append(min(found, key=self.reasons.index) if found else None)
        return StepResult(out)


FILTER = StructureFilter()
