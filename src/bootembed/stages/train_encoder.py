"""The ``train_encoder`` stages: fine-tune the base encoder on one strategy's triplets, or a retriever on SWIM-IR
(query, passage) pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bootembed import distributed
from bootembed.encoder_training import document_prompt, measure_dtypes, train_encoder
from bootembed.evaluation.quick import quick_score
from bootembed.io import write_json
from bootembed.model_card import training_card_data
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, data_sources, stage_dtype, stage_language

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
    "batch_order",
)
#: Options of the real run only: the side-by-side dtype measurement trains its own few steps and never saves.
_RUN_ONLY = ("max_steps", "save_steps")


def _train(
    request: LanguageRequest,
    *,
    base: Path,
    out: Path,
    triplets: Path | None = None,
    pairs: Path | None = None,
    train_seed: int | None = None,
    max_steps: int | None = None,
    live_dir: Path | None = None,
) -> dict[str, Any]:
    """MultipleNegativesRankingLoss fine-tuning into ``out``: on ``triplets`` (in-batch negatives + hard negative),
    or on (query, passage) ``pairs`` (in-batch negatives; queries get ``models.encoder.prompt``, passages the base
    encoder's saved document prompt, e.g. E5's ``query: `` / ``passage: ``; ``models.encoder.prompt: ""`` gives
    neither a prefix).

    ``train_seed`` (one of ``train_encoder.seeds``; default: the params ``seed``) seeds the initialisation of the
    data order and dropout; ``max_steps`` replaces ``train_encoder.max_steps``. The training curves go to
    ``live_dir`` (dvclive) when given. The encoder folder's ``README.md`` is its sentence-transformers model card
    (:func:`bootembed.model_card.training_card_data`; the strategy is the data's ``strategy`` column, else the file
    name).

    Raises:
        ValueError: not exactly one of ``triplets`` and ``pairs``.
    """
    if (triplets is None) == (pairs is None):
        raise ValueError("train-encoder: expected exactly one of --triplets and --pairs")
    params, language = request.params, request.language
    seed = params.seed if train_seed is None else train_seed
    p = params.train_encoder
    frame = pl.read_parquet(triplets if triplets is not None else pairs)
    options: dict[str, Any] = {name: getattr(p, name) for name in _TRAINING_OPTIONS}
    if max_steps is not None:
        options["max_steps"] = max_steps
    if pairs is None:
        options["prompt"] = params.models.encoder.prompt or None
    else:
        options["pairs"] = True
        query = params.models.encoder.prompt
        options["prompt"] = {
            "anchor": query,
            "positive": (document_prompt(base) or "") if query else "",
        }
    sources = data_sources(params, request.params_path)

    def measure() -> Any:
        distributed.refuse_measurement("train_encoder.dtype")
        return measure_dtypes(
            base,
            frame,
            lambda model: quick_score(model, sources, language)[1],
            seed=seed,
            **{k: v for k, v in options.items() if k not in _RUN_ONLY},
        )

    decision = stage_dtype(params, "encoder_training", measure)
    data_file = Path(triplets if triplets is not None else pairs)
    strategies = frame["strategy"].unique().to_list() if "strategy" in frame.columns else []
    strategy = strategies[0] if len(strategies) == 1 else data_file.stem
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
        ("pairs" if pairs is not None else "triplets"): result.num_triplets,
        "resumed_from": result.resumed_from,
        "seconds": round(result.seconds, 1),
        **record(seed=seed, dtypes=[decision]),
    }


def run(
    params: Any, *, params_path: Path, language: str, metrics_path: Path, **options: Any
) -> dict[str, Any]:
    """A :func:`bootembed.stages.common.language_stage` run whose metrics only the main process writes: under
    ``accelerate launch`` every process trains (:mod:`bootembed.distributed`)."""
    checked = stage_language(params, language, params_path)
    metrics = _train(LanguageRequest(params, Path(params_path), checked), **options)
    if distributed.is_main():
        write_json(metrics_path, metrics)
    return metrics


run.__doc__ = f"{_train.__doc__}\n\n{run.__doc__}"
