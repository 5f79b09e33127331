"""Train one LoRA adapter on prompt/completion pairs with a completion-only loss.

This is the generator-training step of XL-LoRA (Basoz, Horne, Opper, "Bootstrapping Embeddings for
Low Resource Languages", arXiv 2603.01732, Sec. 3): a small causal LM (Gemma-3-270M here) gets one
LoRA adapter per generation task, e.g. a *positive* adapter (non-English premise -> English
entailment) and a *negative* adapter (non-English premise -> English contradiction). The loss is
computed on the completion tokens only, as in the reference implementation (TRL ``SFTTrainer``
with ``completion_only_loss=True``).

Examples are plain text (base-model style, no chat template). Each training sequence is
``<bos> + tokens(prompt) + tokens(completion) + <eos>``: the prompt and the completion are
tokenised separately, so the prompt tokens are exactly those the model sees at generation time, and
the BOS token appears exactly once whether or not the tokenizer adds it by itself.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootembed import distributed
from bootembed.curves import LiveCurves
from bootembed.hardware import (
    SFT_MAX_LOSS_DIFF,
    DtypeDecision,
    Measurement,
    loss_curve_difference,
    probe,
)
from bootembed.io import atomic_dir, write_json
from bootembed.provenance import canonical_model_files, package_versions, settings_digest
from bootembed.sft_loss import IGNORE_INDEX as IGNORE_INDEX  # re-exported
from bootembed.sft_loss import completion_only_loss, completion_only_loss_via_forward
from bootembed.training import (
    resume_training,
    run_record,
    side_by_side,
    training_dtype,
    training_work,
)
from bootembed.work import WorkDir

logger = logging.getLogger(__name__)

#: The JSON log written inside every adapter folder.
TRAINING_LOG = "training_log.json"


@dataclass(frozen=True)
class LoraTrainingResult:
    """Outcome of :func:`train_lora_adapter`.

    Attributes:
        adapter_dir: Final directory holding the peft adapter, tokenizer and ``training_log.json``.
        steps: Number of optimizer steps taken.
        train_loss: Mean training loss over the whole run (completion tokens only, nats/token).
        losses: Logged training losses, one per ``logging_steps`` window, in order.
        seconds: Wall-clock training time (``trainer.train()`` only), in seconds.
        num_examples: Number of training examples used (after dropping over-long ones).
        loss_curve: ``[{"step", "loss"}]`` per logging step (also in ``training_log.json``; the DVC plots are the
            dvclive folder, :mod:`bootembed.curves`).
        resumed_from: the checkpoint the run resumed from after a kill, or ``None``.
        work: the work folder, still in place when the run was asked to keep it (``keep_work``), else ``None``.
    """

    adapter_dir: Path
    steps: int
    train_loss: float
    losses: list[float]
    seconds: float
    num_examples: int
    loss_curve: list[dict[str, float]] = field(default_factory=list)
    resumed_from: str | None = None
    work: WorkDir | None = None


def tokenize_prompt_completion(
    tokenizer: Any, prompt: str, completion: str, max_length: int
) -> dict[str, list[int]] | None:
    """Tokenise one prompt/completion pair into a completion-only training example.

    The sequence is ``[bos] + prompt_ids + completion_ids + [eos]`` (BOS exactly once: a BOS the
    tokenizer adds by itself is kept and not duplicated), truncated to ``max_length`` tokens from the
    end (keep-start, as TRL does).

    Args:
        tokenizer: A Hugging Face tokenizer with ``bos_token_id`` and ``eos_token_id``.
        prompt: Prompt text (plain text, no chat template).
        completion: Completion text; it is appended to the prompt verbatim (include a leading
            space / newline in either string if the format needs one).
        max_length: Maximum sequence length in tokens (>= 2).

    Returns:
        ``{"input_ids": [...], "completion_mask": [...]}`` (same length; mask 1 on completion and
        EOS tokens, 0 on BOS and prompt tokens), or None if truncation leaves no completion token.

    Raises:
        ValueError: If the tokenizer has no BOS/EOS token.

    Example:
        >>> ex = tokenize_prompt_completion(tok, "Premise: x\\nEntailment:", " y", 128)
        >>> labels = [t if m else -100 for t, m in zip(ex["input_ids"], ex["completion_mask"])]
    """
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    if bos is None or eos is None:
        raise ValueError(
            f"tokenizer: expected bos_token_id and eos_token_id, got bos={bos!r}, eos={eos!r}"
        )
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    completion_ids = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    if prompt_ids[:1] == [bos]:  # prompt text already started with the BOS string
        prompt_ids = prompt_ids[1:]
    input_ids = [bos, *prompt_ids, *completion_ids, eos]
    mask = [0] * (1 + len(prompt_ids)) + [1] * (len(completion_ids) + 1)
    input_ids, mask = input_ids[:max_length], mask[:max_length]
    if 1 not in mask:
        return None
    return {"input_ids": input_ids, "completion_mask": mask}


def _validate(examples: Sequence[Mapping[str, str]], settings: Mapping[str, Any]) -> None:
    """Check the examples and the :func:`train_lora_adapter` settings (``rank``, ..., ``logging_steps``).

    Raises:
        ValueError: naming the example or setting and what was expected.
    """
    if isinstance(examples, (str, bytes, Mapping)) or not isinstance(examples, Sequence):
        raise ValueError(
            f"examples: expected a sequence of {{'prompt', 'completion'}} dicts, "
            f"got {type(examples).__name__}"
        )
    if len(examples) == 0:
        raise ValueError("examples: expected at least one prompt/completion example, got none")
    for i, ex in enumerate(examples):
        if not isinstance(ex, Mapping):
            raise ValueError(f"examples[{i}]: expected a mapping, got {type(ex).__name__}")
        for key in ("prompt", "completion"):
            if key not in ex:
                raise ValueError(f"examples[{i}]: missing key {key!r} (keys: {sorted(ex)})")
            # An empty prompt is allowed: plain language modelling (loss on every token), as for the
            # language adapters of adapter composition.
            if not isinstance(ex[key], str) or (key == "completion" and not ex[key].strip()):
                raise ValueError(
                    f"examples[{i}][{key!r}]: expected a "
                    f"{'non-empty ' if key == 'completion' else ''}string, got {ex[key]!r}"
                )
    for name in ("rank", "alpha", "max_steps", "batch_size", "grad_accum", "logging_steps"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    max_length, dropout = settings["max_length"], settings["dropout"]
    learning_rate, target_modules = settings["learning_rate"], settings["target_modules"]
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length: expected an integer >= 2, got {max_length!r}")
    if not isinstance(dropout, (int, float)) or not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout: expected a float in [0, 1), got {dropout!r}")
    if (
        not isinstance(learning_rate, (int, float))
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(f"learning_rate: expected a positive finite float, got {learning_rate!r}")
    if isinstance(target_modules, str):
        if not target_modules:
            raise ValueError("target_modules: expected 'all-linear' or module names, got ''")
    elif not target_modules or not all(isinstance(m, str) and m for m in target_modules):
        raise ValueError(
            f"target_modules: expected 'all-linear' or a non-empty list of module names, "
            f"got {target_modules!r}"
        )


def quantization_config(quantization: str, compute_dtype: Any) -> Any:
    """The bitsandbytes configuration of a k-bit base model for LoRA SFT.

    ``nf4`` is QLoRA (Dettmers et al., 2023, "QLoRA: Efficient Finetuning of Quantized LLMs", Sec. 3): 4-bit
    NormalFloat weights with double quantisation of the quantisation constants, matmuls in ``compute_dtype``; the
    reference implementation (mbasoz/xllora-embedding) trains its Gemma-3-27B generators this way. ``int8`` is
    LLM.int8() (Dettmers et al., 2022).

    Args:
        quantization: ``int8`` or ``nf4``.
        compute_dtype: torch dtype of the 4-bit matmuls (``torch.bfloat16`` on GPUs, ``torch.float32`` on CPUs).

    Returns:
        A ``transformers.BitsAndBytesConfig``.

    Raises:
        ValueError: another value.
        ImportError: bitsandbytes is not installed (``pip install -e ".[qlora]"``).
    """
    import importlib.util

    from transformers import BitsAndBytesConfig

    if quantization not in ("int8", "nf4"):
        raise ValueError(
            f"train_generator.quantization: expected none, int8 or nf4, got {quantization!r}"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError(
            f"train_generator.quantization: {quantization} needs bitsandbytes (pip install -e '.[qlora]')"
        )
    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def _build_trainer(
    base_model_dir: Path,
    examples: Sequence[Mapping[str, str]],
    checkpoint_dir: Path,
    *,
    rank: int,
    alpha: int,
    dropout: float,
    target_modules: Sequence[str] | str,
    max_steps: int,
    learning_rate: float,
    batch_size: int,
    grad_accum: int,
    max_length: int,
    seed: int,
    precision: Mapping[str, bool],
    logging_steps: int,
    save_steps: int,
    quantization: str = "none",
    device_map: str | None = None,
    attn_implementation: str = "sdpa",
) -> tuple[Any, Any, int]:
    """Build the TRL ``SFTTrainer`` (model with LoRA attached); returns (trainer, tokenizer, n).

    ``quantization`` ``int8`` / ``nf4`` loads the base weights through bitsandbytes (:func:`quantization_config`);
    the SFT trainer then prepares the k-bit model for training (peft ``prepare_model_for_kbit_training``).
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    rows: list[dict[str, list[int]]] = []
    dropped = 0
    for ex in examples:
        row = tokenize_prompt_completion(tokenizer, ex["prompt"], ex["completion"], max_length)
        if row is None:
            dropped += 1
        else:
            rows.append(row)
    if dropped:
        logger.warning(
            "Dropped %d/%d examples whose prompt fills max_length=%d (no completion token left)",
            dropped,
            len(examples),
            max_length,
        )
    if not rows:
        raise ValueError(
            f"examples: every prompt is at least max_length={max_length} tokens long; "
            "raise max_length or shorten the prompts"
        )
    n_truncated = sum(1 for r in rows if len(r["input_ids"]) == max_length)
    if n_truncated:
        logger.info("%d examples reach max_length=%d and may be truncated", n_truncated, max_length)
    dataset = Dataset.from_list(rows)

    load: dict[str, Any] = {"dtype": torch.float32, "attn_implementation": attn_implementation}
    if quantization != "none":
        load["quantization_config"] = quantization_config(
            quantization, torch.bfloat16 if precision["bf16"] else torch.float32
        )
        load["device_map"] = device_map or distributed.kbit_device_map(precision["use_cpu"])
    elif device_map:
        load["device_map"] = device_map
    model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), **load)
    model.config.use_cache = False
    peft_config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules if isinstance(target_modules, str) else list(target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    args = SFTConfig(
        output_dir=str(checkpoint_dir),
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        learning_rate=learning_rate,
        lr_scheduler_type="constant",  # as the reference implementation
        max_grad_norm=0.3,  # as the reference implementation
        optim="adamw_torch",
        max_length=max_length,
        packing=False,
        completion_only_loss=True,
        bf16=precision["bf16"],
        use_cpu=precision["use_cpu"],
        logging_steps=logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        save_only_model=False,
        report_to="none",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        gradient_checkpointing=False,
        disable_tqdm=False,
    )

    class _CompletionOnlySFTTrainer(SFTTrainer):
        """SFTTrainer whose loss projects only completion positions through the LM head."""

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            if self.accelerator.num_processes > 1:
                # through the DDP / FSDP wrapper (gradient sync, sharded weights); num_items_in_batch counts the
                # tokens of every process and DDP averages the gradients, so scale back as Trainer.compute_loss does
                loss = completion_only_loss_via_forward(model, inputs, num_items_in_batch)
                if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                    loss = loss * self.accelerator.num_processes
            else:
                # the backbone is called directly, past the forward that accelerate wrapped in autocast: without
                # this context bf16 mixed precision would silently compute in float32
                with self.accelerator.autocast():
                    loss = completion_only_loss(
                        self.accelerator.unwrap_model(model), inputs, num_items_in_batch
                    )
            return (loss, {"loss": loss}) if return_outputs else loss

    trainer = _CompletionOnlySFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        peft_config=peft_config,
        processing_class=tokenizer,
    )
    return trainer, tokenizer, len(rows)


def train_lora_adapter(
    base_model_dir: str | Path,
    examples: Sequence[Mapping[str, str]],
    output_dir: str | Path,
    *,
    rank: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    target_modules: Sequence[str] | str = "all-linear",
    max_steps: int = 100,
    learning_rate: float = 2e-4,
    batch_size: int = 8,
    grad_accum: int = 1,
    max_length: int = 128,
    seed: int = 42,
    dtype: DtypeDecision | str = "float32",
    logging_steps: int = 5,
    save_steps: int = 10,
    work_root: str | Path | None = None,
    quantization: str = "none",
    device_map: str | None = None,
    attn_implementation: str = "sdpa",
    live_dir: str | Path | None = None,
    keep_work: bool = False,
) -> LoraTrainingResult:
    """Train one LoRA adapter on prompt/completion pairs with a completion-only loss.

    Implements the generator fine-tuning of XL-LoRA (arXiv 2603.01732, Sec. 3; reference code
    mbasoz/xllora-embedding ``src/lora_training.py``): LoRA on all linear layers of a causal LM,
    trained with TRL ``SFTTrainer`` and loss on completion tokens only. Constant learning rate and
    gradient clipping at 0.3 follow the reference; batch size / steps are parameters.

    Each example becomes ``<bos> prompt completion <eos>`` (see :func:`tokenize_prompt_completion`);
    examples whose prompt alone fills ``max_length`` are dropped with a warning. Only the adapter is
    saved: ``adapter_config.json``, ``adapter_model.safetensors``, the tokenizer files and
    ``training_log.json`` (losses, seed, hyper-parameters, dtype decision, library versions).

    Resumable: checkpoints go every ``save_steps`` steps to a work folder (:class:`bootembed.work.WorkDir`)
    keyed by the output and a manifest of every setting (base-model and data digests, hyper-parameters, seed,
    dtype); a rerun after a kill continues from the last checkpoint (``resume_from_checkpoint``), a rerun with
    other settings starts over. The adapter is built in a temporary sibling of ``output_dir`` and renamed into
    place; the work folder is removed afterwards. Nothing goes to ``/tmp``.

    Several processes (``accelerate launch``, :mod:`bootembed.distributed`): each process trains on its share of
    every batch (``batch_size`` and ``grad_accum`` are per process, so the effective batch is ``batch_size x
    grad_accum x processes``, recorded as ``processes`` in the hyper-parameters and the resume manifest); the loss
    goes through the DDP / FSDP wrapper (:func:`bootembed.sft_loss.completion_only_loss_via_forward`); only the
    main process writes the adapter and its log, the others wait until it is in place.

    Args:
        base_model_dir: Transformers folder of the base causal LM and its tokenizer.
        examples: Sequence of mappings with non-empty string ``"prompt"`` and ``"completion"``.
        output_dir: Destination directory of the adapter.
        rank: LoRA rank r (> 0).
        alpha: LoRA alpha (> 0); the update is scaled by alpha / rank.
        dropout: LoRA dropout in [0, 1).
        target_modules: ``"all-linear"`` or a list of module names (e.g. ``["q_proj", "v_proj"]``).
        max_steps: Number of optimizer steps (> 0); the data is cycled as needed.
        learning_rate: Peak (constant) AdamW learning rate.
        batch_size: Examples per forward pass.
        grad_accum: Gradient-accumulation steps; effective batch = batch_size * grad_accum.
        max_length: Maximum tokens per sequence (BOS + prompt + completion + EOS).
        seed: Random seed (``transformers.set_seed``, data order, LoRA init).
        dtype: A :class:`bootembed.hardware.DtypeDecision` of the ``generator_training`` step, or
            ``"float32"`` / ``"bfloat16"`` / ``"auto"`` (resolved without a measurement). bf16 is mixed precision
            (autocast); on a CPU the trainer gets ``use_cpu=True``.
        logging_steps: Log the loss every this many optimizer steps.
        save_steps: Checkpoint every this many optimizer steps (for resuming after a kill).
        work_root: Root of the work folders (default :data:`bootembed.work.DEFAULT_ROOT`).
        quantization: ``none``, ``int8`` or ``nf4`` (QLoRA; :func:`quantization_config`): the base weights
            during training. Recorded in the hyper-parameters when not ``none``.
        device_map: transformers ``device_map`` of the base model (``None``: the trainer places it).
        attn_implementation: transformers attention kernel (``sdpa``).
        live_dir: dvclive folder of the training curves (loss, learning rate, gradient norm per logging step;
            :class:`bootembed.curves.LiveCurves`), or ``None`` for none.
        keep_work: leave the work folder (with its final checkpoint) in place and return it in the result: a stage
            that trains several adapters in a row removes the folders once all are written, so a kill while a
            later adapter trains restores the finished ones from their final checkpoints instead of training
            them again.

    Returns:
        A :class:`LoraTrainingResult`.

    Raises:
        ValueError: On bad arguments; the message names the field (e.g. ``examples[3]['prompt']``,
            ``rank``) and what was expected.
        FileNotFoundError: If ``base_model_dir`` does not exist.

    Example:
        >>> res = train_lora_adapter("/models/gemma-3-270m", [
        ...     {"prompt": "Premise: Ina son ruwa.\\nEntailment:", "completion": " I like water."}
        ... ], "out/pos_adapter", max_steps=10)
        >>> res.adapter_dir / "adapter_model.safetensors"
    """
    settings = {
        "rank": rank,
        "alpha": alpha,
        "dropout": dropout,
        "target_modules": target_modules,
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "max_length": max_length,
    }
    _validate(examples, {**settings, "logging_steps": logging_steps})
    if save_steps < 1:
        raise ValueError(f"save_steps: expected a positive integer, got {save_steps!r}")
    decision, precision = training_dtype(dtype, "generator_training", "train_generator.dtype")
    base_model_dir = Path(base_model_dir)
    if not (base_model_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"base_model_dir: expected a transformers model folder with config.json, "
            f"got {base_model_dir}"
        )
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    hyperparameters = {
        "rank": rank,
        "alpha": alpha,
        "dropout": dropout,
        "target_modules": target_modules
        if isinstance(target_modules, str)
        else list(target_modules),
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "lr_scheduler": "constant",
        "max_grad_norm": 0.3,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "max_length": max_length,
        "dtype": decision.dtype,
        "completion_only_loss": True,
    }
    # recorded only where they differ from the defaults, so that the logs of earlier runs stay what they were
    loading = {
        "quantization": quantization,
        "device_map": device_map,
        "attn_implementation": attn_implementation,
    }
    defaults = {"quantization": "none", "device_map": None, "attn_implementation": "sdpa"}
    hyperparameters.update({k: v for k, v in loading.items() if v != defaults[k]})
    if distributed.world_size() > 1:
        # batches are per process: the effective batch grows with the processes
        hyperparameters["processes"] = distributed.world_size()
    with distributed.main_first():
        work, checkpoint = training_work(
            "train_generator",
            output_dir,
            base_model_dir,
            {
                "examples": settings_digest({"examples": [dict(e) for e in examples]}),
                "hyperparameters": hyperparameters,
                "seed": seed,
                "logging_steps": logging_steps,
                "save_steps": save_steps,
            },
            work_root,
        )
    trainer, tokenizer, num_examples = _build_trainer(
        base_model_dir,
        examples,
        work.path,
        seed=seed,
        precision=precision,
        logging_steps=logging_steps,
        save_steps=save_steps,
        **settings,
        **loading,
    )
    logger.info(
        "Training LoRA adapter (r=%d, alpha=%d) on %d examples for %d steps "
        "(batch %d x accum %d, lr %g, %s: %s)%s -> %s",
        rank,
        alpha,
        num_examples,
        max_steps,
        batch_size,
        grad_accum,
        learning_rate,
        decision.dtype,
        decision.reason,
        f", resuming from {checkpoint}" if checkpoint else "",
        output_dir,
    )
    curves = LiveCurves(live_dir) if live_dir is not None else None
    if curves is not None:
        trainer.add_callback(curves.callback())
    output, seconds = resume_training(trainer, checkpoint)
    if curves is not None:
        curves.finish(trainer.state)
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    curve = [
        {"step": int(h["step"]), "loss": float(h["loss"])}
        for h in trainer.state.log_history
        if "loss" in h
    ]
    train_loss = float(output.training_loss)
    steps = int(trainer.state.global_step)
    # every process takes part in gathering the weights (FSDP shards them); only the main one writes
    state_dict = (
        trainer.accelerator.get_state_dict(trainer.model_wrapped)
        if distributed.world_size() > 1
        else None
    )
    if distributed.is_main():
        with atomic_dir(output_dir) as staging:
            trainer.model.save_pretrained(str(staging), state_dict=state_dict)
            tokenizer.save_pretrained(str(staging))
            canonical_model_files(staging)
            log = {
                "base_model_dir": str(base_model_dir),
                "num_examples": num_examples,
                "steps": steps,
                "train_loss": train_loss,
                "losses": losses,
                "loss_curve": curve,
                "logging_steps": logging_steps,
                **run_record(seconds, steps, checkpoint, seed),
                "hyperparameters": hyperparameters,
                "dtype": decision.as_dict(),
                "versions": package_versions(),
            }
            write_json(staging / TRAINING_LOG, log)
        if not keep_work:
            work.remove()
    distributed.barrier()  # the others return once the adapter is in place
    logger.info(
        "Saved adapter to %s: %d steps in %.1f s, train loss %.4f",
        output_dir,
        steps,
        seconds,
        train_loss,
    )
    return LoraTrainingResult(
        adapter_dir=output_dir,
        steps=steps,
        train_loss=train_loss,
        losses=losses,
        seconds=seconds,
        num_examples=num_examples,
        loss_curve=curve,
        resumed_from=checkpoint.name if checkpoint else None,
        work=work if keep_work else None,
    )


def measure_dtypes(
    base_model_dir: str | Path,
    examples: Sequence[Mapping[str, str]],
    *,
    steps: int = 4,
    seed: int = 42,
    **hyperparameters: Any,
) -> Measurement:
    """Side-by-side SFT run in float32 and bf16 (mixed precision) for :func:`bootembed.hardware.resolve_dtype`.

    Trains ``steps`` optimizer steps from the same LoRA initialisation and data order in each dtype and compares
    the per-step loss curves (:func:`bootembed.hardware.loss_curve_difference`, limit
    :data:`bootembed.hardware.SFT_MAX_LOSS_DIFF`) and the wall time of the steps after the first.

    Args:
        base_model_dir: the base causal LM.
        examples: SFT examples (the stage's own).
        steps: optimizer steps per dtype (>= 2).
        seed: seed of both runs.
        hyperparameters: LoRA / trainer settings as for :func:`train_lora_adapter` (``rank``, ``batch_size``, ...).

    Returns:
        The :class:`bootembed.hardware.Measurement`.
    """
    from transformers import TrainerCallback

    class _StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.times.append(time.perf_counter())

    hw = probe()
    names = (
        "rank",
        "alpha",
        "dropout",
        "target_modules",
        "learning_rate",
        "batch_size",
        "grad_accum",
        "quantization",
        "device_map",
        "attn_implementation",
    )
    options = {k: hyperparameters[k] for k in names if k in hyperparameters}
    max_length = int(hyperparameters.get("max_length", 128))

    def train(dtype: str, scratch: Path) -> tuple[float, list[float]]:
        trainer, _, _ = _build_trainer(
            Path(base_model_dir),
            examples,
            scratch,
            max_steps=steps,
            max_length=max_length,
            seed=seed,
            precision={"bf16": dtype == "bfloat16", "use_cpu": hw.device == "cpu"},
            logging_steps=1,
            save_steps=steps + 1,
            **{
                "rank": 8,
                "alpha": 16,
                "dropout": 0.0,
                "target_modules": "all-linear",
                "learning_rate": 2e-4,
                "batch_size": 8,
                "grad_accum": 1,
                **options,
            },
        )
        timer = _StepTimer()
        trainer.add_callback(timer)
        trainer.train()
        losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h][:steps]
        seconds = timer.times[-1] - timer.times[0] if len(timer.times) > 1 else float("nan")
        return seconds, losses

    return side_by_side(
        train,
        check="loss curve difference",
        compare=lambda losses: loss_curve_difference(losses["float32"], losses["bfloat16"]),
        threshold=SFT_MAX_LOSS_DIFF,
        details=lambda losses: {"steps": steps, "losses": losses},
    )
