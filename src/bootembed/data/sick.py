"""SICK: Sentences Involving Compositional Knowledge (Marelli et al., 2014, LREC).

``sick/SICK.txt`` is a plain tab-separated file (no quoting; some sentences contain ``"``) with
12 columns: ``pair_ID, sentence_A, sentence_B, entailment_label, relatedness_score,
entailment_AB, entailment_BA, sentence_A_original, sentence_B_original, sentence_A_dataset,
sentence_B_dataset, SemEval_set``; 9,840 pairs. Relatedness is on a 1-5 scale.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bootembed.data.sources import DataError, DataSources, cached_parser, parse_field, read_text

SICK_RELPATH = "sick/SICK.txt"
SICK_HEADER: tuple[str, ...] = (
    "pair_ID",
    "sentence_A",
    "sentence_B",
    "entailment_label",
    "relatedness_score",
    "entailment_AB",
    "entailment_BA",
    "sentence_A_original",
    "sentence_B_original",
    "sentence_A_dataset",
    "sentence_B_dataset",
    "SemEval_set",
)
SICK_LABELS: frozenset[str] = frozenset({"ENTAILMENT", "NEUTRAL", "CONTRADICTION"})
SICK_SPLITS: frozenset[str] = frozenset({"TRAIN", "TRIAL", "TEST"})

_T = TypeVar("_T")


@dataclass(frozen=True)
class SickPair:
    """One SICK sentence pair.

    Attributes:
        pair_id: ``pair_ID``.
        sentence_a: ``sentence_A``.
        sentence_b: ``sentence_B``.
        entailment_label: ``ENTAILMENT`` / ``NEUTRAL`` / ``CONTRADICTION`` (gold, symmetric-
            resolved label of the pair).
        entailment_ab: Directional A->B label, e.g. ``A_entails_B``, ``A_contradicts_B``,
            ``A_neutral_B``.
        relatedness_score: Mean relatedness in [1, 5].
        split: ``SemEval_set`` as in the file: ``TRAIN``, ``TRIAL`` or ``TEST``.
    """

    pair_id: int
    sentence_a: str
    sentence_b: str
    entailment_label: str
    entailment_ab: str
    relatedness_score: float
    split: str


def _one_of(allowed: frozenset[str]) -> Callable[[str], str]:
    """A converter that returns a value of ``allowed`` unchanged and raises ``ValueError`` for any other."""

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(value)
        return value

    return check


def _field(
    path: Path,
    lineno: int,
    row: list[str],
    col: dict[str, int],
    name: str,
    convert: Callable[[str], _T],
    expected: str,
) -> _T:
    """Field ``name`` of a SICK row, converted (:func:`bootembed.data.sources.parse_field`)."""
    return parse_field(row[col[name]], convert, expected, path, field=name, line=lineno)


@cached_parser
def _parse_sick(path: Path) -> tuple[SickPair, ...]:
    lines = read_text(path).splitlines()
    if not lines:
        raise DataError(path, f"header {', '.join(SICK_HEADER)}", line=1)
    header = lines[0].split("\t")
    for name in SICK_HEADER:
        if name not in header:
            raise DataError(path, f"a column named {name!r} in the header", field=name, line=1)
    col = {name: header.index(name) for name in SICK_HEADER}
    pairs = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = line.split("\t")
        if len(row) != len(header):
            raise DataError(
                path, f"{len(header)} tab-separated fields, got {len(row)}", line=lineno
            )
        field = functools.partial(_field, path, lineno, row, col)
        pair_id = field("pair_ID", int, "an integer")
        score = field("relatedness_score", float, "a number")
        if not (math.isfinite(score) and 1.0 <= score <= 5.0):
            raise DataError(
                path, f"a score in [1, 5], got {score}", field="relatedness_score", line=lineno
            )
        label = field("entailment_label", _one_of(SICK_LABELS), f"one of {sorted(SICK_LABELS)}")
        split = field("SemEval_set", _one_of(SICK_SPLITS), f"one of {sorted(SICK_SPLITS)}")
        a, b = row[col["sentence_A"]].strip(), row[col["sentence_B"]].strip()
        if not a or not b:
            raise DataError(path, "non-empty sentences", field="sentence_A/sentence_B", line=lineno)
        pairs.append(SickPair(pair_id, a, b, label, row[col["entailment_AB"]], score, split))
    return tuple(pairs)


def load_sick(sources: DataSources) -> list[SickPair]:
    """Load all 9,840 SICK pairs (all SemEval splits; filter on :attr:`SickPair.split`).

    Raises:
        DataError: Missing file, missing column, wrong field count, unparseable id / score,
            score outside [1, 5], unknown label or split.
    """
    return list(_parse_sick(sources.file(SICK_RELPATH)))
