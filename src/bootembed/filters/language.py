"""Language: every checked field is in the language the strategy asked for.

``wrong_language``  Google's CLD3 (the ``cld3-py`` wheel, weights compiled in, offline;
                    :func:`bootembed.diagnostics.detect_languages`) assigns a checked field to another language with
                    probability at least ``min_confidence`` (at least 0.99 for a language CLD3 does not know,
                    :func:`bootembed.diagnostics.cutoff`). Positives and negatives must be in the strategy's output
                    language (:meth:`bootembed.strategies.base.Strategy.output_language`: the target language for
                    ICL and composition, English for XL-LoRA); the anchor, if listed in ``fields``, in the target
                    language. An undetermined text (digits, symbols) is no evidence and passes.

Accuracy of the model on FLORES-200 ``dev`` (every default language, English and Afrikaans; whole sentences and
their first six words, the length of a generated hypothesis) is measured by the ``langid`` stage into
``metrics/langid/flores200_dev.json`` (:mod:`bootembed.langid`). CLD3 errs on short texts: at ``min_confidence``
0.7, 2.6 % (Hausa), 6.1 % (Afrikaans) and 4.8 % (English) of six-word FLORES prefixes were flagged; at 0.9, 1.6 %,
3.8 % and 1.6 %, hence the default 0.9.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from bootembed.filters.base import FilterContext, Rows, StepParams, StepResult, TripletFilter

__all__ = ["FILTER", "LanguageFilter", "LanguageParams"]


class LanguageParams(StepParams):
    """``filter.language``.

    Attributes:
        min_confidence: CLD3 probability from which a detection of another language drops the row, in [0, 1].
        fields: the fields checked (``positive``, ``negative``, ``anchor``).
    """

    min_confidence: float = Field(ge=0.0, le=1.0)
    fields: Annotated[
        tuple[Literal["anchor", "positive", "negative"], ...], Field(strict=False, min_length=1)
    ]


class LanguageFilter(TripletFilter):
    """Fields in another language than asked for (CLD3)."""

    name = "language"
    order = 30
    reasons = ("wrong_language",)
    params_model = LanguageParams
    description = "a field in another language than the strategy asked for (Google CLD3, cld3-py)"
    source = "code-switching diagnostic of arXiv 2603.01732 as a filter; CLD3 (Botha et al. 2017)"

    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Detect each checked text once; drop rows with a confidently detected other language."""
        from bootembed.diagnostics import detect_languages, is_other_language

        def checked(i: int) -> list[tuple[str, str]]:
            pairs = []
            if "anchor" in section.fields:
                pairs.append((rows.anchor[i], context.language))
            if "positive" in section.fields:
                pairs.append((rows.positive[i], context.output_language))
            if "negative" in section.fields:
                pairs += [(n, context.output_language) for n in rows.negatives[i]]
            return pairs

        per_row = [checked(i) for i in range(len(rows))]
        texts = list(dict.fromkeys(t for pairs in per_row for t, _ in pairs))
        detected = dict(zip(texts, detect_languages(texts), strict=True))
        out: list[str | None] = []
        for pairs in per_row:
            wrong = any(
                is_other_language(*detected[text], expected, min_confidence=section.min_confidence)
                for text, expected in pairs
            )
            out.append("wrong_language" if wrong else None)
        return StepResult(out)


FILTER = LanguageFilter()
