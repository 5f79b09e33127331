"""GPU check: how fast this machine runs the project's three compute steps, against its own bf16 matmul rate.

Run on a GPU machine with ``python scripts/gpu_check.py`` (under 8 minutes on one H200). It needs only torch,
transformers, peft, sentence-transformers and accelerate (no vLLM, TRL, DVC, polars, mteb, package registry or
hub): the models are random-initialised from configs written here (speed does not depend on the weights), with a
word-level tokenizer built in memory, so nothing is downloaded and no file travels with the working tree.

Measured, each as a share of the GPU's measured dense bf16 matmul rate (:func:`matmul_tflops`):

* synthesis with the project's transformers backend
  (:class:`bootembed.generation.transformers_backend.TransformersBackend`), bf16, on Gemma-3-270M's and
  Gemma-3-1B's configs with a rank-8 all-linear LoRA adapter: the base model and the adapter, with the adapter
  merged into its own weight copy and unmerged; output tokens/s and prompts/s;
* generator SFT steps/s: LoRA r=8 / alpha 16 / dropout 0.05 on all linear layers, float32 master weights under bf16
  autocast (the trainer's ``bf16=True``), AdamW, the project's completion-only loss
  (:func:`bootembed.sft_loss.completion_only_loss`), at the paper preset's batch 16 and the padded length of its
  XL-LoRA SFT batches (144 tokens, 13 of them completion);
* encoder training steps/s: XLM-R base's config as a sentence-transformers model (mean pooling) trained with
  MultipleNegativesRankingLoss at the paper preset's batch 512 (anchor, positive, hard negative of 40 tokens).

Work is counted with :func:`bootembed.bench.model_cost` (linear layers and attention; a prompt token costs the blocks,
a generated token the blocks and the LM head); a training step costs twice the forward pass of the frozen base (the
backward pass computes activation gradients only) for LoRA, and 6 FLOPs per parameter and token for the encoder.

``--tiny`` runs the same code on tiny configs in seconds (the CPU test of this module). The result goes to
``metrics/bench/gpu_check.json``, written atomically.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ENCODER_CONFIG",
    "GEMMA3_1B",
    "GEMMA3_270M",
    "main",
    "matmul_tflops",
    "run_check",
]

logger = logging.getLogger(__name__)

#: Gemma-3-270M's text config (google/gemma-3-270m ``config.json``), random weights here.
GEMMA3_270M: dict[str, Any] = {
    "vocab_size": 262_144,
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_hidden_layers": 18,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "sliding_window": 512,
    "max_position_embeddings": 32_768,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-6,
}
#: Gemma-3-1B's text config (google/gemma-3-1b-it ``config.json``).
GEMMA3_1B: dict[str, Any] = {
    **GEMMA3_270M,
    "hidden_size": 1152,
    "intermediate_size": 6912,
    "num_hidden_layers": 26,
}
#: XLM-R base (FacebookAI/xlm-roberta-base ``config.json``).
ENCODER_CONFIG: dict[str, Any] = {
    "vocab_size": 250_002,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}

#: Sizes of a full run (on a GPU) and of ``--tiny`` (the CPU test).
FULL = {
    "generators": {"gemma-3-270m": GEMMA3_270M, "gemma-3-1b": GEMMA3_1B},
    "encoder": ENCODER_CONFIG,
    "matmul_side": 8192,
    "prompts": 256,
    "prompt_tokens": 100,
    "new_tokens": 32,
    "synthesis_batch": 64,
    "sft_batch": 16,
    "sft_tokens": 144,
    "sft_completion": 13,
    "sft_steps": 10,
    "encoder_batch": 512,
    "encoder_tokens": 40,
    "encoder_steps": 5,
}
_TINY_LM = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "sliding_window": 16,
    "max_position_embeddings": 256,
    "query_pre_attn_scalar": 32,
    "rms_norm_eps": 1e-6,
}
TINY = {
    "generators": {"tiny-gemma-3": _TINY_LM},
    "encoder": {
        **ENCODER_CONFIG,
        "vocab_size": 300,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    },
    "matmul_side": 256,
    "prompts": 4,
    "prompt_tokens": 12,
    "new_tokens": 4,
    "synthesis_batch": 2,
    "sft_batch": 2,
    "sft_tokens": 16,
    "sft_completion": 4,
    "sft_steps": 2,
    "encoder_batch": 4,
    "encoder_tokens": 8,
    "encoder_steps": 2,
}


def _sig(value: float) -> float:
    """``value`` to 4 significant digits (tiny runs have rates far below 1 TFLOP/s)."""
    return float(f"{value:.4g}")


def _device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_tflops(dtype: str, *, side: int, device: Any = None, seconds: float = 2.0) -> float:
    """Dense square matmul rate of ``device`` (best of the timed products after a warm-up).

    Args:
        dtype: ``"bfloat16"`` or ``"float32"``.
        side: matrix side N (one product costs 2 N^3 FLOPs).
        device: torch device (default: CUDA where available, else CPU).
        seconds: minimum measuring time.

    Returns:
        TFLOP/s (1e12 floating-point operations per second).
    """
    import torch

    device = device or _device()
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    a = torch.randn(side, side, device=device, dtype=torch_dtype)
    b = torch.randn(side, side, device=device, dtype=torch_dtype)
    torch.mm(a, b)
    _sync(device)
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        _sync(device)
        best = min(best, (time.perf_counter() - start) / 4)
    return 2 * side**3 / best / 1e12


def _tokenizer(vocab_size: int, folder: Path) -> None:
    """Save a word-level tokenizer whose tokens are ``t0 .. t<V-5>`` plus ``<pad> <eos> <bos> <unk>`` (ids 0-3)
    and that prepends BOS, so a prompt of ``n`` words is exactly ``n + 1`` tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials)}
    vocab.update({f"t{i}": i + len(specials) for i in range(vocab_size - len(specials))})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", 2)]
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    ).save_pretrained(str(folder))


def _build_generator(config: Mapping[str, Any], folder: Path, seed: int) -> dict[str, Any]:
    """Save a random-init Gemma-3 causal LM (bf16), its tokenizer and a random rank-8 all-linear LoRA adapter.

    Returns:
        The model's ``config.json`` as a dict (for :func:`bootembed.bench.model_cost`).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    cfg = Gemma3TextConfig(**config, pad_token_id=0, eos_token_id=1, bos_token_id=2)
    device = _device()
    with torch.device(device):
        model = Gemma3ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(str(folder / "base"))
    _tokenizer(int(config["vocab_size"]), folder / "base")
    lora = LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.05, target_modules="all-linear", init_lora_weights=False
    )
    get_peft_model(model, lora).save_pretrained(str(folder / "lora"))
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return json.loads((folder / "base" / "config.json").read_text(encoding="utf-8"))


def _prompts(n: int, length: int, vocab_size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(f"t{rng.randrange(vocab_size - 4)}" for _ in range(length)) for _ in range(n)]


def _peak_gib(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def _reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _synthesis(
    folder: Path, config: Mapping[str, Any], sizes: Mapping[str, Any], roof: float, seed: int
) -> list[dict[str, Any]]:
    """The transformers backend in bf16, base model and LoRA adapter, merged and unmerged."""
    from bootembed.bench import model_cost
    from bootembed.generation.base import SamplingConfig
    from bootembed.generation.transformers_backend import TransformersBackend

    device = _device()
    prompts = _prompts(sizes["prompts"], sizes["prompt_tokens"], int(config["vocab_size"]), seed)
    sampling = SamplingConfig(max_new_tokens=sizes["new_tokens"], do_sample=False, seed=seed)
    runs = []
    for merge in (True, False):
        _reset_peak(device)
        start = time.perf_counter()
        backend = TransformersBackend(
            folder / "base",
            adapters={"lora": folder / "lora"},
            dtype="bfloat16",
            batch_size=sizes["synthesis_batch"],
            merge_lora=merge,
        )
        load_seconds = time.perf_counter() - start
        backend.generate(prompts[: sizes["synthesis_batch"]], adapter=None, sampling=sampling)
        for target in (None, "lora"):
            tokens_before = backend.generated_tokens
            _sync(device)
            start = time.perf_counter()
            backend.generate(prompts, adapter=target, sampling=sampling)
            _sync(device)
            seconds = time.perf_counter() - start
            generated = backend.generated_tokens - tokens_before
            prompt_tokens = len(prompts) * (sizes["prompt_tokens"] + 1)
            cost = model_cost(
                config,
                prompt_tokens=sizes["prompt_tokens"] + 1,
                new_tokens=generated / len(prompts),
                bytes_per_weight=2,
            )
            work = (
                prompt_tokens * cost["flops_per_prompt_token"]
                + generated * cost["flops_per_generated_token"]
            )
            runs.append(
                {
                    "merge_lora": merge,
                    "target": target or "base",
                    "batch_size": sizes["synthesis_batch"],
                    "prompts": len(prompts),
                    "prompt_tokens": prompt_tokens,
                    "generated_tokens": generated,
                    "seconds": round(seconds, 3),
                    "output_tokens_per_s": round(generated / seconds, 1),
                    "prompts_per_s": round(len(prompts) / seconds, 2),
                    "tflops": _sig(work / seconds / 1e12),
                    "share_of_bf16_roof": _sig(work / seconds / 1e12 / roof),
                    "load_seconds": round(load_seconds, 1),
                    "peak_gib": _peak_gib(device),
                }
            )
        backend.close()
        del backend
    return runs


def _sft(
    folder: Path, config: Mapping[str, Any], sizes: Mapping[str, Any], roof: float, seed: int
) -> dict[str, Any]:
    """LoRA SFT steps with the completion-only loss, float32 weights under bf16 autocast, AdamW."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from bootembed.bench import model_cost
    from bootembed.sft_loss import IGNORE_INDEX, completion_only_loss

    device = _device()
    _reset_peak(device)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(folder / "base"), dtype=torch.float32)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules="all-linear")
    model = get_peft_model(model, lora).to(device)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    batch, length, completion = sizes["sft_batch"], sizes["sft_tokens"], sizes["sft_completion"]
    input_ids = torch.randint(4, int(config["vocab_size"]), (batch, length), device=device)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[:, -completion:] = input_ids[:, -completion:]
    inputs = {
        "input_ids": input_ids,
        "labels": labels,
        "attention_mask": torch.ones_like(input_ids),
    }

    def step() -> float:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = completion_only_loss(model, inputs)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.3)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    seconds, losses = _timed_steps(step, sizes["sft_steps"], device)
    cost = model_cost(config, prompt_tokens=length, new_tokens=0, bytes_per_weight=2)
    work = 2 * (batch * length * cost["flops_per_prompt_token"])
    work += 2 * (batch * completion * 2 * cost["head_params"])
    result = {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"},
        "batch_size": batch,
        "tokens": length,
        "completion_tokens": completion,
        "steps": sizes["sft_steps"],
        "seconds_per_step": round(seconds, 4),
        "steps_per_s": round(1 / seconds, 3),
        "tokens_per_s": round(batch * length / seconds, 1),
        "tflops": _sig(work / seconds / 1e12),
        "share_of_bf16_roof": _sig(work / seconds / 1e12 / roof),
        "losses_finite": all(abs(x) < float("inf") for x in losses),
        "peak_gib": _peak_gib(device),
    }
    return result


def _timed_steps(step: Callable[[], float], steps: int, device: Any) -> tuple[float, list[float]]:
    """Seconds per step (median of ``steps`` timed steps after 2 warm-up steps) and the losses."""
    import statistics

    losses = [step(), step()]
    times = []
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        losses.append(step())
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), losses


def _encoder(
    folder: Path, config: Mapping[str, Any], sizes: Mapping[str, Any], roof: float, seed: int
) -> dict[str, Any]:
    """MultipleNegativesRankingLoss steps of a random XLM-R-base-config encoder, float32 under bf16 autocast."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import XLMRobertaConfig, XLMRobertaModel

    device = _device()
    _reset_peak(device)
    torch.manual_seed(seed)
    hf_dir = folder / "encoder"
    XLMRobertaModel(XLMRobertaConfig(**config), add_pooling_layer=False).save_pretrained(
        str(hf_dir)
    )
    _tokenizer(int(config["vocab_size"]), hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=sizes["encoder_tokens"])
    dimension = getattr(transformer, "get_embedding_dimension", None) or (
        transformer.get_word_embedding_dimension
    )
    pooling = Pooling(dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling], device=str(device))
    model.train()
    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    batch, length = sizes["encoder_batch"], sizes["encoder_tokens"]
    features = [
        {
            "input_ids": torch.randint(
                4, int(config["vocab_size"]), (batch, length), device=device
            ),
            "attention_mask": torch.ones(batch, length, dtype=torch.long, device=device),
        }
        for _ in range(3)  # anchor, positive, hard negative
    ]

    def step() -> float:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss_fn([dict(f) for f in features], None)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    seconds, losses = _timed_steps(step, sizes["encoder_steps"], device)
    hidden, inter = int(config["hidden_size"]), int(config["intermediate_size"])
    layer_params = int(config["num_hidden_layers"]) * (4 * hidden * hidden + 2 * hidden * inter)
    tokens = 3 * batch * length
    attention = (
        int(config["num_hidden_layers"]) * 2 * 2 * hidden * length
    )  # scores + values per token
    work = (
        3 * tokens * (2 * layer_params + attention)
    )  # forward + backward (weights and activations)
    result = {
        "config": "xlm-roberta-base" if config["hidden_size"] == 768 else "tiny",
        "batch_size": batch,
        "tokens_per_text": length,
        "steps": sizes["encoder_steps"],
        "seconds_per_step": round(seconds, 4),
        "steps_per_s": round(1 / seconds, 3),
        "tflops": _sig(work / seconds / 1e12),
        "share_of_bf16_roof": _sig(work / seconds / 1e12 / roof),
        "losses_finite": all(abs(x) < float("inf") for x in losses),
        "peak_gib": _peak_gib(device),
    }
    return result


def _machine() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "device": _device().type,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=props.name,
            gpus=torch.cuda.device_count(),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            capability=f"{props.major}.{props.minor}",
            cuda=torch.version.cuda,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
    import importlib.metadata as md

    for package in ("transformers", "peft", "sentence-transformers", "accelerate"):
        try:
            info[package] = md.version(package)
        except md.PackageNotFoundError:
            info[package] = None
    return info


def run_check(
    *, tiny: bool = False, budget_seconds: float = 420.0, seed: int = 0
) -> dict[str, Any]:
    """Measure the matmul roof, then synthesis, SFT and encoder training (see the module docstring).

    Args:
        tiny: tiny configs and sizes (seconds, on a CPU) instead of the real ones.
        budget_seconds: a step that would start after this many seconds is skipped and listed in ``skipped``
            (the whole check must stay under 8 minutes on one H200).
        seed: seed of the random weights, prompts and batches.

    Returns:
        The result dict (written by :func:`main` to JSON).
    """
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sizes = TINY if tiny else FULL
    started = time.perf_counter()
    device = _device()
    roof = matmul_tflops("bfloat16", side=sizes["matmul_side"], device=device)
    result: dict[str, Any] = {
        "benchmark": "gpu_check",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tiny": tiny,
        "machine": _machine(),
        "matmul_tflops": {
            "bfloat16": _sig(roof),
            "float32": _sig(
                matmul_tflops("float32", side=sizes["matmul_side"], device=device, seconds=1.0)
            ),
        },
        "sizes": {k: v for k, v in sizes.items() if k not in ("generators", "encoder")},
        "generators": {},
        "skipped": [],
    }
    logger.info("bf16 matmul: %.1f TFLOP/s on %s", roof, device)

    def within_budget(what: str) -> bool:
        if time.perf_counter() - started > budget_seconds:
            result["skipped"].append(what)
            logger.warning("gpu check: %s skipped (time budget %.0f s spent)", what, budget_seconds)
            return False
        return True

    with tempfile.TemporaryDirectory(prefix="bootembed-gpu-check-") as scratch:
        for name, config in sizes["generators"].items():
            if not within_budget(f"{name}: build"):
                continue
            folder = Path(scratch) / name
            full_config = _build_generator(config, folder, seed)
            entry: dict[str, Any] = {"parameters": _parameters(full_config)}
            if within_budget(f"{name}: synthesis"):
                entry["synthesis"] = _synthesis(folder, full_config, sizes, roof, seed)
            if within_budget(f"{name}: sft"):
                entry["sft"] = _sft(folder, full_config, sizes, roof, seed)
            result["generators"][name] = entry
            if device.type == "cuda":
                torch.cuda.empty_cache()
        if within_budget("encoder"):
            result["encoder"] = _encoder(Path(scratch), sizes["encoder"], sizes, roof, seed)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _parameters(config: Mapping[str, Any]) -> dict[str, float]:
    from bootembed.bench import model_cost

    cost = model_cost(config, prompt_tokens=1, new_tokens=1, bytes_per_weight=2)
    return {"layers": cost["layer_params"], "lm_head": cost["head_params"]}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (a temporary sibling renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python scripts/gpu_check.py [--tiny] [--out PATH] [--budget-seconds S]``; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs and sizes (CPU test)")
    parser.add_argument("--out", type=Path, default=Path("metrics/bench/gpu_check.json"))
    parser.add_argument("--budget-seconds", type=float, default=420.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    result = run_check(tiny=args.tiny, budget_seconds=args.budget_seconds, seed=args.seed)
    _write_json(args.out, result)
    logger.info("wrote %s (%.0f s)", args.out, result["seconds"])
    return 0
