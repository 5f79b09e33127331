"""The baseline stages: the triplets of a non-synthetic strategy (translation, English-only) and their diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootembed.diagnostics import LANGID_MODEL, triplet_diagnostics
from bootembed.io import write_parquet
from bootembed.provenance import record
from bootembed.stages.common import StrategyRequest, data_sources, strategy_stage
from bootembed.stages.encoding import encoding_dtype
from bootembed.strategies.base import BaselineStrategy

__all__ = ["run"]


def _build(request: StrategyRequest) -> dict[str, Any]:
    """Build the baseline's triplets for ``language`` into ``out`` (their diagnostics to ``metrics_path``).

    Raises:
        ValueError: the strategy is not a baseline.
    """
    params, strategy, language = request.params, request.strategy, request.language
    sources = data_sources(params, request.params_path)
    dtypes = []
    encoder_dtype = "float32"
    if "encoder" in request.inputs:
        decision = encoding_dtype(params, Path(request.inputs["encoder"]), sources, language)
        dtypes.append(decision)
        encoder_dtype = decision.dtype
    triplets = strategy.build_triplets(
        params, language, request.inputs, sources, encoder_dtype=encoder_dtype
    )
    write_parquet(request.out, triplets)
    target = strategy.output_language(language)
    return {
        "strategy": strategy.name,
        "language": language,
        "langid_model": LANGID_MODEL,
        "triplets": triplets.height,
        "anchors": triplets["anchor_id"].n_unique(),
        "diagnostics": triplet_diagnostics(
            triplets, positive_language=target, negative_language=target
        ),
        **record(seed=params.seed, dtypes=dtypes),
    }


run = strategy_stage(BaselineStrategy, "a baseline", _build)
