"""The ``filter`` stage: drop unusable synthetic triplets (each reason counted) and record the data diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sources import DataError
from bootembed.diagnostics import LANGID_MODEL, triplet_diagnostics
from bootembed.filtering import filter_triplets
from bootembed.io import write_parquet
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, language_stage
from bootembed.strategies import STRATEGIES

__all__ = ["run"]


def _filter(request: LanguageRequest, *, triplets: Path, out: Path) -> dict[str, Any]:
    """Filter ``triplets`` into ``out``; diagnostics of the unfiltered triplets go to ``metrics_path``.

    Raises:
        DataError: the file has no ``strategy`` column, holds several strategies, or too few rows survive.
    """
    language = request.language
    frame = pl.read_parquet(triplets)
    if "strategy" not in frame.columns:
        raise DataError(triplets, "synthetic triplets with a 'strategy' column", field="strategy")
    strategies = frame["strategy"].unique().to_list()
    if len(strategies) != 1:
        raise DataError(triplets, f"one strategy, found {strategies}", field="strategy")
    strategy = STRATEGIES.get(strategies[0])
    target = strategy.output_language(language)
    diagnostics = triplet_diagnostics(frame, positive_language=target, negative_language=target)
    kept, counts = filter_triplets(frame, request.params.filter)
    if kept.height < 2:
        raise DataError(
            triplets,
            f">= 2 triplets surviving the filter to train on, got {kept.height} ({counts})",
        )
    write_parquet(out, kept)
    return {
        "strategy": strategy.name,
        "language": language,
        "langid_model": LANGID_MODEL,
        "filter": counts,
        "diagnostics": diagnostics,
        **record(),
    }


run = language_stage(_filter)
