"""SIB-200 topic classification (Adelani et al., 2024, "SIB-200: A Simple, Inclusive, and Big
Evaluation Dataset for Topic Classification in 200+ Languages and Dialects").

Files ``sib200/annotated/<code>/{train,dev,test}.tsv`` are tab separated with standard CSV
quoting and the header ``index_id, category, text``. ``text`` is a FLORES-200 sentence and
``index_id`` indexes FLORES-200 ``dev`` (0..996) followed by ``devtest`` (997..2008).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from bootembed.data.flores import FLORES_SPLIT_SIZES
from bootembed.data.languages import SIB200_CODES, validate_flores_code
from bootembed.data.sources import DataError, DataSources, cached_parser, parse_field, read_text

SIB_SPLITS: tuple[str, ...] = ("train", "dev", "test")
SIB_HEADER: tuple[str, ...] = ("index_id", "category", "text")
#: The 7 SIB-200 topic labels.
SIB_CATEGORIES: frozenset[str] = frozenset(
    {
        "science/technology",
        "travel",
        "politics",
        "sports",
        "health",
        "entertainment",
        "geography",
    }
)
_N_FLORES = FLORES_SPLIT_SIZES["dev"] + FLORES_SPLIT_SIZES["devtest"]


@dataclass(frozen=True)
class SibExample:
    """One SIB-200 example.

    Attributes:
        index_id: FLORES-200 position: dev line ``index_id`` if < 997, else devtest line
            ``index_id - 997`` (see :func:`sib_flores_position`).
        category: One of :data:`SIB_CATEGORIES`.
        text: The sentence (identical to the FLORES-200 line up to surrounding whitespace).
    """

    index_id: int
    category: str
    text: str


def sib_flores_position(index_id: int) -> tuple[str, int]:
    """Map a SIB-200 ``index_id`` to (FLORES split, 0-based line index).

    Example:
        >>> sib_flores_position(5), sib_flores_position(1000)
        (('dev', 5), ('devtest', 3))

    Raises:
        ValueError: If ``index_id`` is outside 0..2008.
    """
    n_dev = FLORES_SPLIT_SIZES["dev"]
    if not 0 <= index_id < _N_FLORES:
        raise ValueError(f"SIB-200 index_id {index_id}: expected 0..{_N_FLORES - 1}")
    return ("dev", index_id) if index_id < n_dev else ("devtest", index_id - n_dev)


@cached_parser
def _parse_sib(path: Path) -> tuple[SibExample, ...]:
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t")
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, f"header {', '.join(SIB_HEADER)}", line=1) from None
    for col, want in enumerate(SIB_HEADER):
        got = header[col] if col < len(header) else None
        if got != want:
            raise DataError(
                path, f"column {col + 1} named {want!r}, got {got!r}", field=want, line=1
            )
    if len(header) != len(SIB_HEADER):
        raise DataError(path, f"header {', '.join(SIB_HEADER)}, got {header}", line=1)
    examples = []
    for row in reader:
        line = reader.line_num
        if len(row) != 3:
            raise DataError(path, f"3 tab-separated fields, got {len(row)}", line=line)
        raw_id, category, text = row
        index_id = parse_field(raw_id, int, "an integer", path, field="index_id", line=line)
        if not 0 <= index_id < _N_FLORES:
            raise DataError(
                path, f"0..{_N_FLORES - 1}, got {index_id}", field="index_id", line=line
            )
        if category not in SIB_CATEGORIES:
            raise DataError(
                path,
                f"one of {sorted(SIB_CATEGORIES)}, got {category!r}",
                field="category",
                line=line,
            )
        if not text.strip():
            raise DataError(path, "a non-empty sentence", field="text", line=line)
        examples.append(SibExample(index_id, category, text))
    return tuple(examples)


def load_sib200(sources: DataSources, lang: str, split: str) -> list[SibExample]:
    """Load one SIB-200 split for one language.

    Args:
        sources: Where to read from.
        lang: FLORES-200 code (or ``nqo_Nkoo``).
        split: ``"train"`` (701), ``"dev"`` (99) or ``"test"`` (204 examples).

    Returns:
        The examples in file order.

    Raises:
        DataError: Unknown language or split, missing file, wrong header, non-integer or
            out-of-range ``index_id``, unknown category, or empty text.
    """
    validate_flores_code(lang, allowed=SIB200_CODES)
    if split not in SIB_SPLITS:
        raise DataError(f"SIB-200 split {split!r}: expected one of {list(SIB_SPLITS)}")
    path = sources.file(f"sib200/annotated/{lang}/{split}.tsv")
    return list(_parse_sib(path))
