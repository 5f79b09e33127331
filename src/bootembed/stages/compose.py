"""The ``compose`` stage: English task adapters merged with language adapters (Sec. 3.2, AdaMergeX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootembed.composition import compose_adapters
from bootembed.prompts import POLARITIES
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, language_stage
from bootembed.strategies.composition import composition_weights

__all__ = ["run"]


def _compose(
    request: LanguageRequest,
    *,
    base: Path,
    task_adapters: Path,
    language_adapter: Path,
    reference_adapter: Path,
    out_dir: Path,
) -> dict[str, Any]:
    """One composed LoRA per polarity in ``out_dir/<polarity>`` (peft ``add_weighted_adapter``)."""
    section = request.params.composition
    metrics: dict[str, Any] = {
        "language": request.language,
        "combination_type": section.combination_type,
        **record(),
    }
    for polarity in POLARITIES:
        adapters, weights = composition_weights(
            section, task_adapters / polarity, language_adapter, reference_adapter
        )
        result = compose_adapters(
            base, adapters, weights, out_dir / polarity, combination_type=section.combination_type
        )
        metrics[polarity] = {"weights": result.weights, "rank": result.rank}
    return metrics


run = language_stage(_compose)
