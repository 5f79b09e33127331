"""Tatoeba bitext-mining test sets as released with LASER (Artetxe & Schwenk, 2019).

``tatoeba/tatoeba.<xxx>-eng.<xxx>`` and ``tatoeba/tatoeba.<xxx>-eng.eng`` are line aligned.
"""

from __future__ import annotations

from pathlib import Path

from bootembed.data.languages import tatoeba_code
from bootembed.data.sources import DataError, DataSources, cached_parser, read_text


@cached_parser
def _parse_lines(path: Path) -> tuple[str, ...]:
    text = read_text(path)
    if text.endswith("\n"):
        text = text[:-1]
    return tuple(line.removesuffix("\r") for line in text.split("\n")) if text else ()


def tatoeba_relpaths(code: str) -> tuple[str, str]:
    """Mirror-layout paths (target side, English side) for a Tatoeba code like ``"afr"``."""
    return f"tatoeba/tatoeba.{code}-eng.{code}", f"tatoeba/tatoeba.{code}-eng.eng"


def load_tatoeba(sources: DataSources, lang: str) -> tuple[list[str], list[str]] | None:
    """Load the Tatoeba test set of a language.

    Args:
        sources: Where to read from.
        lang: FLORES-200 code (mapped with :func:`~bootembed.data.languages.tatoeba_code`,
            e.g. ``arb_Arab`` -> ``ara``).

    Returns:
        ``(target_sentences, english_sentences)``, aligned by index, or None if Tatoeba has no
        test set for ``lang`` (e.g. ``hau_Latn``).

    Raises:
        DataError: Invalid language code, a missing file for a language that has a set, or
            differing line counts between the two sides.
    """
    code = tatoeba_code(lang)
    if code is None:
        return None
    src_rel, eng_rel = tatoeba_relpaths(code)
    src_path, eng_path = sources.file(src_rel), sources.file(eng_rel)
    src, eng = _parse_lines(src_path), _parse_lines(eng_path)
    if len(src) != len(eng):
        raise DataError(
            src_path, f"the same number of lines as {eng_path} ({len(eng)}), found {len(src)}"
        )
    return list(src), list(eng)
