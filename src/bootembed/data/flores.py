"""FLORES-200 multi-way parallel sentences (NLLB Team et al., 2022, "No Language Left Behind").

Line ``i`` of every language file is a translation of the same English sentence; ``dev`` has
997 lines and ``devtest`` 1012. ``devtest`` is for evaluation only. ``metadata_<split>.tsv`` gives
the source article (URL), domain and topic of every line (:func:`load_flores_urls`).
"""

from __future__ import annotations

from pathlib import Path

from bootembed.data.languages import validate_flores_code
from bootembed.data.sources import DataError, DataSources, cached_parser, read_text

#: Number of sentences per split.
FLORES_SPLIT_SIZES: dict[str, int] = {"dev": 997, "devtest": 1012}


def flores_relpath(lang: str, split: str) -> str:
    """Mirror-layout path of a FLORES-200 file, e.g. ``flores200/dev/hau_Latn.dev``.

    Raises:
        DataError: On an unknown language code or split.
    """
    validate_flores_code(lang)
    if split not in FLORES_SPLIT_SIZES:
        raise DataError(f"FLORES-200 split {split!r}: expected one of {sorted(FLORES_SPLIT_SIZES)}")
    return f"flores200/{split}/{lang}.{split}"


@cached_parser
def _parse_flores(path: Path) -> tuple[str, ...]:
    text = read_text(path)
    if text.endswith("\n"):
        text = text[:-1]
    lines = tuple(line.removesuffix("\r") for line in text.split("\n")) if text else ()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(path, "a non-empty sentence on every line", line=i)
    return lines


def load_flores(sources: DataSources, lang: str, split: str) -> list[str]:
    """Load one FLORES-200 split for one language.

    Args:
        sources: Where to read from.
        lang: FLORES-200 code, e.g. ``"hau_Latn"``.
        split: ``"dev"`` (997 sentences) or ``"devtest"`` (1012 sentences).

    Returns:
        The sentences in file order (line terminators removed, otherwise unmodified); index
        ``i`` is parallel across languages.

    Raises:
        DataError: Unknown language or split, missing file, empty line, or a line count other
            than 997 / 1012.

    Example:
        >>> load_flores(sources, "hau_Latn", "dev")[:1]  # doctest: +SKIP
        ['...']
    """
    path = sources.file(flores_relpath(lang, split))
    lines = _parse_flores(path)
    expected = FLORES_SPLIT_SIZES[split]
    if len(lines) != expected:
        raise DataError(path, f"{expected} lines for FLORES-200 {split}, found {len(lines)}")
    return list(lines)


def flores_metadata_relpath(split: str) -> str:
    """Mirror-layout path of a FLORES-200 metadata file, e.g. ``flores200/metadata_dev.tsv``.

    Raises:
        DataError: On an unknown split.
    """
    if split not in FLORES_SPLIT_SIZES:
        raise DataError(f"FLORES-200 split {split!r}: expected one of {sorted(FLORES_SPLIT_SIZES)}")
    return f"flores200/metadata_{split}.tsv"


@cached_parser
def _parse_metadata_urls(path: Path) -> tuple[str, ...]:
    lines = read_text(path).removesuffix("\n").split("\n")
    header = lines[0].removesuffix("\r").split("\t")
    if not header or header[0] != "URL":
        raise DataError(path, "a header line whose first column is 'URL'", line=1)
    urls = []
    for i, line in enumerate(lines[1:], start=2):
        url = line.removesuffix("\r").split("\t", 1)[0].strip()
        if not url:
            raise DataError(path, "a non-empty URL", field="URL", line=i)
        urls.append(url)
    return tuple(urls)


def load_flores_urls(sources: DataSources, split: str) -> list[str]:
    """The source-article URL of every line of a FLORES-200 split (``metadata_<split>.tsv``, column ``URL``).

    Consecutive lines of one article share a URL; the URL is the same in every language (the files are
    line-parallel).

    Args:
        sources: Where to read from.
        split: ``"dev"`` or ``"devtest"``.

    Returns:
        One URL per line of the split (997 / 1012), in file order.

    Raises:
        DataError: Unknown split, missing file, a header without ``URL`` first, an empty URL, or a row count
            other than the split's line count.
    """
    path = sources.file(flores_metadata_relpath(split))
    urls = _parse_metadata_urls(path)
    expected = FLORES_SPLIT_SIZES[split]
    if len(urls) != expected:
        raise DataError(path, f"{expected} metadata rows for FLORES-200 {split}, found {len(urls)}")
    return list(urls)
