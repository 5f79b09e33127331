"""Text normalisation and tokens, in one place for every stage (contamination, filtering, augmentation, prompts).

* :func:`collapse_whitespace`: every whitespace run to one space, ends stripped (prompts, anchors, pools);
* :func:`normalize_sentence`: NFKC + casefold + collapsed whitespace: the key under which two sentences are "the
  same" (contamination matching, exact-copy and duplicate detection);
* :func:`word_key`: casefolded words without punctuation (``"Children are playing."`` -> ``"children are
  playing"``): the key under which a hypothesis copies its premise;
* :func:`words` and :func:`dice`: word sets and their Dice overlap (near-copies of the anchor, data diagnostics).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["collapse_whitespace", "dice", "normalize_sentence", "word_key", "words"]

_NON_WORD = re.compile(r"[\W_]+")


def collapse_whitespace(text: str) -> str:
    """Collapse every whitespace run to one space and strip the ends.

    Example:
        >>> collapse_whitespace("  a \\n b ")
        'a b'
    """
    return " ".join(text.split())


def normalize_sentence(text: str) -> str:
    """Canonical form for sentence identity (contamination matching, copies, duplicates).

    Applies Unicode NFKC, casefolding (then NFKC again, as casefolding can denormalise), collapses every whitespace
    run to one space and strips the ends.

    Example:
        >>> normalize_sentence("  Hello\\u00a0 WORLD\\n")
        'hello world'
    """
    return collapse_whitespace(
        unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    )


def word_key(text: str) -> str:
    """Case- and punctuation-insensitive form: ``"Children are playing."`` -> ``"children are playing"``."""
    return collapse_whitespace(_NON_WORD.sub(" ", text).casefold())


def words(text: str) -> set[str]:
    """The set of whitespace-separated tokens of :func:`normalize_sentence` (punctuation kept on tokens)."""
    return set(normalize_sentence(text).split())


def dice(a: str, b: str) -> float:
    """Dice coefficient of the word sets of ``a`` and ``b``: 2|A∩B| / (|A| + |B|), in [0, 1] (1.0 for two empties)."""
    words_a, words_b = words(a), words(b)
    if not words_a and not words_b:
        return 1.0
    return 2 * len(words_a & words_b) / (len(words_a) + len(words_b))
