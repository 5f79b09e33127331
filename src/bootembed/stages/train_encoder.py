"""The ``train_encoder`` stage: fine-tune the base encoder on one strategy's triplets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bootembed.encoder_training import measure_dtypes, train_encoder
from bootembed.evaluation.quick import quick_score
from bootembed.model_card import training_card_data
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, data_sources, language_stage, stage_dtype

__all__ = ["run"]

#: The ``train_encoder`` params fields passed to :func:`bootembed.encoder_training.train_encoder` as they are.
_TRAINING_OPTIONS = (
    "epochs",
    "max_steps",
    "batch_size",
    "learning_rate",
    "warmup_ratio",
    "scale",
    "max_seq_length",
    "save_steps",
    "freeze_embeddings",
)
#: Options of the real run only: the side-by-side dtype measurement trains its own few steps and never saves.
_RUN_ONLY = ("max_steps", "save_steps")


def _train(
    request: LanguageRequest,
    *,
    base: Path,
    triplets: Path,
    out: Path,
    train_seed: int | None = None,
    live_dir: Path | None = None,
) -> dict[str, Any]:
    """MultipleNegativesRankingLoss fine-tuning (in-batch negatives + hard negative) into ``out``.

    ``train_seed`` (one of ``train_encoder.seeds``; default: the params ``seed``) seeds the initialisation of the
    data order and dropout. The training curves go to ``live_dir`` (dvclive) when given. The encoder folder's
    ``README.md`` is its sentence-transformers model card (:func:`bootembed.model_card.training_card_data`; the
    strategy is the triplets' ``strategy`` column, else the file name).
    """
    params, language = request.params, request.language
    seed = params.seed if train_seed is None else train_seed
    p = params.train_encoder
    frame = pl.read_parquet(triplets)
    options = {name: getattr(p, name) for name in _TRAINING_OPTIONS}
    options["prompt"] = params.models.encoder.prompt or None
    sources = data_sources(params, request.params_path)
    decision = stage_dtype(
        params,
        "encoder_training",
        lambda: measure_dtypes(
            base,
            frame,
            lambda model: quick_score(model, sources, language)[1],
            seed=seed,
            **{k: v for k, v in options.items() if k not in _RUN_ONLY},
        ),
    )
    strategies = frame["strategy"].unique().to_list() if "strategy" in frame.columns else []
    strategy = strategies[0] if len(strategies) == 1 else triplets.stem
    card = training_card_data(language=language, strategy=strategy, seed=seed, base_dir=base)
    result = train_encoder(
        base,
        frame,
        out,
        seed=seed,
        dtype=decision,
        live_dir=live_dir,
        card_data=card,
        **options,
    )
    return {
        "steps": result.steps,
        "train_loss": round(result.train_loss, 4),
        "triplets": result.num_triplets,
        "resumed_from": result.resumed_from,
        "seconds": round(result.seconds, 1),
        **record(seed=seed, dtypes=[decision]),
    }


run = language_stage(_train)
