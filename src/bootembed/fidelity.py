"""Fidelity of synthetic triplets: does the positive relate to its anchor, more than the hard negative does?

A generator that writes what it is asked for gives positives that the base encoder places closer to their anchors
than the hard negatives, and closer than a random other positive. Measured with the base encoder (cosine of
normalised embeddings, the encoder's query prompt on every text, as in encoder training):

* ``cos_anchor_positive`` / ``cos_anchor_negative``: mean cosine of each anchor with its own positive / negative;
* ``cos_anchor_positive_shuffled`` / ``cos_anchor_negative_shuffled``: the same with the positives / negatives of
  other anchors (a seeded permutation without fixed points): the level that an unrelated sentence reaches;
* ``positive_closer_share``: the share of triplets whose positive is closer to the anchor than its negative
  (chance is 0.5); ``positive_over_shuffled_share``: closer than a shuffled positive.

The translation baseline's positives are human translations: its shares are the practical ceiling.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bootembed.hardware import torch_dtype

__all__ = ["FIDELITY_KEYS", "derangement", "triplet_fidelity"]

logger = logging.getLogger(__name__)

#: The keys :func:`triplet_fidelity` returns (besides ``n``).
FIDELITY_KEYS: tuple[str, ...] = (
    "cos_anchor_positive",
    "cos_anchor_negative",
    "cos_anchor_positive_shuffled",
    "cos_anchor_negative_shuffled",
    "positive_closer_share",
    "positive_over_shuffled_share",
)


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(n)`` with no fixed point (``n >= 2``): item i is paired with another."""
    if n < 2:
        raise ValueError(f"derangement: expected n >= 2, got {n}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    # a cyclic shift of a random order has no fixed point
    out = np.empty(n, dtype=int)
    out[order] = np.roll(order, 1)
    return out


def triplet_fidelity(
    frame: pl.DataFrame,
    encoder: str | Path | Any,
    *,
    batch_size: int = 32,
    seed: int = 42,
    dtype: str = "float32",
) -> dict[str, float]:
    """The fidelity diagnostic of a triplet table with the base encoder.

    Args:
        frame: rows with string ``anchor``, ``positive``, ``negative``; rows with a null field are left out.
        encoder: a sentence-transformers folder or a loaded ``SentenceTransformer``.
        batch_size: encoding batch size.
        seed: seed of the shuffling permutation.
        dtype: encoding dtype.

    Returns:
        ``n`` (triplets measured) and the :data:`FIDELITY_KEYS` (cosines in [-1, 1], shares in [0, 1]), rounded to
        4 decimals; all ``0.0`` when fewer than 2 complete triplets exist.

    Raises:
        ValueError: a column is missing.
    """
    missing = {"anchor", "positive", "negative"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"triplets: missing column(s) {sorted(missing)} for the fidelity diagnostic"
        )
    rows = frame.select("anchor", "positive", "negative").drop_nulls()
    n = rows.height
    if n < 2:
        return {"n": float(n), **dict.fromkeys(FIDELITY_KEYS, 0.0)}
    if isinstance(encoder, (str, Path)):
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(encoder), local_files_only=True)
        if dtype != "float32":
            model = model.to(torch_dtype(dtype))
    else:
        model = encoder
    prompt = (getattr(model, "prompts", None) or {}).get("query") or None
    texts = rows["anchor"].to_list() + rows["positive"].to_list() + rows["negative"].to_list()
    unique = list(dict.fromkeys(texts))
    vectors = np.asarray(
        model.encode(
            unique,
            batch_size=batch_size,
            prompt=prompt,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ),
        dtype=np.float32,
    )
    index = {text: i for i, text in enumerate(unique)}

    def embed(column: str) -> np.ndarray:
        return vectors[[index[t] for t in rows[column].to_list()]]

    anchor, positive, negative = embed("anchor"), embed("positive"), embed("negative")
    other = derangement(n, seed)
    cos_pos = (anchor * positive).sum(axis=1)
    cos_neg = (anchor * negative).sum(axis=1)
    cos_pos_shuffled = (anchor * positive[other]).sum(axis=1)
    cos_neg_shuffled = (anchor * negative[other]).sum(axis=1)
    result = {
        "n": float(n),
        "cos_anchor_positive": float(cos_pos.mean()),
        "cos_anchor_negative": float(cos_neg.mean()),
        "cos_anchor_positive_shuffled": float(cos_pos_shuffled.mean()),
        "cos_anchor_negative_shuffled": float(cos_neg_shuffled.mean()),
        "positive_closer_share": float((cos_pos > cos_neg).mean()),
        "positive_over_shuffled_share": float((cos_pos > cos_pos_shuffled).mean()),
    }
    result = {k: round(v, 4) for k, v in result.items()}
    logger.info("triplet fidelity: %s", result)
    return result
