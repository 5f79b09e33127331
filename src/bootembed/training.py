"""What the two trainers share (LoRA SFT of the generators, contrastive training of the encoder).

The dtype decision and trainer precision keywords (:mod:`bootembed.hardware`), the resumable checkpoint folder
(:class:`bootembed.work.WorkDir`), resuming after a kill, the timing / resume record of a training log, and the
side-by-side float32 / bf16 measurement.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bootembed.hardware import DTYPES, DtypeDecision, Measurement, resolve_dtype, trainer_precision
from bootembed.provenance import dir_digest
from bootembed.work import WorkDir

__all__ = ["resume_training", "run_record", "side_by_side", "training_dtype", "training_work"]


def training_dtype(
    dtype: DtypeDecision | str, step: str, field_name: str
) -> tuple[DtypeDecision, dict[str, bool]]:
    """The dtype decision of a training run and the HF trainer's precision keywords for it.

    Args:
        dtype: a :class:`bootembed.hardware.DtypeDecision`, taken as it is, or ``"float32"`` / ``"bfloat16"`` /
            ``"auto"``, resolved without a measurement.
        step: the :data:`bootembed.hardware.STEPS` entry (``"generator_training"``).
        field_name: the params field, for the reason text (``"train_generator.dtype"``).

    Returns:
        ``(decision, {"bf16": ..., "use_cpu": ...})`` (:func:`bootembed.hardware.trainer_precision`).

    Raises:
        ValueError: an unknown dtype.
    """
    decision = (
        dtype
        if isinstance(dtype, DtypeDecision)
        else resolve_dtype(step, dtype, field_name=field_name)
    )
    return decision, trainer_precision(decision)


def training_work(
    name: str,
    output_dir: Path,
    base_model_dir: Path,
    manifest: Mapping[str, Any],
    root: str | Path | None,
) -> tuple[WorkDir, Path | None]:
    """The checkpoint folder of a resumable training run and the last checkpoint in it (``None``: start afresh).

    Args:
        name: the stage (``"train_generator"``), first part of the work folder's name.
        output_dir: the run's output, which keys the work folder.
        base_model_dir: the base model; its content digest leads the manifest.
        manifest: everything else that changes the result (data digest, hyper-parameters, seed, ...).
        root: root of the work folders (``None``: :data:`bootembed.work.DEFAULT_ROOT`).

    Returns:
        ``(work folder, last checkpoint or None)``; a different manifest starts a fresh folder.
    """
    work = WorkDir(
        name, output_dir, {"base_model": dir_digest(base_model_dir), **manifest}, root=root
    )
    return work, work.last_checkpoint()


def resume_training(trainer: Any, checkpoint: Path | None) -> tuple[Any, float]:
    """``trainer.train()`` from ``checkpoint`` (``None``: from the start); its output and wall seconds.

    A checkpoint that already holds the last step (``global_step >= max_steps``: the run was killed after its final
    checkpoint, before its output was written) is restored, not trained on: the HF ``Trainer`` resumed from it runs
    one optimizer step more than ``max_steps`` whenever ``max_steps`` is not a multiple of the steps per epoch (its
    epoch loop checks the stop flag only after a step; measured with transformers 5.19: 31 steps for 30), which
    changed the weights of a killed-and-resumed run. The restored output's ``training_loss`` is the step-weighted
    mean of the logged losses (the trainer logs them to 4 decimals), not the exact mean an uninterrupted run reports.

    Returns:
        ``(TrainOutput, seconds)``.
    """
    start = time.perf_counter()
    if checkpoint is not None and _finished(checkpoint, int(trainer.args.max_steps)):
        output = _restore_finished(trainer, checkpoint)
    else:
        output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    return output, time.perf_counter() - start


def _finished(checkpoint: Path, max_steps: int) -> bool:
    """Whether the HF checkpoint ``checkpoint`` is at or past ``max_steps`` (``max_steps <= 0``: never)."""
    import json

    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return max_steps > 0 and int(state.get("global_step", 0)) >= max_steps


def _restore_finished(trainer: Any, checkpoint: Path) -> Any:
    """Load the weights and trainer state of a finished checkpoint into ``trainer``; its ``TrainOutput``."""
    from transformers import TrainerState
    from transformers.trainer_utils import TrainOutput

    state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    # the trainer's own checkpoint loader (PEFT adapters, sentence-transformers modules), as train() would call it
    trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = state
    logged, previous, weighted = 0, 0, 0.0
    for entry in state.log_history:
        if "loss" in entry:
            span = int(entry["step"]) - previous
            weighted += float(entry["loss"]) * span
            logged += span
            previous = int(entry["step"])
    loss = weighted / logged if logged else float("nan")
    return TrainOutput(state.global_step, loss, {"train_loss": loss})


def run_record(seconds: float, steps: int, checkpoint: Path | None, seed: int) -> dict[str, Any]:
    """The time, resume and seed entries of a training log (``seconds``, ``seconds_per_step``, ``resumed_from``,
    ``seed``), in that order."""
    return {
        "seconds": seconds,
        "seconds_per_step": seconds / max(steps, 1),
        "resumed_from": checkpoint.name if checkpoint else None,
        "seed": seed,
    }


def side_by_side(
    train: Callable[[str, Path], tuple[float, Any]],
    *,
    check: str,
    compare: Callable[[dict[str, Any]], float],
    threshold: float,
    details: Callable[[dict[str, Any]], dict[str, Any]],
) -> Measurement:
    """A short training run in float32 and in bf16, compared, for :func:`bootembed.hardware.resolve_dtype`.

    Args:
        train: ``(dtype, scratch folder) -> (seconds, result)``; each dtype (float32 first) gets a fresh scratch
            folder under the working directory, removed afterwards.
        check: what the comparison is (``"loss curve difference"``).
        compare: results by dtype -> the check's value; bf16 is safe when it is at most ``threshold``.
        threshold: the limit of the check.
        details: results by dtype -> the measurement's details.

    Returns:
        The :class:`bootembed.hardware.Measurement`.
    """
    import tempfile

    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for dtype in DTYPES:
        with tempfile.TemporaryDirectory(prefix="bootembed-measure-", dir=".") as scratch:
            seconds[dtype], results[dtype] = train(dtype, Path(scratch))
    value = compare(results)
    return Measurement(
        float32_seconds=seconds["float32"],
        bfloat16_seconds=seconds["bfloat16"],
        check=check,
        value=value,
        threshold=threshold,
        safe=value <= threshold,
        details=details(results),
    )
