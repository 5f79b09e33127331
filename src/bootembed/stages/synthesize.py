"""The ``synthesize`` stage: one synthetic strategy writes a positive and a hard negative for every anchor.

One matrix stage runs every synthetic strategy of :data:`bootembed.strategies.STRATEGIES` the same way: the
strategy gives the prompts, the adapters per polarity and the parser; the backend of ``synthesize.backend``
generates, resumably, in the dtype :mod:`bootembed.hardware` resolves.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.io import write_json, write_parquet
from bootembed.prompts import POLARITIES
from bootembed.provenance import record
from bootembed.stages.common import stage_language, stage_strategy
from bootembed.stages.generating import generate
from bootembed.strategies.base import SyntheticStrategy
from bootembed.synthesize import merge_shards, parse_shard

__all__ = ["merge", "run"]

logger = logging.getLogger(__name__)


def run(
    params: Any,
    *,
    params_path: Path,
    strategy: str,
    language: str,
    base: Path,
    generator_dir: Path,
    anchors: Path,
    out: Path,
    work_dir: Path | None,
    shard: str,
    metrics_path: Path,
) -> dict[str, Any]:
    """Synthesise the triplets of one strategy and language into ``out`` (Parquet, :data:`TRIPLET_SCHEMA`).

    Raises:
        ValueError: the strategy is not a synthetic strategy, or a bad shard spec.
    """
    strategy = stage_strategy(strategy, SyntheticStrategy, "a synthetic strategy")
    shard_spec = parse_shard(shard)
    language = stage_language(params, language, params_path)
    anchor_frame = pl.read_parquet(anchors)
    build = strategy.prompt_builder(params, language, generator_dir)
    adapter_dirs = strategy.adapter_dirs(generator_dir)
    adapters = dict(strategy.adapters)
    generator_id = strategy.generator_id(base, generator_dir)
    triplets, stats, work, dtype = generate(
        params,
        base,
        adapter_dirs,
        anchor_frame,
        build,
        adapter=adapters[POLARITIES[0]],
        generator_id=generator_id,
        strategy=strategy.name,
        work_dir=work_dir,
        output=out,
        adapters=adapters,
        parse=strategy.parse,
        shard=shard_spec,
    )
    write_parquet(out, triplets)
    metrics = {
        "strategy": strategy.name,
        "language": language,
        "backend": params.synthesize.backend,
        "generator_id": generator_id,
        **({"shard": shard} if shard_spec != (0, 1) else {}),
        **stats,
        **record(seed=params.seed, dtypes=[dtype]),
    }
    write_json(metrics_path, metrics)
    work.remove()
    return metrics


def merge(*, anchors: Path, out: Path, shards: tuple[Path, ...]) -> int:
    """Merge ``synthesize --shard I/N`` outputs into one file in anchor order; returns the row count.

    Raises:
        ValueError: gaps, duplicates, foreign ids or other columns (the files are named).
    """
    frames = [pl.read_parquet(path) for path in shards]
    try:
        merged = merge_shards(pl.read_parquet(anchors), frames)
    except ValueError as exc:
        raise ValueError(f"{', '.join(map(str, shards))}: {exc}") from exc
    write_parquet(out, merged)
    logger.info("merged %d shard(s) into %s (%d rows)", len(shards), out, merged.height)
    return merged.height
