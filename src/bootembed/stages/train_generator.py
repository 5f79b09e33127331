"""The generator-training stages: LoRA SFT of positive / negative generators and of language adapters.

Under ``accelerate launch`` every process runs the stage; only the main one writes the metrics
(:mod:`bootembed.distributed`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bootembed import distributed
from bootembed.generator_training import LoraTrainingResult, measure_dtypes, train_lora_adapter
from bootembed.hardware import DtypeDecision
from bootembed.io import read_jsonl, write_json
from bootembed.prompts import POLARITIES
from bootembed.provenance import record
from bootembed.stages.common import stage_dtype

__all__ = ["dtype_decision", "run_generators", "run_language_adapter"]

logger = logging.getLogger(__name__)


def _lora_settings(p: Any) -> dict[str, Any]:
    """The LoRA and trainer settings of ``train_generator`` that the dtype measurement and the training share."""
    return {
        "rank": p.rank,
        "alpha": p.alpha,
        "target_modules": p.target_modules
        if isinstance(p.target_modules, str)
        else list(p.target_modules),
        "learning_rate": p.learning_rate,
        "batch_size": p.batch_size,
        "max_length": p.max_length,
        "quantization": p.quantization,
        "device_map": p.device_map,
        "attn_implementation": p.attn_implementation,
    }


def dtype_decision(params: Any, base: Path, examples: list[dict[str, str]]) -> DtypeDecision:
    """The ``generator_training`` dtype of ``params``; where bf16 is native, measured on ``examples`` first."""

    def measure() -> Any:
        distributed.refuse_measurement("train_generator.dtype")
        return measure_dtypes(
            base, examples, seed=params.seed, **_lora_settings(params.train_generator)
        )

    return stage_dtype(params, "generator_training", measure)


def _train(
    params: Any,
    base: Path,
    examples: list,
    out: Path,
    *,
    lm: bool,
    dtype: DtypeDecision,
    live_dir: Path | None,
    keep_work: bool = False,
) -> LoraTrainingResult:
    p = params.train_generator
    return train_lora_adapter(
        base,
        examples,
        out,
        dropout=p.dropout,
        max_steps=p.lm_max_steps if lm else p.max_steps,
        grad_accum=p.grad_accum,
        seed=params.seed,
        dtype=dtype,
        save_steps=p.save_steps,
        live_dir=live_dir,
        keep_work=keep_work,
        **_lora_settings(p),
    )


def _summary(result: LoraTrainingResult) -> dict[str, Any]:
    return {
        "steps": result.steps,
        "train_loss": round(result.train_loss, 4),
        "first_loss": round(result.losses[0], 4) if result.losses else None,
        "last_loss": round(result.losses[-1], 4) if result.losses else None,
        "examples": result.num_examples,
        "resumed_from": result.resumed_from,
        "seconds": round(result.seconds, 1),
    }


def run_generators(
    params: Any,
    *,
    params_path: Path,
    base: Path,
    sft_dirs: tuple[Path, ...],
    prefix: str,
    out_dir: Path,
    metrics_path: Path,
    live_dir: Path | None = None,
) -> dict[str, Any]:
    """Train a positive and a negative LoRA generator on the union of ``<dir>/<prefix><polarity>.jsonl``.

    Used for the XL-LoRA generators (Sec. 3.3) and the English task adapters (Sec. 3.2). The training curves of
    each adapter go to ``<live_dir>/<polarity>`` (dvclive) when ``live_dir`` is given.
    """
    examples = {
        polarity: [
            row
            for folder in sft_dirs
            for row in read_jsonl(
                folder / f"{prefix}{polarity}.jsonl", required=("prompt", "completion")
            )
        ]
        for polarity in POLARITIES
    }
    decision = dtype_decision(params, base, examples[POLARITIES[0]])
    metrics: dict[str, Any] = record(seed=params.seed, dtypes=[decision])
    results = []
    for polarity in POLARITIES:
        # each adapter's work folder (its final checkpoint) stays until both are written: a kill while the
        # second trains restores the first from that checkpoint instead of training it again
        result = _train(
            params,
            base,
            examples[polarity],
            out_dir / polarity,
            lm=False,
            dtype=decision,
            live_dir=live_dir / polarity if live_dir is not None else None,
            keep_work=True,
        )
        results.append(result)
        metrics[polarity] = _summary(result)
    if distributed.is_main():
        write_json(metrics_path, metrics)
        for result in results:
            if result.work is not None:
                result.work.remove()
    return metrics


def run_language_adapter(
    params: Any,
    *,
    params_path: Path,
    base: Path,
    text_path: Path,
    out: Path,
    metrics_path: Path,
    live_dir: Path | None = None,
) -> dict[str, Any]:
    """Train a language LoRA (causal LM on one language's text) for adapter composition (Sec. 3.2); its training
    curves go to ``live_dir`` (dvclive) when given."""
    examples = read_jsonl(text_path, required=("prompt", "completion"))
    decision = dtype_decision(params, base, examples)
    metrics = {
        **record(seed=params.seed, dtypes=[decision]),
        **_summary(_train(params, base, examples, out, lm=True, dtype=decision, live_dir=live_dir)),
    }
    if distributed.is_main():
        write_json(metrics_path, metrics)
    return metrics
