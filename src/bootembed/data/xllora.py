"""XL-LoRA generator training pairs from the reference implementation (mbasoz/xllora-embedding,
``data/``), used by "Bootstrapping Embeddings for Low Resource Languages" (Basoz, Horne, Opper,
arXiv 2603.01732) to train the positive / negative generators.

``xllora/mixed_parallel_xnli_14l_opusmt_10k_fin_pos.csv`` has columns ``sent0, sent1``
(non-English XNLI premise, English entailed hypothesis); ``..._neg.csv`` has ``sent0, hard_neg``
(premise, English contradiction). Standard CSV quoting; 10,000 rows each.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from bootembed.data.sources import DataError, DataSources, cached_parser, read_text

#: polarity -> (mirror-layout path, premise column, hypothesis column)
XLLORA_FILES: dict[str, tuple[str, str, str]] = {
    "positive": ("xllora/mixed_parallel_xnli_14l_opusmt_10k_fin_pos.csv", "sent0", "sent1"),
    "negative": ("xllora/mixed_parallel_xnli_14l_opusmt_10k_fin_neg.csv", "sent0", "hard_neg"),
}


@dataclass(frozen=True)
class PremiseHypothesis:
    """A generator training pair.

    Attributes:
        premise: Non-English premise (one of 14 XNLI languages).
        hypothesis: English entailment (positive) or contradiction (negative).
    """

    premise: str
    hypothesis: str


_Rows = tuple[tuple[int, tuple[str, ...]], ...]


@cached_parser
def _parse_csv(path: Path) -> tuple[tuple[str, ...], _Rows]:
    """(header, ((line number, fields), ...)) of a standard-quoted CSV file."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        raise DataError(path, "a CSV header", line=1)
    rows = tuple((reader.line_num, tuple(row)) for row in reader if row)
    return tuple(h.strip().lstrip("\ufeff") for h in header), rows


def load_xllora_pairs(sources: DataSources, polarity: str) -> list[PremiseHypothesis]:
    """Load the XL-LoRA positive or negative generator pairs.

    Args:
        sources: Where to read from.
        polarity: ``"positive"`` (``sent0, sent1``) or ``"negative"`` (``sent0, hard_neg``).

    Returns:
        Pairs in file order (surrounding whitespace stripped).

    Raises:
        DataError: Unknown polarity, missing file, missing column, wrong field count or an
            empty premise / hypothesis.
    """
    if polarity not in XLLORA_FILES:
        raise DataError(f"XL-LoRA polarity {polarity!r}: expected one of {sorted(XLLORA_FILES)}")
    relpath, premise_col, hyp_col = XLLORA_FILES[polarity]
    path = sources.file(relpath)
    header_t, rows = _parse_csv(path)
    header = list(header_t)
    for col in (premise_col, hyp_col):
        if col not in header:
            raise DataError(path, f"a column named {col!r} in header {header}", field=col, line=1)
    i_p, i_h = header.index(premise_col), header.index(hyp_col)
    pairs = []
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(path, f"{len(header)} fields, got {len(row)}", line=line)
        premise, hypothesis = row[i_p].strip(), row[i_h].strip()
        if not premise:
            raise DataError(path, "a non-empty premise", field=premise_col, line=line)
        if not hypothesis:
            raise DataError(path, "a non-empty hypothesis", field=hyp_col, line=line)
        pairs.append(PremiseHypothesis(premise, hypothesis))
    return pairs
