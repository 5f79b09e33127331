"""SemRel 2024: SemEval-2024 Task 1 semantic textual relatedness (Ousidhoum et al., 2024).

Files ``semrel2024/<code>/{train,dev,test}.csv`` are comma separated with standard CSV quoting
and the columns ``PairID, Text, Score``; ``Text`` holds ``sentence1\\nsentence2`` (one newline
inside a quoted field) and ``Score`` is a relatedness score in [0, 1]. Not every language has
every split (e.g. Spanish ``esp`` has no test split, Afrikaans ``afr`` no train split).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from bootembed.data.languages import semrel_code
from bootembed.data.sources import (
    SEMREL_OFFICIAL_PATHS,
    DataError,
    DataSources,
    cached_parser,
    parse_field,
    read_text,
)

SEMREL_SPLITS: tuple[str, ...] = ("train", "dev", "test")
SEMREL_COLUMNS: tuple[str, ...] = ("PairID", "Text", "Score")


@dataclass(frozen=True)
class RelatednessPair:
    """One SemRel sentence pair.

    Attributes:
        pair_id: e.g. ``"hau_test_00001"``.
        sentence1: First sentence (surrounding whitespace stripped).
        sentence2: Second sentence (surrounding whitespace stripped).
        score: Gold relatedness in [0, 1].
    """

    pair_id: str
    sentence1: str
    sentence2: str
    score: float


@cached_parser
def _parse_semrel(path: Path) -> tuple[RelatednessPair, ...]:
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise DataError(path, f"header {', '.join(SEMREL_COLUMNS)}", line=1) from None
    cols = {}
    for name in SEMREL_COLUMNS:
        if name not in header:
            raise DataError(path, f"a column named {name!r} in header {header}", field=name, line=1)
        cols[name] = header.index(name)
    pairs = []
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                path, f"{len(header)} comma-separated fields, got {len(row)}", line=line
            )
        pair_id = row[cols["PairID"]].strip()
        if not pair_id:
            raise DataError(path, "a non-empty pair id", field="PairID", line=line)
        parts = row[cols["Text"]].replace("\r\n", "\n").split("\n")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DataError(
                path,
                f"'sentence1<newline>sentence2' (2 non-empty lines), got {len(parts)} line(s)",
                field="Text",
                line=line,
            )
        score = parse_field(
            row[cols["Score"]].strip(), float, "a number", path, field="Score", line=line
        )
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise DataError(path, f"a score in [0, 1], got {score}", field="Score", line=line)
        pairs.append(RelatednessPair(pair_id, parts[0].strip(), parts[1].strip(), score))
    return tuple(pairs)


def _semrel_relpath(code: str, split: str) -> str:
    return f"semrel2024/{code}/{split}.csv"


def semrel_splits(sources: DataSources, lang: str) -> frozenset[str]:
    """Which SemRel splits exist for a language.

    In local mode: the split files present in the mirror. In download mode: the cached files
    plus the splits with a known official URL.

    Args:
        sources: Where to read from.
        lang: FLORES-200 code (e.g. ``"hau_Latn"``).

    Returns:
        Subset of ``{"train", "dev", "test"}``; empty if SemRel does not cover ``lang``.

    Raises:
        DataError: If ``lang`` is not a FLORES-200 code.
    """
    code = semrel_code(lang)
    if code is None:
        return frozenset()
    return frozenset(s for s in SEMREL_SPLITS if sources.available(_semrel_relpath(code, s)))


def load_semrel(sources: DataSources, lang: str, split: str) -> list[RelatednessPair]:
    """Load one SemRel 2024 split.

    Args:
        sources: Where to read from.
        lang: FLORES-200 code (mapped with :func:`~bootembed.data.languages.semrel_code`).
        split: ``"train"``, ``"dev"`` or ``"test"`` (see :func:`semrel_splits`).

    Returns:
        The pairs in file order.

    Raises:
        DataError: Language without SemRel data, unknown or absent split, missing columns,
            ``Text`` without exactly two lines, or an unparseable / out-of-range score.
    """
    code = semrel_code(lang)
    if code is None:
        raise DataError(f"language {lang!r}: expected a language covered by SemRel 2024")
    if split not in SEMREL_SPLITS:
        raise DataError(f"SemRel split {split!r}: expected one of {list(SEMREL_SPLITS)}")
    relpath = _semrel_relpath(code, split)
    if sources.mode == "download" and (code, split) not in SEMREL_OFFICIAL_PATHS:
        if not (sources.root / relpath).is_file():
            raise DataError(sources.root / relpath, f"a released SemRel {split} split for {code!r}")
    return list(_parse_semrel(sources.file(relpath)))
