"""bootembed: bootstrap sentence embeddings for low-resource languages from synthetic triplets."""

from __future__ import annotations

__version__ = "0.1.0"
