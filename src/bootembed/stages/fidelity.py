"""The ``fidelity`` stage: does a strategy's training data mean something? (:mod:`bootembed.fidelity`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sources import DataError
from bootembed.fidelity import triplet_fidelity
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, data_sources, language_stage
from bootembed.stages.encoding import encoding_dtype

__all__ = ["run"]


def _fidelity(request: LanguageRequest, *, encoder: Path, triplets: Path) -> dict[str, Any]:
    """The fidelity diagnostic of the triplets one encoder trains on, measured with the base ``encoder``.

    Raises:
        DataError: ``triplets`` has no ``strategy`` column, or holds several strategies.
    """
    params, language = request.params, request.language
    frame = pl.read_parquet(triplets)
    if "strategy" not in frame.columns or frame["strategy"].n_unique() != 1:
        raise DataError(
            triplets, "triplets of one strategy (a 'strategy' column)", field="strategy"
        )
    decision = encoding_dtype(params, encoder, data_sources(params, request.params_path), language)
    result = triplet_fidelity(
        frame,
        encoder,
        batch_size=params.evaluate.batch_size,
        seed=params.seed,
        dtype=decision.dtype,
    )
    return {
        "strategy": frame["strategy"][0],
        "language": language,
        "fidelity": result,
        **record(seed=params.seed, dtypes=[decision]),
    }


run = language_stage(_fidelity)
