"""``bootembed bench encoder-batching``: random vs length-grouped encoder batches, side by side in one run.

Two numbers per batch order (``train_encoder.batch_order``, :mod:`bootembed.batching`), on FLORES-200 ``dev``
triplets of a language (anchor = the target-language sentence, positive = its English translation, negative = the
English sentence of the next line: real sentence lengths, as the translation baseline trains on):

- padding: tokens the encoder computes on (every column of a batch padded to its longest text, truncated at
  ``train_encoder.max_seq_length``) over the real tokens, for one pass over every triplet (the first epoch's
  batches, as the trainer draws them: seed + epoch), so both orders count the same real tokens;
- time: seconds per optimiser step of :func:`bootembed.encoder_training.train_encoder` with the params'
  ``train_encoder`` settings, the two orders alternated ``rounds`` times so that a slower or busier stretch of the
  machine hits both.

Timings depend on the machine and its load: the JSON records the CPU (:func:`bootembed.bench.machine_info`).
"""

from __future__ import annotations

import logging
import shutil
import statistics
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["bench_encoder_batching", "flores_triplets", "padding_ratio"]

logger = logging.getLogger(__name__)


def flores_triplets(params: Any, params_path: Path, language: str, n: int) -> pl.DataFrame:
    """``n`` (anchor, positive, negative) rows from FLORES-200 ``dev``: the ``language`` sentence, its English
    translation, and the English sentence of the next line (wrapping around).

    Raises:
        ConfigError: ``language`` is not a FLORES-200 target code.
        ValueError: ``n < 2``.
    """
    from bootembed.config import check_language
    from bootembed.data.flores import load_flores
    from bootembed.stages.common import data_sources

    if n < 2:
        raise ValueError(f"n: expected at least 2 triplets, got {n}")
    language = check_language(language, "--language")
    sources = data_sources(params, params_path)
    target = load_flores(sources, language, "dev")[:n]
    english = load_flores(sources, "eng_Latn", "dev")[: len(target)]
    return pl.DataFrame(
        {
            "anchor": target,
            "positive": english,
            "negative": english[1:] + english[:1],
        }
    )


def padding_ratio(
    tokenizer: Any, triplets: pl.DataFrame, batches: list[list[int]], max_seq_length: int
) -> dict[str, float]:
    """Tokens computed on over real tokens for ``batches`` (row indices of ``triplets``).

    Every column of a batch is padded to its longest text, each text truncated at ``max_seq_length`` tokens (special
    tokens included), as sentence-transformers' collator does.

    Returns:
        ``{"padded_tokens", "real_tokens", "ratio"}`` (ratio >= 1).
    """
    lengths = {
        column: [
            min(len(ids), max_seq_length)
            for ids in tokenizer(triplets.get_column(column).to_list())["input_ids"]
        ]
        for column in triplets.columns
    }
    padded = real = 0
    for batch in batches:
        for column in triplets.columns:
            sizes = [lengths[column][i] for i in batch]
            padded += max(sizes) * len(sizes)
            real += sum(sizes)
    return {"padded_tokens": padded, "real_tokens": real, "ratio": padded / max(real, 1)}


def _batches(triplets: pl.DataFrame, order: str, batch_size: int, seed: int) -> list[list[int]]:
    """The batches of the first pass (epoch 0) the trainer would draw with ``order``."""
    import torch
    from datasets import Dataset
    from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

    from bootembed.batching import LengthGroupedNoDuplicatesBatchSampler

    dataset = Dataset.from_dict({c: triplets.get_column(c).to_list() for c in triplets.columns})
    cls = (
        LengthGroupedNoDuplicatesBatchSampler
        if order == "length_grouped"
        else NoDuplicatesBatchSampler
    )
    sampler = cls(
        dataset, batch_size=batch_size, drop_last=False, generator=torch.Generator(), seed=seed
    )
    sampler.set_epoch(0)
    return list(sampler)


def bench_encoder_batching(
    params: Any,
    *,
    params_path: Path,
    language: str,
    base: Path,
    triplets_n: int,
    steps: int,
    rounds: int,
    work_dir: Path,
    out: Path,
) -> dict[str, Any]:
    """Measure ``random`` against ``length_grouped`` batches (padding and s/step) and write ``out`` (JSON).

    Args:
        params: the validated params (``train_encoder`` settings, ``seed``, data sources).
        params_path: the params file (data paths are relative to it).
        language: FLORES-200 code of the anchors.
        base: the base encoder folder.
        triplets_n: FLORES-200 dev rows to build triplets from.
        steps: optimiser steps per timed run.
        rounds: timed runs per order, alternated.
        work_dir: scratch folder for the trained models and checkpoints (removed afterwards).
        out: the JSON to write.

    Returns:
        The written record: ``settings``, ``machine``, per order ``padding`` and ``seconds_per_step`` (each run,
        mean, sd), and ``ratios`` (random over length-grouped: padding and time).

    Raises:
        ValueError: ``steps`` or ``rounds`` < 1.
    """
    from sentence_transformers import SentenceTransformer

    from bootembed.bench import machine_info
    from bootembed.encoder_training import train_encoder
    from bootembed.io import write_json

    if steps < 1 or rounds < 1:
        raise ValueError(f"steps, rounds: expected positive integers, got {steps}, {rounds}")
    p = params.train_encoder
    triplets = flores_triplets(params, params_path, language, triplets_n)
    tokenizer = SentenceTransformer(str(base), device="cpu").tokenizer
    orders = ("random", "length_grouped")
    result: dict[str, Any] = {
        "settings": {
            "language": language,
            "triplets": triplets.height,
            "steps": steps,
            "rounds": rounds,
            "batch_size": p.batch_size,
            "max_seq_length": p.max_seq_length,
            "freeze_embeddings": p.freeze_embeddings,
            "dtype": "float32",
            "seed": params.seed,
        },
        "machine": machine_info(),
        "orders": {},
    }
    for order in orders:
        batches = _batches(triplets, order, p.batch_size, params.seed)
        result["orders"][order] = {
            "padding": padding_ratio(tokenizer, triplets, batches, p.max_seq_length),
            "seconds_per_step": [],
        }
    try:
        for round_ in range(rounds):
            for order in orders if round_ % 2 == 0 else reversed(orders):
                run_dir = work_dir / f"{order}-{round_}"
                trained = train_encoder(
                    base,
                    triplets,
                    run_dir / "model",
                    max_steps=steps,
                    batch_size=p.batch_size,
                    learning_rate=p.learning_rate,
                    warmup_ratio=p.warmup_ratio,
                    scale=p.scale,
                    max_seq_length=p.max_seq_length,
                    prompt=params.models.encoder.prompt or None,
                    seed=params.seed,
                    dtype="float32",
                    save_steps=steps,
                    work_root=run_dir / "work",
                    freeze_embeddings=p.freeze_embeddings,
                    batch_order=order,
                )
                per_step = trained.seconds / max(trained.steps, 1)
                result["orders"][order]["seconds_per_step"].append(round(per_step, 4))
                logger.info("%s, round %d: %.3f s/step", order, round_ + 1, per_step)
                shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    for stats in result["orders"].values():
        runs = stats["seconds_per_step"]
        stats["mean_seconds_per_step"] = round(statistics.fmean(runs), 4)
        stats["sd_seconds_per_step"] = round(statistics.stdev(runs), 4) if len(runs) > 1 else None
    rand, grouped = result["orders"]["random"], result["orders"]["length_grouped"]
    result["ratios"] = {
        "padding_random_over_length_grouped": round(
            rand["padding"]["padded_tokens"] / grouped["padding"]["padded_tokens"], 3
        ),
        "time_random_over_length_grouped": round(
            rand["mean_seconds_per_step"] / grouped["mean_seconds_per_step"], 3
        ),
    }
    write_json(out, result)
    logger.info("ratios: %s", result["ratios"])
    return result
