"""The triplet table every strategy produces: its schema, in one place.

Synthetic strategies (:mod:`bootembed.synthesize`) and baselines (:mod:`bootembed.baselines`) write the same
columns, so the filter, the diagnostics and encoder training treat them alike.
"""

from __future__ import annotations

import polars as pl

__all__ = ["TRIPLET_SCHEMA"]

#: Columns of a triplet Parquet (positive / negative are null where a generation was unparseable).
TRIPLET_SCHEMA: dict[str, pl.DataType] = {
    "anchor_id": pl.Int64(),
    "anchor": pl.String(),
    "positive": pl.String(),
    "negative": pl.String(),
    "positive_raw": pl.String(),
    "negative_raw": pl.String(),
    "language": pl.String(),
    "strategy": pl.String(),
    "generator_id": pl.String(),
    "backend": pl.String(),
    "seed": pl.Int64(),
}
