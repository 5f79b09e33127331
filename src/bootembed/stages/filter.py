"""The ``filter`` stages: the quality-filter chain over one strategy's synthetic triplets, and its report.

``filter@<strategy>-<language>`` writes the training triplets, the filter report (``metrics/filter/<language>/
<strategy>.json``: rows in, rows dropped by each step and reason, rows kept, rows out, the chain's settings and the
data diagnostics of the unfiltered triplets and of the kept ones) and a seeded sample of the dropped rows per reason beside it
(``<strategy>-dropped.parquet``). ``filter_ablation@<variant>-<strategy>-<language>`` runs the same chain with the
params of an ablation variant (``--variant``: :func:`bootembed.filtering.variant_params`).

The report and the sample are written before the stage checks that at least two triplets survived, so a run whose
generator wrote nothing usable still shows why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sources import DataError
from bootembed.diagnostics import LANGID_MODEL, triplet_diagnostics
from bootembed.filtering import run_chain, variant_params
from bootembed.filters.base import FilterContext
from bootembed.io import write_json, write_parquet
from bootembed.provenance import record
from bootembed.stages.common import data_sources, stage_language
from bootembed.stages.encoding import encoding_dtype
from bootembed.strategies import STRATEGIES

__all__ = ["ENCODER_STEPS", "run"]

logger = logging.getLogger(__name__)

#: Steps that embed with the base encoder (the stage loads it only when one of them is enabled).
ENCODER_STEPS: tuple[str, ...] = ("negatives", "consistency")


def _read(triplets: Path) -> tuple[pl.DataFrame, Any]:
    try:
        frame = pl.read_parquet(triplets)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(triplets, f"a readable Parquet file ({type(exc).__name__})") from None
    if "strategy" not in frame.columns:
        raise DataError(triplets, "synthetic triplets with a 'strategy' column", field="strategy")
    strategies = frame["strategy"].unique().to_list()
    if len(strategies) != 1 or strategies[0] not in STRATEGIES:
        raise DataError(triplets, f"one registered strategy, found {strategies}", field="strategy")
    return frame, STRATEGIES.get(strategies[0])


def _texts_only(frame: pl.DataFrame) -> pl.DataFrame:
    """The triplet columns with every value that is not a string as null (the diagnostics read text only)."""
    return pl.DataFrame(
        {
            c: pl.Series(c, [v if isinstance(v, str) else None for v in frame[c]], dtype=pl.String)
            for c in ("anchor", "positive", "negative")
        }
    )


def run(
    params: Any,  # noqa: ANN401 - bootembed.config.Params
    *,
    params_path: Path,
    language: str,
    metrics_path: Path,
    triplets: Path,
    out: Path,
    encoder: Path | None = None,
    dropped: Path | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """Filter ``triplets`` into ``out``; the filter report to ``metrics_path``, the dropped sample to ``dropped``.

    Args:
        params: the validated params (``filter``, ``mining``, ``seed``, ``models.encoder.prompt``, ``evaluate``).
        params_path: the params file.
        language: the target language (``--language``).
        metrics_path: the filter report (JSON).
        triplets: the strategy's synthetic triplets (``data/synthetic/<language>/<strategy>.parquet``).
        out: the training triplets (Parquet).
        encoder: the base encoder, for the ``negatives`` and ``consistency`` steps.
        dropped: where the sample of dropped rows goes (default: ``<metrics_path stem>-dropped.parquet``).
        variant: an ablation variant (``unfiltered``, ``mined``), or ``None`` for the configured chain.

    Returns:
        The report written to ``metrics_path``.

    Raises:
        DataError: ``triplets`` is unreadable, has no single registered ``strategy``, lacks a triplet column, or
            fewer than 2 triplets survive (the report and sample are written first).
        ValueError: an enabled step needs the encoder and ``--encoder`` is missing; an unknown ``variant``.
    """
    language = stage_language(params, language, params_path)
    frame, strategy = _read(triplets)
    target = strategy.output_language(language)
    chain_params = params.filter if variant is None else variant_params(params.filter, variant)
    needs_encoder = any(getattr(chain_params, s).enabled for s in ENCODER_STEPS)
    dtypes = []
    dtype = "float32"
    if needs_encoder and encoder is not None:
        decision = encoding_dtype(params, encoder, data_sources(params, params_path), language)
        dtypes.append(decision)
        dtype = decision.dtype
    context = FilterContext(
        language=language,
        output_language=target,
        encoder=encoder if needs_encoder else None,
        prompt=params.models.encoder.prompt or None,
        batch_size=params.evaluate.batch_size,
        seed=params.seed,
        dtype=dtype,
        mining=params.mining,
    )
    try:
        result = run_chain(frame, chain_params, context)
    except ValueError as exc:
        if "missing column" in str(exc):
            raise DataError(triplets, "anchor, positive and negative columns") from None
        raise
    diagnostics = triplet_diagnostics(
        _texts_only(frame), positive_language=target, negative_language=target
    )
    dropped = dropped or metrics_path.with_name(f"{metrics_path.stem}-dropped.parquet")
    write_parquet(dropped, result.dropped_sample(chain_params.samples, params.seed))
    report = {
        "strategy": strategy.name,
        "language": language,
        "variant": variant or "filtered",
        "output_language": target,
        "langid_model": LANGID_MODEL,
        "filter": result.counts,
        "chain": result.steps,
        "settings": chain_params.model_dump(mode="json", exclude={"ablation"}),
        "mining": params.mining.model_dump(mode="json"),
        "dropped_sample": str(dropped),
        "diagnostics": diagnostics,
        "diagnostics_kept": triplet_diagnostics(
            _texts_only(result.kept), positive_language=target, negative_language=target
        ),
        **record(seed=params.seed, dtypes=dtypes),
    }
    write_json(metrics_path, report)
    if result.kept.height < 2:
        raise DataError(
            triplets,
            f">= 2 triplets surviving the filter to train on, got {result.kept.height} "
            f"(report: {metrics_path})",
        )
    write_parquet(out, result.kept)
    return report
