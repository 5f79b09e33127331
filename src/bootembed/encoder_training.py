"""Contrastive fine-tuning of a sentence encoder on (anchor, positive, hard negative) triplets.

Implements the encoder-training step of "Bootstrapping Embeddings for Low Resource Languages"
(Basoz, Horne, Opper, arXiv 2603.01732): the encoder (multilingual-e5-small in the paper) is
fine-tuned on synthetic triplets with an InfoNCE loss over in-batch negatives plus the explicit
hard negative of each triplet, i.e. the supervised SimCSE recipe (Gao et al., 2021, Sec. 4).
Here that loss is sentence-transformers' ``MultipleNegativesRankingLoss`` trained with
``SentenceTransformerTrainer`` and the ``NO_DUPLICATES`` batch sampler (so that no text appears
twice in a batch, which would create false in-batch negatives).
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

logger = logging.getLogger(__name__)

TRIPLET_COLUMNS: tuple[str, str, str] = ("anchor", "positive", "negative")
"""Columns of the triplet table, in the order MultipleNegativesRankingLoss expects them."""

TRAINING_LOG_NAME = "training_log.json"
"""File name of the JSON training log written inside the saved model folder."""


@dataclass(frozen=True)
class EncoderTrainingResult:
    """Outcome of :func:`train_encoder`.

    Attributes:
        model_dir: Folder holding the saved sentence-transformers model (loadable with
            ``SentenceTransformer(str(model_dir))``) and ``training_log.json``.
        steps: Number of optimiser steps taken.
        train_loss: Mean MultipleNegativesRankingLoss over all training steps (nats).
        seconds: Wall-clock seconds spent in ``trainer.train()`` (excludes loading and saving).
        num_triplets: Number of triplets (rows) trained on.
    """

    model_dir: Path
    steps: int
    train_loss: float
    seconds: float
    num_triplets: int


def validate_triplets(triplets: pl.DataFrame) -> pl.DataFrame:
    """Check a triplet table and return only its ``anchor``, ``positive``, ``negative`` columns.

    Args:
        triplets: Table with string columns ``anchor``, ``positive``, ``negative`` (other columns
            are ignored), one row per triplet.

    Returns:
        A ``(n, 3)`` DataFrame with exactly the three triplet columns, in that order.

    Raises:
        TypeError: If ``triplets`` is not a polars DataFrame.
        ValueError: If a column is missing or not of string type, holds nulls or empty /
            whitespace-only strings (the message names the column and the first bad row), or if
            there are fewer than 2 rows (in-batch negatives need a batch of at least 2).
    """
    if not isinstance(triplets, pl.DataFrame):
        raise TypeError(
            f"triplets: expected a polars.DataFrame with columns {list(TRIPLET_COLUMNS)}, "
            f"got {type(triplets).__name__}"
        )
    missing = [c for c in TRIPLET_COLUMNS if c not in triplets.columns]
    if missing:
        raise ValueError(
            f"triplets: missing column(s) {missing}; expected string columns "
            f"{list(TRIPLET_COLUMNS)}, got columns {triplets.columns}"
        )
    for col in TRIPLET_COLUMNS:
        dtype = triplets.schema[col]
        if dtype != pl.String:
            raise ValueError(f"triplets: column '{col}' must be of type String, got {dtype}")
        series = triplets.get_column(col)
        nulls = series.is_null()
        if nulls.any():
            first = int(nulls.arg_true()[0])
            raise ValueError(
                f"triplets: column '{col}' has {int(nulls.sum())} null value(s) "
                f"(first at row {first}); every triplet needs a non-empty '{col}' text"
            )
        empty = series.str.strip_chars().str.len_chars() == 0
        if empty.any():
            first = int(empty.arg_true()[0])
            raise ValueError(
                f"triplets: column '{col}' has {int(empty.sum())} empty or whitespace-only "
                f"string(s) (first at row {first}); every triplet needs a non-empty '{col}' text"
            )
    if triplets.height < 2:
        raise ValueError(
            f"triplets: need at least 2 rows for in-batch negatives, got {triplets.height}"
        )
    return triplets.select(TRIPLET_COLUMNS)


def _library_versions() -> dict[str, str]:
    import datasets
    import sentence_transformers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "datasets": datasets.__version__,
        "polars": pl.__version__,
    }


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder ``src`` to ``dst`` (same parent), replacing any old ``dst``."""
    if not dst.exists():
        os.replace(src, dst)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
    backup.rmdir()
    os.replace(dst, backup)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(backup, dst)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def train_encoder(
    base_model_dir: str | Path,
    triplets: pl.DataFrame,
    output_dir: str | Path,
    *,
    epochs: float = 1.0,
    max_steps: int | None = None,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    warmup_ratio: float = 0.1,
    scale: float = 20.0,
    max_seq_length: int = 128,
    prompt: str | None = "query: ",
    seed: int = 42,
    logging_steps: int = 10,
) -> EncoderTrainingResult:
    """Fine-tune a sentence-transformers encoder on triplets with MultipleNegativesRankingLoss.

    Method (arXiv 2603.01732, encoder training; supervised SimCSE, Gao et al. 2021, Sec. 4): for
    a batch of ``B`` triplets the loss is the cross-entropy of ``scale * cos(anchor_i, c)`` over
    the ``2B`` candidates ``c`` (all positives and all hard negatives of the batch), with
    ``positive_i`` as the target. Batches are drawn with ``BatchSamplers.NO_DUPLICATES``; the
    optimiser is AdamW with linear warm-up then linear decay. No evaluation runs during training.

    The same ``prompt`` string is prepended to anchor, positive and negative (multilingual-e5
    expects ``"query: "`` for symmetric tasks). The base folder's
    ``config_sentence_transformers.json`` prompts are kept in the saved model.

    The model is trained in a temporary folder (checkpoints, if any, are deleted), saved to a
    temporary sibling of ``output_dir`` together with ``training_log.json`` (loss per logging
    step, hyper-parameters, seed, library versions), then renamed to ``output_dir``; an existing
    ``output_dir`` is replaced only once the new model is complete.

    Args:
        base_model_dir: Local sentence-transformers model folder (e.g. multilingual-e5-small).
        triplets: Table with string columns ``anchor``, ``positive``, ``negative`` (``n >= 2``
            rows; other columns ignored).
        output_dir: Folder to write the fine-tuned model to.
        epochs: Number of passes over the triplets (may be fractional); ignored if
            ``max_steps`` is given.
        max_steps: If set (``> 0``), train exactly this many optimiser steps.
        batch_size: Triplets per batch (``>= 2``); gives ``2 * batch_size - 1`` negatives per
            anchor.
        learning_rate: Peak AdamW learning rate.
        warmup_ratio: Fraction of the total steps used for linear warm-up, in ``[0, 1)``.
        scale: Inverse temperature applied to cosine similarities (20 = temperature 0.05).
        max_seq_length: Truncation length in tokens (prompt included).
        prompt: Text prepended to every input during training, or ``None`` for no prefix.
        seed: Random seed for initialisation of the data order and dropout.
        logging_steps: Log the running loss every this many steps.

    Returns:
        An :class:`EncoderTrainingResult`.

    Raises:
        ValueError: On invalid triplets (message names the column) or hyper-parameters, or if
            ``base_model_dir`` is not a folder.
        TypeError: If ``triplets`` is not a polars DataFrame.

    Example:
        >>> result = train_encoder(
        ...     "models/multilingual-e5-small", triplets, "models/encoder_hau", epochs=1
        ... )  # doctest: +SKIP
        >>> SentenceTransformer(str(result.model_dir))  # doctest: +SKIP
    """
    base_model_dir = Path(base_model_dir)
    output_dir = Path(output_dir)
    if not base_model_dir.is_dir():
        raise ValueError(f"base_model_dir: {base_model_dir} is not a folder")
    data = validate_triplets(triplets)
    if batch_size < 2:
        raise ValueError(f"batch_size: must be >= 2 for in-batch negatives, got {batch_size}")
    if max_steps is not None and max_steps <= 0:
        raise ValueError(f"max_steps: must be a positive integer or None, got {max_steps}")
    if max_steps is None and not (epochs > 0 and math.isfinite(epochs)):
        raise ValueError(f"epochs: must be a positive finite number, got {epochs}")
    if not 0.0 <= warmup_ratio < 1.0:
        raise ValueError(f"warmup_ratio: must be in [0, 1), got {warmup_ratio}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate: must be > 0, got {learning_rate}")
    if max_seq_length < 1:
        raise ValueError(f"max_seq_length: must be >= 1, got {max_seq_length}")
    if logging_steps < 1:
        raise ValueError(f"logging_steps: must be >= 1, got {logging_steps}")

    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import set_seed

    set_seed(seed)
    logger.info("Loading base encoder from %s", base_model_dir)
    model = SentenceTransformer(str(base_model_dir))
    model.max_seq_length = max_seq_length
    loss = MultipleNegativesRankingLoss(model, scale=scale)
    train_dataset = Dataset.from_dict({c: data.get_column(c).to_list() for c in TRIPLET_COLUMNS})

    hyper_parameters: dict[str, Any] = {
        "loss": "MultipleNegativesRankingLoss",
        "similarity": "cosine",
        "scale": scale,
        "epochs": epochs,
        "max_steps": max_steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "warmup_ratio": warmup_ratio,
        "lr_scheduler": "linear",
        "optimizer": "adamw_torch",
        "max_seq_length": max_seq_length,
        "prompt": prompt,
        "batch_sampler": "no_duplicates",
        "logging_steps": logging_steps,
    }
    logger.info("Training encoder on %d triplets: %s", data.height, json.dumps(hyper_parameters))

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.tmp-", dir=output_dir.parent))
    try:
        ckpt_dir = staging / "trainer"  # trainer scratch / checkpoints, deleted with staging
        args = SentenceTransformerTrainingArguments(
            output_dir=str(ckpt_dir),
            num_train_epochs=epochs,
            max_steps=max_steps if max_steps is not None else -1,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            warmup_steps=warmup_ratio,  # transformers 5: a float < 1 is a ratio
            lr_scheduler_type="linear",
            optim="adamw_torch",
            seed=seed,
            data_seed=seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            prompts=prompt,
            logging_strategy="steps",
            logging_steps=logging_steps,
            logging_first_step=True,
            eval_strategy="no",
            save_strategy="no",
            report_to="none",
            disable_tqdm=False,
            dataloader_num_workers=0,
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=train_dataset, loss=loss
        )
        start = time.perf_counter()
        train_output = trainer.train()
        seconds = time.perf_counter() - start
        log_history = list(trainer.state.log_history)
        steps = int(train_output.global_step)
        train_loss = float(train_output.training_loss)
        losses = [
            {
                "step": int(e["step"]),
                "loss": float(e["loss"]),
                "learning_rate": e.get("learning_rate"),
            }
            for e in log_history
            if "loss" in e
        ]
        logger.info(
            "Encoder training done: %d steps in %.1f s (%.3f s/step), mean loss %.4f",
            steps,
            seconds,
            seconds / max(steps, 1),
            train_loss,
        )

        model_tmp = staging / "model"
        model.save(str(model_tmp))
        _write_json_atomic(
            model_tmp / TRAINING_LOG_NAME,
            {
                "method": "MultipleNegativesRankingLoss (in-batch + hard negative), arXiv 2603.01732",
                "base_model_dir": str(base_model_dir),
                "num_triplets": data.height,
                "steps": steps,
                "train_loss": train_loss,
                "seconds": seconds,
                "seconds_per_step": seconds / max(steps, 1),
                "seed": seed,
                "hyper_parameters": hyper_parameters,
                "losses": losses,
                "model_prompts": dict(model.prompts),
                "versions": _library_versions(),
            },
        )
        _replace_dir(model_tmp, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Saved fine-tuned encoder to %s", output_dir)
    return EncoderTrainingResult(
        model_dir=output_dir,
        steps=steps,
        train_loss=train_loss,
        seconds=seconds,
        num_triplets=data.height,
    )
