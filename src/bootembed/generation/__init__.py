"""Generation backends: one ``<name>_backend`` module each, found by :data:`BACKENDS` without importing them.

``synthesize.backend`` in params picks one; every backend implements :class:`~bootembed.generation.base.
GenerationBackend` and gives the same triplet schema, so the synthesis stages, resumable chunks, shards and
provenance work unchanged whichever engine runs.
"""

from __future__ import annotations

from bootembed.registry import Registry

__all__ = ["BACKENDS"]

#: Every generation backend (``transformers``, ``vllm``, ...): module ``<name>_backend`` with a ``BACKEND`` class.
BACKENDS: Registry = Registry(
    "generation backend", "bootembed.generation", "BACKEND", skip=(), suffix="_backend"
)
