"""The ``models`` stage: the base generator and base encoder as plain folders under ``models/base/``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from bootembed.models.sources import materialize_encoder, materialize_generator

__all__ = ["run"]

logger = logging.getLogger(__name__)


def run(params: Any, *, params_path: Path, generator_out: Path, encoder_out: Path) -> None:
    """Materialise ``models.generator`` into ``generator_out`` and ``models.encoder`` into ``encoder_out``."""
    start = time.perf_counter()
    materialize_generator(params.models.generator, generator_out)
    materialize_encoder(params.models.encoder, encoder_out)
    logger.info("models stage done in %.1f s", time.perf_counter() - start)
