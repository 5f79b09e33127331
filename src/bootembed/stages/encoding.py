"""The encoding dtype, shared by the stages that encode with an encoder (evaluation, hard-negative mining)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootembed.data.sources import DataSources
from bootembed.evaluation.quick import measure_encoding_dtypes
from bootembed.hardware import DtypeDecision
from bootembed.stages.common import stage_dtype

__all__ = ["encoding_dtype"]


def encoding_dtype(
    params: Any, model_dir: Path, sources: DataSources, language: str
) -> DtypeDecision:
    """The ``encoding`` dtype of ``params.evaluate.dtype``; where bf16 is native, measured side by side first."""
    return stage_dtype(
        params,
        "encoding",
        lambda: measure_encoding_dtypes(
            model_dir, sources, language, batch_size=params.evaluate.batch_size
        ),
    )
