"""How well the filter chain's language-ID model does its job, measured on FLORES-200 ``dev``.

The ``language`` step of the filter chain (:mod:`bootembed.filters.language`) drops a row when Google CLD3
(``cld3-py``, :func:`bootembed.diagnostics.detect_languages`) assigns a field to another language than asked for,
with probability at least ``filter.language.min_confidence``. Two errors matter, and both are measured per language
L on the 997 FLORES-200 ``dev`` sentences (human translations, so their language is known), on whole sentences and
on their first :data:`SHORT_WORDS` words (the length of a generated hypothesis):

* ``accuracy``: CLD3's top language is L (ISO 639-3 part compared; an undetermined text counts as wrong);
* ``false_drop_rate``: share of genuine L sentences the filter would drop (it calls them another language);
* ``english_caught``: share of the aligned English sentences the filter drops when L is asked for: the failure it
  is there to catch (ICL answers in English);
* ``confusions``: the three most frequent wrong top languages on whole sentences.

Measured for :data:`LID_LANGUAGES` and every language of ``params.yaml``'s ``languages``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bootembed.diagnostics import (
    LANGID_MODEL,
    cutoff,
    detect_languages,
    is_other_language,
    langid_supports,
)

__all__ = ["LID_LANGUAGES", "SHORT_WORDS", "langid_accuracy"]

logger = logging.getLogger(__name__)

#: Languages always measured besides ``languages``: those of the filter tests' hand-written examples.
LID_LANGUAGES: tuple[str, ...] = ("hau_Latn", "afr_Latn", "eng_Latn")
#: Words of the short condition (a generated hypothesis is about this long).
SHORT_WORDS = 6
_ENGLISH = "eng_Latn"


def _rates(
    language: str, texts: Sequence[str], english: Sequence[str] | None, min_confidence: float
) -> dict[str, float]:
    detected = detect_languages(texts)
    want = language.split("_")[0]
    n = len(texts)
    out = {
        "accuracy": sum(c is not None and c.split("_")[0] == want for c, _ in detected) / n,
        "false_drop_rate": sum(
            is_other_language(c, p, language, min_confidence=min_confidence) for c, p in detected
        )
        / n,
    }
    if english is not None:
        caught = detect_languages(english)
        out["english_caught"] = sum(
            is_other_language(c, p, language, min_confidence=min_confidence) for c, p in caught
        ) / len(english)
    return {k: round(v, 4) for k, v in out.items()}


def langid_accuracy(
    sentences: Mapping[str, Sequence[str]], *, min_confidence: float, short_words: int = SHORT_WORDS
) -> dict[str, Any]:
    """Accuracy and filter error rates of CLD3 per language (see the module docstring).

    Args:
        sentences: FLORES-200 code -> its ``dev`` sentences (line-aligned across languages); ``eng_Latn`` must be
            present (for ``english_caught``).
        min_confidence: the language step's ``min_confidence``.
        short_words: words kept in the short condition.

    Returns:
        ``{"model", "data", "min_confidence", "short_words", "languages": {code: {"supported", "n", "cutoff",
        "accuracy", "false_drop_rate", "english_caught", "short": {the same three}, "confusions"}}}``; rates
        rounded to 4 decimals (``english_caught`` absent for English itself).

    Raises:
        ValueError: ``eng_Latn`` is missing, a language has no sentences, or line counts differ.
    """
    if _ENGLISH not in sentences:
        raise ValueError("sentences: expected eng_Latn among the languages (for english_caught)")
    english = list(sentences[_ENGLISH])
    english_short = [" ".join(s.split()[:short_words]) for s in english]
    result: dict[str, Any] = {}
    for language, texts in sentences.items():
        texts = list(texts)
        if not texts or len(texts) != len(english):
            raise ValueError(
                f"sentences[{language!r}]: expected {len(english)} sentences aligned with eng_Latn, "
                f"got {len(texts)}"
            )
        is_english = language == _ENGLISH
        short = [" ".join(s.split()[:short_words]) for s in texts]
        want = language.split("_")[0]
        wrong = Counter(
            c for c, _ in detect_languages(texts) if c is None or c.split("_")[0] != want
        )
        result[language] = {
            "supported": langid_supports(language),
            "n": len(texts),
            "cutoff": cutoff(language, min_confidence),
            **_rates(language, texts, None if is_english else english, min_confidence),
            "short": _rates(language, short, None if is_english else english_short, min_confidence),
            "confusions": {str(c): k for c, k in wrong.most_common(3)},
        }
        logger.info("langid %s: %s", language, result[language])
    return {
        "model": LANGID_MODEL,
        "data": "FLORES-200 dev",
        "min_confidence": min_confidence,
        "short_words": short_words,
        "languages": result,
    }
