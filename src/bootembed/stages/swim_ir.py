"""The ``swim_ir_synthesize`` stage: one SAP variant writes a summary and a query for every training passage.

The base generator runs on the ``synthesize.backend`` engine in the dtype :mod:`bootembed.hardware` resolves
(``synthesize`` settings: backend, batch size, decoding, chunk size); the prompts, the exemplars and the parsing
are the variant's (:mod:`bootembed.sap`). Two outputs: every generation (malformed ones kept, with their reason, for
inspection) and the usable (query, passage) pairs the retriever trains on; the metrics hold the data diagnostics
(parse rates, malformed outputs by reason, the CLD3 query-language share) and the generation time per passage.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sources import DataError
from bootembed.data.swim_ir import load_crosslingual_exemplars, load_monolingual_exemplars
from bootembed.diagnostics import LANGID_MODEL
from bootembed.io import write_json, write_parquet
from bootembed.provenance import generator_base_id, record
from bootembed.query_synthesis import (
    query_diagnostics,
    query_languages,
    synthesize_queries,
    training_pairs,
)
from bootembed.sap import ENGLISH, SapPrompts, choose_exemplars, get_variant
from bootembed.stages.common import data_sources, stage_language
from bootembed.stages.generating import backend, sampling, synthesis_dtype, weight_digests

__all__ = ["prompts_for", "run"]

logger = logging.getLogger(__name__)


def prompts_for(params: Any, variant: str, language: str, params_path: Path) -> SapPrompts:
    """The prompts of ``variant`` for target ``language``: the exemplars of the mirror's SWIM-IR files, or the
    ``swim_ir.fallback`` for a language without its own.

    Raises:
        ValueError: unknown variant.
        DataError: an exemplar file is missing or malformed.
    """
    chosen = get_variant(variant)
    sources = data_sources(params, params_path)
    choice = choose_exemplars(
        chosen,
        language,
        crosslingual=load_crosslingual_exemplars(sources),
        monolingual=load_monolingual_exemplars(sources, language),
        english_monolingual=load_monolingual_exemplars(sources, ENGLISH),
        fallback=params.swim_ir.fallback,
    )
    return SapPrompts(chosen, chosen.query_language(language), choice)


def run(
    params: Any,
    *,
    params_path: Path,
    variant: str,
    language: str,
    base: Path,
    passages: Path,
    out: Path,
    pairs: Path,
    work_dir: Path | None,
    metrics_path: Path,
) -> dict[str, Any]:
    """Summaries and queries of one SAP variant for every passage of ``passages``: every generation into ``out``, the
    usable (query, passage) pairs into ``pairs`` (Parquet) and the metrics into ``metrics_path``; the resumable work
    folder is removed only after all three are written.

    Raises:
        ConfigError: ``language`` is not a target of the params.
        ValueError: unknown variant.
        DataError: fewer than 2 usable pairs (nothing to train on), or a malformed exemplar file.
    """
    language = stage_language(params, language, params_path)
    prompts = prompts_for(params, variant, language, params_path)
    frame = pl.read_parquet(passages)
    chosen = prompts.variant
    read = "target" if chosen.read_language(language) == language else "english"
    first = [
        prompts.first(text) for text in frame[read].head(params.synthesize.chunk_size).to_list()
    ]
    dtype = synthesis_dtype(params, base, None, first, adapter=None)
    decoding = sampling(params)
    with backend(params, base, None, dtype.dtype) as engine:
        rows, stats, work = synthesize_queries(
            engine,
            frame,
            prompts,
            language=language,
            summary_sampling=dataclasses.replace(
                decoding, max_new_tokens=params.swim_ir.max_summary_tokens
            ),
            query_sampling=dataclasses.replace(
                decoding, max_new_tokens=params.swim_ir.max_query_tokens
            ),
            generator_id=f"{generator_base_id(base)}+swim_ir",
            work_dir=work_dir,
            output=out,
            chunk_size=params.synthesize.chunk_size,
            manifest=weight_digests(base, None),
        )
    usable = training_pairs(rows)
    if usable.height < 2:
        raise DataError(
            out,
            f">= 2 usable (query, passage) pairs to train on, got {usable.height} of {rows.height} passages "
            f"(malformed: {rows['malformed'].value_counts().to_dicts()})",
        )
    write_parquet(out, rows)
    write_parquet(pairs, usable)
    metrics = {
        "strategy": chosen.name,
        "language": language,
        "variant": {
            "name": chosen.name,
            "direction": chosen.direction,
            "summarize": chosen.summarize,
            "reads": chosen.read_language(language),
            "query_language": chosen.query_language(language),
            "passage_language": chosen.passage_language(language),
        },
        "exemplars": prompts.choice.as_dict(),
        "backend": params.synthesize.backend,
        "langid_model": LANGID_MODEL,
        "pairs": usable.height,
        "diagnostics": query_diagnostics(rows, summarize=chosen.summarize),
        "query_languages": query_languages(rows),
        "generation": stats,
        **record(seed=params.seed, dtypes=[dtype]),
    }
    write_json(metrics_path, metrics)
    work.remove()
    return metrics
