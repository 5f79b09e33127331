"""The ``swim_ir_passages`` stage: the SWIM-IR training passages of one language, from FLORES-200 ``dev`` only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bootembed.io import write_parquet
from bootembed.passages import training_passages
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, data_sources, language_stage

__all__ = ["run"]


def _passages(request: LanguageRequest, *, out: Path) -> dict[str, Any]:
    """Training passages (consecutive sentences of one FLORES-200 ``dev`` article, target + English, no evaluation
    sentence; :func:`bootembed.passages.training_passages`) into ``out`` (Parquet), ``swim_ir.passages`` of them.

    Raises:
        ContaminationError: an evaluation sentence reached a passage (never expected).
        ValueError: no passage is left.
    """
    params, language = request.params, request.language
    p = params.swim_ir
    start = time.perf_counter()
    frame, counts = training_passages(
        data_sources(params, request.params_path),
        language,
        max_sentences=p.max_sentences,
        max_passages=p.passages,
        seed=params.seed,
    )
    write_parquet(out, frame)
    sentences = frame["lines"].list.len()
    return {
        "language": language,
        **counts,
        "max_sentences": p.max_sentences,
        "mean_sentences": round(float(sentences.mean()), 3),
        "mean_chars_target": round(float(frame["target"].str.len_chars().mean()), 1),
        "mean_chars_english": round(float(frame["english"].str.len_chars().mean()), 1),
        "seconds": round(time.perf_counter() - start, 1),
        **record(seed=params.seed),
    }


run = language_stage(_passages)
