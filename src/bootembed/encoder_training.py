"""Contrastive fine-tuning of a sentence encoder on (anchor, positive, hard negative) triplets.

Implements the encoder-training step of "Bootstrapping Embeddings for Low Resource Languages"
(Basoz, Horne, Opper, arXiv 2603.01732): the encoder (multilingual-e5-small in the paper) is
fine-tuned on synthetic triplets with an InfoNCE loss over in-batch negatives plus the explicit
hard negative of each triplet, i.e. the supervised SimCSE recipe (Gao et al., 2021, Sec. 4).
Here that loss is sentence-transformers' ``MultipleNegativesRankingLoss`` trained with
``SentenceTransformerTrainer`` and the ``NO_DUPLICATES`` batch sampler (so that no text appears
twice in a batch, which would create false in-batch negatives).

The same function trains retrievers on (query, passage) pairs (the SWIM-X retrievers of Thakur et al.,
NAACL 2024: in-batch negatives only), with a prompt per column (E5: ``query: `` on queries, ``passage: ``
on passages).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from bootembed import distributed, training
from bootembed.batching import batch_sampler
from bootembed.curves import LiveCurves
from bootembed.hardware import ENCODER_MAX_SCORE_DIFF, DtypeDecision, Measurement
from bootembed.io import atomic_dir, write_json
from bootembed.model_card import training_logs
from bootembed.provenance import canonical_model_files, package_versions, settings_digest

logger = logging.getLogger(__name__)

TRIPLET_COLUMNS: tuple[str, str, str] = ("anchor", "positive", "negative")
"""Columns of the triplet table, in the order MultipleNegativesRankingLoss expects them."""

PAIR_COLUMNS: tuple[str, str] = ("anchor", "positive")
"""Columns of a pair table ((query, passage) for a retriever): no hard negative, in-batch negatives only."""

_DOCUMENT_PROMPTS = ("document", "passage", "corpus")

TRAINING_LOG_NAME = "training_log.json"
"""File name of the JSON training log written inside the saved model folder."""


@dataclass(frozen=True)
class EncoderTrainingResult:
    """Outcome of :func:`train_encoder`.

    Attributes:
        model_dir: Folder holding the saved sentence-transformers model (loadable with
            ``SentenceTransformer(str(model_dir))``) and ``training_log.json``.
        steps: Number of optimiser steps taken.
        train_loss: Mean MultipleNegativesRankingLoss over the steps run in this call (nats); after a resume
            these are the steps since the checkpoint.
        seconds: Wall-clock seconds spent in ``trainer.train()`` (excludes loading and saving).
        num_triplets: Number of triplets (rows) trained on.
        losses: ``[{"step", "loss", "learning_rate"}]`` per logging step.
        resumed_from: the checkpoint the run resumed from after a kill, or ``None``.
    """

    model_dir: Path
    steps: int
    train_loss: float
    seconds: float
    num_triplets: int
    losses: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: str | None = None


def document_prompt(model_dir: str | Path) -> str | None:
    """The document prompt a sentence-transformers folder was saved with: the first non-empty of its ``document``,
    ``passage`` or ``corpus`` prompts (``"passage: "`` for multilingual-e5), or ``None`` when it has none."""
    path = Path(model_dir) / "config_sentence_transformers.json"
    if not path.is_file():
        return None
    prompts = json.loads(path.read_text(encoding="utf-8")).get("prompts") or {}
    return next((prompts[k] for k in _DOCUMENT_PROMPTS if prompts.get(k)), None)


def validate_triplets(
    triplets: pl.DataFrame, columns: tuple[str, ...] = TRIPLET_COLUMNS
) -> pl.DataFrame:
    """Check a triplet (or pair) table and return only its ``columns``.

    Args:
        triplets: Table with string columns ``anchor``, ``positive``, ``negative`` (other columns
            are ignored), one row per triplet.
        columns: the columns to check and keep: :data:`TRIPLET_COLUMNS`, or :data:`PAIR_COLUMNS`
            for (query, passage) pairs.

    Returns:
        A ``(n, len(columns))`` DataFrame with exactly ``columns``, in that order.

    Raises:
        TypeError: If ``triplets`` is not a polars DataFrame.
        ValueError: If a column is missing or not of string type, holds nulls or empty /
            whitespace-only strings (the message names the column and the first bad row), or if
            there are fewer than 2 rows (in-batch negatives need a batch of at least 2).
    """
    if not isinstance(triplets, pl.DataFrame):
        raise TypeError(
            f"triplets: expected a polars.DataFrame with columns {list(columns)}, "
            f"got {type(triplets).__name__}"
        )
    missing = [c for c in columns if c not in triplets.columns]
    if missing:
        raise ValueError(
            f"triplets: missing column(s) {missing}; expected string columns "
            f"{list(columns)}, got columns {triplets.columns}"
        )
    for col in columns:
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
    return triplets.select(columns)


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
    prompt: str | Mapping[str, str] | None = "query: ",
    seed: int = 42,
    logging_steps: int = 10,
    dtype: DtypeDecision | str = "float32",
    save_steps: int = 50,
    work_root: str | Path | None = None,
    freeze_embeddings: bool = False,
    pairs: bool = False,
    live_dir: str | Path | None = None,
    card_data: Any = None,
    batch_order: str = "random",
) -> EncoderTrainingResult:
    """Fine-tune a sentence-transformers encoder on triplets with MultipleNegativesRankingLoss.

    Method (arXiv 2603.01732, encoder training; supervised SimCSE, Gao et al. 2021, Sec. 4): for
    a batch of ``B`` triplets the loss is the cross-entropy of ``scale * cos(anchor_i, c)`` over
    the ``2B`` candidates ``c`` (all positives and all hard negatives of the batch), with
    ``positive_i`` as the target. Batches are drawn with ``BatchSamplers.NO_DUPLICATES`` (no text twice in a batch),
    or with ``batch_order="length_grouped"`` by :class:`bootembed.batching.LengthGroupedNoDuplicatesBatchSampler`
    (the same guarantee, texts of similar length together: less padding); the optimiser is AdamW with linear
    warm-up then linear decay. No evaluation runs during training.

    The same ``prompt`` string is prepended to anchor, positive and negative (multilingual-e5
    expects ``"query: "`` for symmetric tasks), or ``prompt`` maps columns to their prompts
    (sentence-transformers ``prompts``; a retriever: ``{"anchor": "query: ", "positive": "passage: "}``).
    The base folder's ``config_sentence_transformers.json`` prompts are kept in the saved model.

    With ``pairs=True`` the table is (anchor, positive) pairs: the loss is the cross-entropy over the
    ``B`` positives of the batch (in-batch negatives only, as the SWIM-X retrievers of Thakur et al., NAACL 2024).

    Resumable: checkpoints go every ``save_steps`` steps to a work folder
    (:class:`bootembed.work.WorkDir`) keyed by the output and a manifest of every setting (base
    model and triplet digests, hyper-parameters, seed, dtype); a rerun after a kill continues from
    the last checkpoint. The model is saved to a temporary sibling of ``output_dir`` together with
    ``training_log.json`` (loss per logging step, hyper-parameters, seed, dtype decision, library
    versions), then renamed to ``output_dir``; the work folder is removed afterwards.

    Several processes (``accelerate launch`` with DDP, :mod:`bootembed.distributed`): ``batch_size`` is per
    process and the loss gathers the embeddings of every process (``gather_across_devices``), so each anchor
    is contrasted against ``2 x batch_size x processes`` candidates, as one process with the whole batch would
    (the reference's batch 512 on 8 GPUs: ``batch_size: 64``); only the main process writes the model.

    Args:
        base_model_dir: Local sentence-transformers model folder (e.g. multilingual-e5-small).
        triplets: Table with string columns ``anchor``, ``positive``, ``negative`` (``n >= 2``
            rows; other columns ignored); ``anchor`` and ``positive`` only with ``pairs``.
        output_dir: Folder to write the fine-tuned model to.
        epochs: Number of passes over the triplets (may be fractional); ignored if
            ``max_steps`` is given.
        max_steps: If set (``> 0``), train exactly this many optimiser steps.
        batch_size: Triplets per batch (``>= 2``); gives ``2 * batch_size - 1`` negatives per
            anchor.
        learning_rate: Peak AdamW learning rate.
        warmup_ratio: Fraction of the total steps used for linear warm-up, in ``[0, 1)``; the warm-up is
            ``floor(warmup_ratio * total steps)`` steps, so it never takes the whole run (a 1-step run has none and
            trains at the peak learning rate).
        scale: Inverse temperature applied to cosine similarities (20 = temperature 0.05).
        max_seq_length: Truncation length in tokens (prompt included).
        prompt: Text prepended to every input during training, a mapping column -> text (columns
            left out get none), or ``None`` for no prefix.
        seed: Random seed for initialisation of the data order and dropout.
        logging_steps: Log the running loss every this many steps.
        dtype: A :class:`bootembed.hardware.DtypeDecision` of the ``encoder_training`` step, or
            ``"float32"`` / ``"bfloat16"`` / ``"auto"``; bf16 is mixed precision; on a CPU the
            trainer gets ``use_cpu=True``.
        save_steps: Checkpoint every this many steps (resume after a kill).
        work_root: Root of the work folders (default :data:`bootembed.work.DEFAULT_ROOT`).
        freeze_embeddings: Keep the token-embedding matrix fixed (``get_input_embeddings()`` of the transformer);
            the transformer layers and the position embeddings still train.
        pairs: Train on (anchor, positive) pairs (:data:`PAIR_COLUMNS`; a ``negative`` column is
            ignored) instead of triplets.
        live_dir: dvclive folder of the training curves (loss, learning rate, gradient norm per logging step;
            :class:`bootembed.curves.LiveCurves`), or ``None`` for none.
        card_data: the ``SentenceTransformerModelCardData`` of the saved ``README.md``
            (:func:`bootembed.model_card.training_card_data`); default: sentence-transformers' own, kept from
            querying the Hub. The card leaves out the training time and lists every logged loss, so the same
            training (resumed after a kill or not) writes the same card.
        batch_order: ``"random"`` or ``"length_grouped"`` (:data:`bootembed.batching.BATCH_ORDERS`).

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
    columns = PAIR_COLUMNS if pairs else TRIPLET_COLUMNS
    data = validate_triplets(triplets, columns)
    if isinstance(prompt, Mapping):
        unknown = sorted(set(prompt) - set(columns))
        if unknown:
            raise ValueError(f"prompt: column(s) {unknown} are not among {list(columns)}")
        prompt = {column: text for column, text in prompt.items() if text} or None
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
    sampler = batch_sampler(batch_order)  # raises ValueError naming train_encoder.batch_order

    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.model_card import BaseModelCardCallback
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import set_seed

    if save_steps < 1:
        raise ValueError(f"save_steps: must be >= 1, got {save_steps}")
    decision, precision = training.training_dtype(dtype, "encoder_training", "train_encoder.dtype")

    steps_per_epoch = max(1, math.ceil(data.height / batch_size))
    total_steps = (
        max_steps if max_steps is not None else max(1, math.ceil(epochs * steps_per_epoch))
    )
    warmup_steps = int(warmup_ratio * total_steps)
    hyper_parameters: dict[str, Any] = {
        "loss": "MultipleNegativesRankingLoss",
        "similarity": "cosine",
        "scale": scale,
        "epochs": epochs,
        "max_steps": max_steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "warmup_ratio": warmup_ratio,
        "warmup_steps": warmup_steps,
        "freeze_embeddings": freeze_embeddings,
        "lr_scheduler": "linear",
        "optimizer": "adamw_torch",
        "max_seq_length": max_seq_length,
        "prompt": dict(prompt) if isinstance(prompt, Mapping) else prompt,
        **({"columns": list(columns)} if pairs else {}),
        "batch_sampler": "no_duplicates"
        if batch_order == "random"
        else f"{batch_order}_no_duplicates",
        "logging_steps": logging_steps,
        "dtype": decision.dtype,
    }
    processes = distributed.world_size()
    if processes > 1:
        # per-process batches whose embeddings are gathered: 2 x batch_size x processes candidates
        hyper_parameters["processes"] = processes
        hyper_parameters["gather_across_devices"] = True
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with distributed.main_first():
        work, checkpoint = training.training_work(
            "train_encoder",
            output_dir,
            base_model_dir,
            {
                "triplets": settings_digest({c: data.get_column(c).to_list() for c in columns}),
                "hyper_parameters": hyper_parameters,
                "seed": seed,
                "save_steps": save_steps,
            },
            work_root,
        )
    set_seed(seed)
    logger.info("Loading base encoder from %s", base_model_dir)
    if card_data is None:
        from sentence_transformers import SentenceTransformerModelCardData

        card_data = SentenceTransformerModelCardData(local_files_only=True)
    model = SentenceTransformer(str(base_model_dir), model_card_data=card_data)
    model.max_seq_length = max_seq_length
    if freeze_embeddings:
        model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    loss = MultipleNegativesRankingLoss(model, scale=scale, gather_across_devices=processes > 1)
    train_dataset = Dataset.from_dict({c: data.get_column(c).to_list() for c in columns})
    logger.info(
        "Training encoder on %d %s (%s: %s)%s: %s",
        data.height,
        "pairs" if pairs else "triplets",
        decision.dtype,
        decision.reason,
        f", resuming from {checkpoint}" if checkpoint else "",
        json.dumps(hyper_parameters),
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work.path),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        lr_scheduler_type="linear",
        optim="adamw_torch",
        seed=seed,
        data_seed=seed,
        batch_sampler=sampler,
        prompts=dict(prompt) if isinstance(prompt, Mapping) else prompt,
        logging_strategy="steps",
        logging_steps=logging_steps,
        logging_first_step=True,
        eval_strategy="no",
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **precision,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train_dataset, loss=loss
    )
    curves = LiveCurves(live_dir) if live_dir is not None else None
    if curves is not None:
        trainer.add_callback(curves.callback())
    train_output, seconds = training.resume_training(trainer, checkpoint)
    if curves is not None:
        curves.finish(trainer.state)
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
    # the README.md card: every logged loss (a resumed run's callback saw only those after its checkpoint), the
    # hyper-parameters (a restored run never began training, which is when the card callback records them), and no
    # training time (it differs on every run; the stage log has it)
    model.model_card_data.training_logs = training_logs(log_history)
    if not model.model_card_data.all_hyperparameters:
        for callback in trainer.callback_handler.callbacks:
            if isinstance(callback, BaseModelCardCallback):
                callback.on_train_begin(args, trainer.state, trainer.control, model=model)
    model.model_card_data._training_start_time = None
    if distributed.is_main():  # DDP keeps a full replica in every process: the main one writes it
        with atomic_dir(output_dir) as model_tmp:
            model.save(str(model_tmp))
            canonical_model_files(model_tmp)
            write_json(
                model_tmp / TRAINING_LOG_NAME,
                {
                    "method": "MultipleNegativesRankingLoss (in-batch negatives), SWIM-IR pairs"
                    if pairs
                    else "MultipleNegativesRankingLoss (in-batch + hard negative), arXiv 2603.01732",
                    "base_model_dir": str(base_model_dir),
                    "num_triplets": data.height,
                    "steps": steps,
                    "train_loss": train_loss,
                    **training.run_record(seconds, steps, checkpoint, seed),
                    "hyper_parameters": hyper_parameters,
                    "dtype": decision.as_dict(),
                    "losses": losses,
                    "model_prompts": dict(model.prompts),
                    "versions": package_versions(),
                },
            )
        work.remove()
    distributed.barrier()
    logger.info("Saved fine-tuned encoder to %s", output_dir)
    return EncoderTrainingResult(
        model_dir=output_dir,
        steps=steps,
        train_loss=train_loss,
        seconds=seconds,
        num_triplets=data.height,
        losses=losses,
        resumed_from=checkpoint.name if checkpoint else None,
    )


def measure_dtypes(
    base_model_dir: str | Path,
    triplets: pl.DataFrame,
    score: Callable[[Any], float],
    *,
    steps: int = 4,
    seed: int = 42,
    **options: Any,
) -> Measurement:
    """Side-by-side encoder training in float32 and bf16, for :func:`bootembed.hardware.resolve_dtype`.

    Trains ``steps`` steps from the base encoder in each dtype (same seed and data order) and scores both trained
    models with ``score`` (a quick, non-test score); bf16 is safe when the scores are within
    :data:`bootembed.hardware.ENCODER_MAX_SCORE_DIFF`.

    Args:
        base_model_dir: the base encoder.
        triplets: the stage's triplets.
        score: loaded model -> score (e.g. :func:`bootembed.evaluation.quick.quick_score`).
        steps: optimiser steps per dtype.
        seed: seed of both runs.
        options: :func:`train_encoder` settings (``batch_size``, ``learning_rate``, ...).

    Returns:
        The :class:`bootembed.hardware.Measurement`.
    """
    from sentence_transformers import SentenceTransformer

    def train(dtype: str, scratch: Path) -> tuple[float, float]:
        result = train_encoder(
            base_model_dir,
            triplets,
            scratch / "model",
            max_steps=steps,
            seed=seed,
            dtype=dtype,
            work_root=scratch / "work",
            **options,
        )
        return result.seconds, score(SentenceTransformer(str(result.model_dir)))

    return training.side_by_side(
        train,
        check="score difference after training",
        compare=lambda scores: abs(scores["bfloat16"] - scores["float32"]),
        threshold=ENCODER_MAX_SCORE_DIFF,
        details=lambda scores: {"steps": steps, "scores": scores},
    )
