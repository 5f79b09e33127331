"""Text normalisation and tokens, in one place for every stage (contamination, filtering, augmentation, prompts).

* :func:`collapse_whitespace`: every whitespace run to one space, ends stripped (prompts, anchors, pools);
* :func:`normalize_sentence`: NFKC + casefold + collapsed whitespace: the key under which two sentences are "the
  same" for contamination matching;
* :func:`copy_key`: :func:`normalize_sentence` with punctuation and symbols removed (``"Children are playing."`` ->
  ``"children are playing"``): **the one normaliser of copy detection**, shared by every stage that asks whether
  one text copies another: the filter chain (copies of the anchor, positive = negative, exact duplicates), the
  XL-LoRA augmentation (a hypothesis that copies its premise) and the Dice overlap of the data diagnostics;
* :func:`words` and :func:`dice`: word sets of :func:`copy_key` and their Dice overlap (near-copies of the anchor,
  data diagnostics): ``dice("I like water.", "I like water") == 1.0``.
"""

from __future__ import annotations

import unicodedata

__all__ = ["collapse_whitespace", "copy_key", "dice", "normalize_sentence", "words"]


def collapse_whitespace(text: str) -> str:
    """Collapse every whitespace run to one space and strip the ends.

    Example:
        >>> collapse_whitespace("  a \\n b ")
        'a b'
    """
    return " ".join(text.split())


def normalize_sentence(text: str) -> str:
    """Canonical form for sentence identity (contamination matching).

    Applies Unicode NFKC, casefolding (then NFKC again, as casefolding can denormalise), collapses every whitespace
    run to one space and strips the ends.

    Example:
        >>> normalize_sentence("  Hello\\u00a0 WORLD\\n")
        'hello world'
    """
    return collapse_whitespace(
        unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    )


def _is_mark(char: str) -> bool:
    """Punctuation (``P*``) or symbol (``S*``) in Unicode's general categories (``.``, ``'``, ``«``, ``€``, ``।``)."""
    return unicodedata.category(char)[0] in "PS"


def copy_key(text: str) -> str:
    """The key under which one text copies another: :func:`normalize_sentence`, punctuation and symbols removed.

    Every character of Unicode category ``P*`` (punctuation) or ``S*`` (symbol) becomes a space, so
    ``"I like water."``, ``"i LIKE water"`` and ``"I like -- water!"`` share a key. Letters, digits and combining
    marks are kept (Devanagari vowel signs, Hausa hooked letters ``ɓ ɗ ƙ`` and ``ƴ`` survive; the apostrophe of
    Hausa ``'yan`` is removed on both sides alike).

    Example:
        >>> copy_key("  Children are PLAYING. ")
        'children are playing'
        >>> copy_key("Ina son ruwa!") == copy_key("ina son ruwa")
        True
    """
    folded = normalize_sentence(text)
    return collapse_whitespace("".join(" " if _is_mark(c) else c for c in folded))


def words(text: str) -> set[str]:
    """The set of whitespace-separated tokens of :func:`copy_key` (case, punctuation and symbols ignored)."""
    return set(copy_key(text).split())


def dice(a: str, b: str) -> float:
    """Dice coefficient of the word sets of ``a`` and ``b``: 2|A∩B| / (|A| + |B|), in [0, 1] (1.0 for two empties).

    Words are those of :func:`copy_key`, so punctuation does not count: ``dice("I like water.", "I like water")``
    is 1.0.
    """
    words_a, words_b = words(a), words(b)
    if not words_a and not words_b:
        return 1.0
    return 2 * len(words_a & words_b) / (len(words_a) + len(words_b))
