"""Synthesis throughput benchmark: the same prompts through each generation backend, side by side in one run.

Each run (a backend with its settings) executes in a fresh child process, so its peak resident memory and start-up
cost are its own; runs execute one after another on an otherwise idle machine. Per run and per target (base model,
LoRA adapter) the benchmark records output tokens/s, prompts/s, time to first batch (engine start included) and
peak RSS of the child's process tree; then it measures the machine itself (dense matmul rate in float32 and
bfloat16, memory bandwidth) and places every run on a roofline:

* compute roof: the run's work in FLOPs divided by the measured matmul rate of its dtype. Neither engine computes
  LM-head logits for prompt tokens (transformers' ``generate`` and vLLM keep only the last position), so a prompt
  token costs the transformer layers only and a generated token the full model:

      work = P x (2 x L_layers + A(P/2)) + G x (2 x (L_layers + L_head) + A(P + G/2))

  with P prompt tokens and G generated tokens of the run, L_layers the linear parameters of the blocks, L_head
  the LM head's (168 M of Gemma-3-270M's 268 M), and A(c) the attention FLOPs per token over c positions
  (``min(c, sliding_window)`` on sliding-window layers); the share of the roof is work / (seconds x rate);
* memory roof (tokens/s) = batch size x memory bandwidth / bytes of weights streamed per decode step.

The result is one JSON file (``metrics/bench/synthesize.json``), committed like other metrics. Timings belong in
this JSON, never in tests.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BenchRun",
    "bench_synthesize",
    "default_runs",
    "ratios",
    "run_profile_vllm",
    "run_synthesize",
    "measure_matmul_gflops",
    "measure_memory_bandwidth",
    "model_cost",
    "parse_run",
    "profile_vllm",
    "render_markdown",
]

logger = logging.getLogger(__name__)


def default_runs(native_dtypes: Sequence[str] = ("float32",)) -> list[str]:
    """Runs of ``bootembed bench synthesize`` when none are given: every registered backend in float32 (the
    transformers backend with merged and unmerged LoRA), and each again in bf16 where this machine runs bf16
    natively (``native_dtypes`` of :func:`bootembed.hardware.probe`)."""
    from bootembed.generation import BACKENDS

    runs: list[str] = []
    for dtype in ("float32", "bfloat16"):
        if dtype not in native_dtypes:
            continue
        for name in ("transformers", *[b for b in BACKENDS.names() if b != "transformers"]):
            runs.append(f"{name}:dtype={dtype}")
            if name == "transformers":
                runs.append(f"{name}:dtype={dtype}:merge_lora=false")
    return runs


@dataclass(frozen=True)
class BenchRun:
    """One benchmarked configuration.

    Attributes:
        backend: ``"transformers"`` or ``"vllm"``.
        batch_size: prompts per batch (transformers) / concurrent sequences (vLLM ``max_num_seqs``).
        dtype: ``"auto"``, ``"float32"`` or ``"bfloat16"``.
        merge_lora: transformers: merge each adapter into its own weight copy.
        env: environment variables set for the run's process (e.g. vLLM's ``VLLM_CPU_OMP_THREADS_BIND``;
            the value ``all`` is replaced by every CPU this process may use, e.g. ``0-1``).
    """

    backend: str
    batch_size: int = 16
    dtype: str = "float32"
    merge_lora: bool = True
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short unique name, e.g. ``vllm[bs=16,VLLM_CPU_OMP_THREADS_BIND=all]``."""
        parts = [f"bs={self.batch_size}", f"dtype={self.dtype}"]
        if self.backend == "transformers":
            parts.append(f"merge_lora={str(self.merge_lora).lower()}")
        parts += [f"{k}={v}" for k, v in sorted(self.env.items())]
        return f"{self.backend}[{','.join(parts)}]"


def parse_run(spec: str, *, batch_size: int = 16, dtype: str = "float32") -> BenchRun:
    """Parse ``backend[:key=value...]`` (keys: ``batch_size``, ``dtype``, ``merge_lora``, ``env.NAME``).

    Example:
        >>> parse_run("vllm:batch_size=32:env.VLLM_CPU_OMP_THREADS_BIND=all").batch_size
        32

    Raises:
        ValueError: unknown backend or key, or a malformed value.
    """
    from bootembed.generation import BACKENDS

    backend, *options = spec.split(":")
    if backend not in BACKENDS:
        raise ValueError(
            f"run {spec!r}: backend must be one of {list(BACKENDS.names())}, got {backend!r}"
        )
    values: dict[str, Any] = {"batch_size": batch_size, "dtype": dtype, "merge_lora": True}
    env: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise ValueError(f"run {spec!r}: expected key=value, got {option!r}")
        if key.startswith("env."):
            env[key[4:]] = value
        elif key == "batch_size" and value.isdigit() and int(value) >= 1:
            values["batch_size"] = int(value)
        elif key == "dtype" and value in ("auto", "float32", "bfloat16"):
            values["dtype"] = value
        elif key == "merge_lora" and value.lower() in ("true", "false"):
            values["merge_lora"] = value.lower() == "true"
        else:
            raise ValueError(
                f"run {spec!r}: bad option {option!r} (keys: batch_size=int>=1, "
                "dtype=auto|float32|bfloat16, merge_lora=true|false, env.NAME=value)"
            )
    return BenchRun(backend=backend, env=env, **values)


# --- the machine ---------------------------------------------------------------------------------------------------


def _cpu_list() -> str:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cpus:
        return f"0-{(os.cpu_count() or 1) - 1}"
    if cpus == list(range(cpus[0], cpus[-1] + 1)):
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(map(str, cpus))


def measure_matmul_gflops(dtype: str, *, size: int = 2048, seconds: float = 2.0) -> float:
    """Dense square matmul rate of this machine with torch's current thread count.

    The matrix side is ``size``, or smaller where one product would take over 0.5 s (bfloat16 without native CPU
    support runs hundreds of times slower than float32), estimated from a 256 x 256 product.

    Args:
        dtype: ``"float32"`` or ``"bfloat16"``.
        size: largest matrix side N (one product costs 2 N^3 FLOPs).
        seconds: minimum measuring time after one warm-up product.

    Returns:
        GFLOP/s (1e9 floating-point operations per second), best of the timed products.
    """
    import torch

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    generator = torch.Generator().manual_seed(0)

    def timed(n: int) -> float:
        a = torch.randn(n, n, generator=generator).to(torch_dtype)
        b = torch.randn(n, n, generator=generator).to(torch_dtype)
        torch.mm(a, b)  # warm-up
        best = float("inf")
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
        return 2 * n**3 / best / 1e9

    estimate = timed(256)
    side = min(size, max(256, int((0.5 * estimate * 1e9 / 2) ** (1 / 3)) // 64 * 64))
    return max(estimate, timed(side)) if side > 256 else estimate


def measure_memory_bandwidth(*, mib: int = 512, seconds: float = 2.0) -> float:
    """Memory bandwidth of a large tensor copy (bytes read + bytes written per second).

    Args:
        mib: buffer size in MiB (well above the last-level cache).
        seconds: minimum measuring time after one warm-up copy.

    Returns:
        GB/s (1e9 bytes per second), best of the timed copies.
    """
    import torch

    src = torch.ones(mib * 2**20 // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * 4 / best / 1e9


def model_cost(
    config: Mapping[str, Any], *, prompt_tokens: float, new_tokens: float, bytes_per_weight: int
) -> dict[str, float]:
    """FLOPs of one prompt token and one generated token, and weight bytes per decode step, of a decoder-only LM.

    Counts the linear layers of every block (q, k, v, o projections and a gated MLP), the LM head, and attention
    scores plus weighted values over the positions attended (``min(positions, sliding_window)`` on sliding-window
    layers). Norms, activations and the embedding lookup are ignored (well under 1% here). A prompt token costs
    the blocks only (no engine computes logits for prompt positions) and attends to ``prompt_tokens / 2``
    positions on average; a generated token costs the blocks plus the LM head and attends to
    ``prompt_tokens + new_tokens / 2`` positions.

    Args:
        config: the model's ``config.json`` (a Llama / Gemma-style text config; a ``text_config`` inside is used).
        prompt_tokens: mean prompt length (tokens).
        new_tokens: mean number of generated tokens.
        bytes_per_weight: 4 for float32, 2 for bfloat16.

    Returns:
        ``linear_params``, ``layer_params`` (blocks only), ``head_params``, ``flops_per_prompt_token``,
        ``flops_per_generated_token`` (FLOPs), ``weight_bytes`` (linear weights read per decode step, LM head
        included).

    Raises:
        KeyError: a required config field is missing.
    """
    cfg = config.get("text_config", config)
    hidden = int(cfg["hidden_size"])
    heads = int(cfg["num_attention_heads"])
    kv_heads = int(cfg.get("num_key_value_heads", heads))
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    layers = int(cfg["num_hidden_layers"])
    per_layer = (
        hidden * heads * head_dim * 2  # q, o
        + hidden * kv_heads * head_dim * 2  # k, v
        + 3 * hidden * int(cfg["intermediate_size"])  # gate, up, down
    )
    layer_params = layers * per_layer
    head_params = hidden * int(cfg["vocab_size"])
    window = cfg.get("sliding_window")
    kinds = cfg.get("layer_types") or ["full_attention"] * layers

    def attention(context: float) -> float:
        total = 0.0
        for kind in kinds:
            span = min(context, window) if (kind == "sliding_attention" and window) else context
            total += 2 * 2 * heads * head_dim * span
        return total

    return {
        "linear_params": float(layer_params + head_params),
        "layer_params": float(layer_params),
        "head_params": float(head_params),
        "flops_per_prompt_token": float(2 * layer_params + attention(prompt_tokens / 2)),
        "flops_per_generated_token": float(
            2 * (layer_params + head_params) + attention(prompt_tokens + new_tokens / 2)
        ),
        "weight_bytes": float((layer_params + head_params) * bytes_per_weight),
    }


def machine_info() -> dict[str, Any]:
    """CPU model, usable cores, torch build and its CPU capability, Python and OS."""
    import torch

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from bootembed.hardware import probe

    return {
        "hardware": probe().as_dict(),
        "cpu": model,
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- one run, in a child process -----------------------------------------------------------------------------------


class _RssSampler:
    """Peak resident memory of this process plus all its descendants, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for proc in [self._process, *self._process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self.peak_bytes = max(self.peak_bytes, total)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> _RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run_child(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Execute one run (see :func:`bench_synthesize`); called inside the child process."""
    from bootembed.generation.base import SamplingConfig, make_backend

    run = spec["run"]
    prompts: list[str] = spec["prompts"]
    sampling = SamplingConfig(**spec["sampling"])
    targets: list[str | None] = spec["targets"]
    result: dict[str, Any] = {"targets": {}}
    with _RssSampler() as rss:
        start = time.perf_counter()
        backend = make_backend(
            run["backend"],
            spec["base"],
            adapters=spec["adapters"] or None,
            dtype=run["dtype"],
            batch_size=run["batch_size"],
            merge_lora=run["merge_lora"],
        )
        result["load_seconds"] = time.perf_counter() - start
        backend.generate(prompts[: run["batch_size"]], adapter=targets[0], sampling=sampling)
        result["time_to_first_batch_seconds"] = time.perf_counter() - start
        for target in targets:
            tokens_before = backend.generated_tokens  # type: ignore[attr-defined]
            begin = time.perf_counter()
            texts = backend.generate(prompts, adapter=target, sampling=sampling)
            seconds = time.perf_counter() - begin
            tokens = backend.generated_tokens - tokens_before  # type: ignore[attr-defined]
            result["targets"][target or "base"] = {
                "prompts": len(prompts),
                "generated_tokens": tokens,
                "seconds": round(seconds, 3),
                "output_tokens_per_second": round(tokens / seconds, 3),
                "prompts_per_second": round(len(prompts) / seconds, 4),
                "texts": texts,
            }
        if spec.get("profile") and backend.name == "transformers":
            result["profile"] = _profile_ops(
                backend, prompts[: run["batch_size"]], targets[-1], sampling
            )
        result["engine"] = {
            "name": backend.name,
            "version": getattr(backend, "vllm_version", None),
            "dtype": str(getattr(backend, "dtype", run["dtype"])),
        }
        backend.close()
    result["peak_rss_mib"] = round(rss.peak_bytes / 2**20, 1)
    return result


def _profile_ops(
    backend: Any, prompts: list[str], target: str | None, sampling: Any
) -> dict[str, Any]:
    """Self CPU time per torch operator over one batch (torch.profiler): where the time goes."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        backend.generate(prompts, adapter=target, sampling=sampling)
    events = [(e.key, e.self_cpu_time_total) for e in prof.key_averages()]
    total = sum(t for _, t in events) or 1.0
    top = sorted(events, key=lambda e: -e[1])[:12]
    matmul = sum(
        t for k, t in events if k in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
    )
    return {
        "batch_prompts": len(prompts),
        "self_cpu_seconds": round(total / 1e6, 3),
        "matmul_share": round(matmul / total, 4),
        "top_ops": [{"op": k, "share": round(t / total, 4)} for k, t in top],
    }


def _child_main(argv: Sequence[str]) -> int:
    spec_path, out_path = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = _run_child(spec)
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out_path)
    return 0


def _execute(run: BenchRun, spec: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    for key, value in run.env.items():
        env[key] = _cpu_list() if value == "all" else value
    with tempfile.TemporaryDirectory(prefix="bootembed-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps({**spec, "run": asdict(run)}), encoding="utf-8")
        cmd = [sys.executable, "-m", "bootembed.bench", str(spec_path), str(out_path)]
        logger.info("bench: %s", run.label)
        wall = time.perf_counter()
        proc = subprocess.run(cmd, env=env, timeout=timeout, check=False)
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(
                f"bench run {run.label} failed (exit {proc.returncode}); see its log"
            )
        result = json.loads(out_path.read_text(encoding="utf-8"))
    result["process_seconds"] = round(time.perf_counter() - wall, 2)
    result["env"] = {k: env[k] for k in run.env}
    return result


# --- the whole benchmark -------------------------------------------------------------------------------------------


def bench_synthesize(
    base_model_dir: str | Path,
    prompts: Sequence[str],
    runs: Sequence[BenchRun],
    *,
    adapter_dir: str | Path | None = None,
    max_new_tokens: int = 32,
    machine_seconds: float = 2.0,
    timeout: float = 3600.0,
    profile: bool = False,
) -> dict[str, Any]:
    """Run the same prompts through every run's backend (greedy decoding) and place each on the roofline.

    Every run generates all prompts with the base model and, if ``adapter_dir`` is given, with that LoRA adapter
    (``"lora"``), after one warm-up batch that gives the time to first batch. Ratios compare the fastest vLLM run
    with the fastest transformers run per target; greedy agreement is the share of prompts whose text equals the
    first run's.

    Args:
        base_model_dir: transformers folder of the base causal LM.
        prompts: N prompts (the same for every run).
        runs: configurations to compare, executed one after another, each in a fresh child process.
        adapter_dir: a peft LoRA folder, or ``None`` to benchmark the base model only.
        max_new_tokens: generation budget per prompt (greedy, stop at EOS or newline).
        machine_seconds: measuring time per machine figure (matmul rates, bandwidth).
        timeout: seconds allowed per run.
        profile: transformers runs also profile one batch with torch.profiler (operator time shares).

    Returns:
        A JSON-ready dict: ``machine``, ``model``, ``settings``, ``runs`` (per run: label, settings, load and
        first-batch seconds, peak RSS in MiB, per target tokens/s, prompts/s, roofline shares), ``ratios``
        (vLLM / transformers per target) and ``roofline``.

    Raises:
        ValueError: no prompts or no runs.
        RuntimeError: a run failed.
    """
    import torch
    from transformers import AutoTokenizer

    if not prompts:
        raise ValueError("bench: no prompts")
    if not runs:
        raise ValueError("bench: no runs")
    base = Path(base_model_dir).resolve()
    adapters = {"lora": str(Path(adapter_dir).resolve())} if adapter_dir else {}
    targets: list[str | None] = [None, *adapters]
    spec = {
        "base": str(base),
        "adapters": adapters,
        "prompts": list(prompts),
        "targets": targets,
        "sampling": {"max_new_tokens": max_new_tokens, "do_sample": False},
        "profile": profile,
    }
    results = [_execute(run, spec, timeout) for run in runs]

    # The machine, measured after the runs so it never competes with them.
    machine = machine_info()
    machine["matmul_gflops"] = {
        dtype: round(measure_matmul_gflops(dtype, seconds=machine_seconds), 1)
        for dtype in ("float32", "bfloat16")
    }
    machine["memory_bandwidth_gbps"] = round(measure_memory_bandwidth(seconds=machine_seconds), 1)

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    prompt_tokens = [len(ids) for ids in tokenizer(list(prompts)).input_ids]
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    texts_of = [
        {name: stats.pop("texts") for name, stats in result["targets"].items()}
        for result in results
    ]
    mean_prompt = statistics.fmean(prompt_tokens)
    out_runs = []
    for run, result, texts_by_target in zip(runs, results, texts_of, strict=True):
        dtype = result["engine"]["dtype"].removeprefix("torch.")
        rate = machine["matmul_gflops"].get(dtype, machine["matmul_gflops"]["float32"]) * 1e9
        per_target = {}
        for name, stats in result["targets"].items():
            generated = stats["generated_tokens"]
            cost = model_cost(
                config,
                prompt_tokens=mean_prompt,
                new_tokens=generated / len(prompts),
                bytes_per_weight=2 if dtype == "bfloat16" else 4,
            )
            prefill_flops = sum(prompt_tokens) * cost["flops_per_prompt_token"]
            decode_flops = generated * cost["flops_per_generated_token"]
            seconds = stats["seconds"]
            memory_roof = (
                run.batch_size * machine["memory_bandwidth_gbps"] * 1e9 / cost["weight_bytes"]
            )
            texts, ref_texts = texts_by_target[name], texts_of[0][name]
            per_target[name] = {
                **stats,
                "greedy_agreement_with_first_run": round(
                    sum(a == b for a, b in zip(texts, ref_texts, strict=True)) / len(prompts), 4
                ),
                "flops_per_prompt_token": cost["flops_per_prompt_token"],
                "flops_per_generated_token": cost["flops_per_generated_token"],
                "roofline": {
                    "matmul_gflops_own_dtype": round(rate / 1e9, 1),
                    # the fastest this run's work (prefill at the blocks' cost + decode at full cost) could go
                    "compute_bound_seconds": round((prefill_flops + decode_flops) / rate, 3),
                    "compute_bound_tokens_per_second_decode_only": round(
                        rate / cost["flops_per_generated_token"], 1
                    ),
                    "memory_bound_tokens_per_second_at_batch_size": round(memory_roof, 1),
                },
                "share_of_roof": {
                    "with_prefill": round((prefill_flops + decode_flops) / seconds / rate, 4),
                    "decode_only": round(decode_flops / seconds / rate, 4),
                },
                "model_gflops": round((prefill_flops + decode_flops) / seconds / 1e9, 2),
            }
        out_runs.append(
            {
                "label": run.label,
                "settings": {**asdict(run), "env": result["env"]},
                "engine": result["engine"],
                "load_seconds": round(result["load_seconds"], 2),
                "time_to_first_batch_seconds": round(result["time_to_first_batch_seconds"], 2),
                "process_seconds": result["process_seconds"],
                "peak_rss_mib": result["peak_rss_mib"],
                "targets": per_target,
                **({"profile": result["profile"]} if "profile" in result else {}),
            }
        )
    cost_ref = model_cost(config, prompt_tokens=mean_prompt, new_tokens=0, bytes_per_weight=4)
    return {
        "benchmark": "synthesize",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        "model": {
            "base": _display_path(base_model_dir),
            "adapter": _display_path(adapter_dir) if adapter_dir else None,
            "linear_params": cost_ref["linear_params"],
            "layer_params": cost_ref["layer_params"],
            "head_params": cost_ref["head_params"],
            "weight_bytes_float32": cost_ref["weight_bytes"],
        },
        "settings": {
            "prompts": len(prompts),
            "mean_prompt_tokens": round(mean_prompt, 2),
            "max_new_tokens": max_new_tokens,
            "decoding": "greedy, stop at EOS or newline",
            "torch_threads": torch.get_num_threads(),
            "roofline": "work = P x (2 L_layers + A(P/2)) + G x (2 (L_layers + L_head) + A(P + G/2)); "
            "share = work / (seconds x matmul rate of the run's dtype)",
        },
        "runs": out_runs,
        "ratios": ratios(out_runs, ["base", *adapters]),
    }


def _display_path(path: str | Path) -> str:
    """A path for committed JSON: relative to the working directory when inside it, never machine-absolute."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return p.name


def ratios(runs: Sequence[Mapping[str, Any]], targets: Sequence[str]) -> dict[str, Any]:
    """Side-by-side ratios of one benchmark: every run against the first run (today's transformers backend),
    in prompts/s and output tokens/s, and per backend the bf16 / float32 ratio where both ran.

    Returns:
        ``{target: {"vs_first_run": {label: {"prompts_per_second", "output_tokens_per_second"}},
        "bfloat16_over_float32": {backend: ratio of prompts/s}}}``.
    """
    out: dict[str, Any] = {}
    if not runs:
        return out
    first = runs[0]
    for target in targets:
        ref = first["targets"].get(target)
        if not ref:
            continue
        versus = {
            r["label"]: {
                "prompts_per_second": round(
                    r["targets"][target]["prompts_per_second"] / ref["prompts_per_second"], 3
                ),
                "output_tokens_per_second": round(
                    r["targets"][target]["output_tokens_per_second"]
                    / ref["output_tokens_per_second"],
                    3,
                ),
            }
            for r in runs
            if target in r["targets"]
        }
        by_dtype: dict[str, dict[str, float]] = {}
        for r in runs:
            settings = r["settings"]
            if target not in r["targets"]:
                continue
            if settings.get("merge_lora") is False and settings["backend"] == "transformers":
                continue
            dtype = r["engine"]["dtype"].removeprefix("torch.")
            rate = r["targets"][target]["prompts_per_second"]
            by_dtype.setdefault(settings["backend"], {})[dtype] = max(
                rate, by_dtype.get(settings["backend"], {}).get(dtype, 0.0)
            )
        out[target] = {
            "first_run": first["label"],
            "vs_first_run": versus,
            "bfloat16_over_float32": {
                backend: round(d["bfloat16"] / d["float32"], 3)
                for backend, d in by_dtype.items()
                if "bfloat16" in d and "float32" in d
            },
        }
    return out


def _collapsed_shares(path: Path, top: int) -> dict[str, Any]:
    """Summarise py-spy ``--format raw`` output (``frame;frame;... count`` lines, root first)."""
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        if frames:
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count

    def ranked(table: dict[str, int]) -> list[dict[str, Any]]:
        best = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [{"frame": k, "share": round(v / max(total, 1), 4)} for k, v in best]

    def share_where(word: str) -> float:
        hits = 0
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if count_text.isdigit() and word in stack:
                hits += int(count_text)
        return round(hits / max(total, 1), 4)

    return {
        "samples": total,
        "share_in_vllm_lora_code": share_where("vllm/lora/"),
        # vLLM's CPU LoRA kernels (punica bgmv/sgmv as PyTorch reference ops), excluding the base layer's GEMM.
        "share_in_vllm_lora_ops": share_where("vllm/lora/ops/"),
        "share_in_sampler": share_where("sample/sampler.py"),
        "share_in_linear_layers": share_where("layers/linear.py"),
        "share_in_attention": share_where("attention"),
        "top_inclusive": ranked(inclusive),
        "top_self": ranked(leaf),
    }


def profile_vllm(
    base_model_dir: str | Path,
    prompts: Sequence[str],
    *,
    adapter_dir: str | Path | None = None,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    rate: int = 50,
    out_dir: str | Path,
    top: int = 15,
) -> dict[str, Any]:
    """Sample where vLLM's engine process spends its time (py-spy), for the base model and a LoRA adapter.

    Starts one :class:`~bootembed.generation.vllm_backend.VLLMBackend`, finds the descendant process that does the
    computing (the busiest during a warm-up batch: vLLM's model worker), and records it with ``py-spy record
    --format raw`` while the prompts are generated, once per target; the CPU seconds of every vLLM process
    during the run are recorded too (the engine-core scheduler busy-polls).

    Args:
        base_model_dir: transformers folder of the base causal LM.
        prompts: N prompts.
        adapter_dir: a peft LoRA folder (target ``"lora"``), or ``None``.
        max_new_tokens: generation budget per prompt (greedy).
        batch_size: vLLM ``max_num_seqs``.
        rate: py-spy samples per second.
        out_dir: where the raw py-spy stacks are written (``<target>.txt``).
        top: frames listed per ranking.

    Returns:
        Per target: seconds, output tokens/s, and sample shares (inside ``vllm/lora/``, the sampler, linear
        layers, attention; top inclusive and self frames).

    Raises:
        RuntimeError: ``py-spy`` is not on PATH, or no busy vLLM process was found.
    """
    import shutil as _shutil

    import psutil

    from bootembed.generation.base import SamplingConfig
    from bootembed.generation.vllm_backend import VLLMBackend

    spy = _shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).is_file():
        raise RuntimeError("py-spy not found: pip install -e '.[bench]' (py-spy) to profile vLLM")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adapters = {"lora": str(adapter_dir)} if adapter_dir else {}
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, do_sample=False)
    result: dict[str, Any] = {"targets": {}}
    with VLLMBackend(base_model_dir, adapters=adapters, batch_size=batch_size) as backend:
        procs = psutil.Process().children(recursive=True)

        def cpu_seconds() -> dict[int, float]:
            seconds: dict[int, float] = {}
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    seconds[proc.pid] = times.user + times.system
                except psutil.NoSuchProcess:
                    continue
            return seconds

        def label(proc: psutil.Process) -> str:
            try:
                cmd = " ".join(proc.cmdline()).replace(str(Path.cwd().resolve()) + "/", "")
                return f"{proc.name()} ({cmd[:60]})"  # no machine-absolute paths in committed JSON
            except psutil.NoSuchProcess:
                return str(proc.pid)

        before = cpu_seconds()
        backend.generate(list(prompts[:batch_size]), adapter=None, sampling=sampling)  # warm-up
        after = cpu_seconds()
        # vLLM runs the model in a separate worker process; the busiest descendant is the one computing.
        busiest = max(procs, key=lambda p: after.get(p.pid, 0.0) - before.get(p.pid, 0.0))
        if after.get(busiest.pid, 0.0) - before.get(busiest.pid, 0.0) <= 0:
            raise RuntimeError("profile_vllm: no busy vLLM process among this process's children")
        pid = busiest.pid
        result["profiled_process"] = label(busiest)
        for target in [None, *adapters]:
            name = target or "base"
            raw = out / f"{name}.txt"
            recorder = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(rate),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1.0)  # let py-spy attach
            cpu_before = cpu_seconds()
            tokens_before = backend.generated_tokens
            begin = time.perf_counter()
            backend.generate(list(prompts), adapter=target, sampling=sampling)
            seconds = time.perf_counter() - begin
            recorder.send_signal(2)  # SIGINT: py-spy writes its output and exits
            _, err = recorder.communicate(timeout=120)
            if not raw.is_file():
                raise RuntimeError(
                    f"py-spy wrote no profile: {err.decode(errors='replace')[-500:]}"
                )
            cpu_after = cpu_seconds()
            tokens = backend.generated_tokens - tokens_before
            result["targets"][name] = {
                "seconds": round(seconds, 2),
                "output_tokens_per_second": round(tokens / seconds, 2),
                # CPU seconds each vLLM process used during the run (2 cores x seconds is the budget).
                "cpu_seconds_by_process": {
                    label(proc): round(
                        cpu_after.get(proc.pid, 0.0) - cpu_before.get(proc.pid, 0.0), 2
                    )
                    for proc in procs
                },
                **_collapsed_shares(raw, top),
            }
    return result


def render_markdown(result: Mapping[str, Any]) -> str:
    """A Markdown table of a :func:`bench_synthesize` result: one row per run and target, then the ratios."""
    lines = [
        "| run | target | output tokens/s | prompts/s | × first run (prompts/s) | first batch (s) "
        "| peak RSS (MiB) | share of roof (prefill counted) | share of roof (decode only) | greedy = first run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratio = result.get("ratios", {})
    for run in result["runs"]:
        for name, stats in run["targets"].items():
            share = stats["share_of_roof"]
            times = ratio.get(name, {}).get("vs_first_run", {}).get(run["label"], {})
            factor = times.get("prompts_per_second")
            factor_text = f"{factor:.2f}x" if factor is not None else "–"
            lines.append(
                f"| `{run['label']}` | {name} | {stats['output_tokens_per_second']:.1f} "
                f"| {stats['prompts_per_second']:.2f} | {factor_text} "
                f"| {run['time_to_first_batch_seconds']:.1f} "
                f"| {run['peak_rss_mib']:.0f} | {share['with_prefill']:.1%} | {share['decode_only']:.1%} "
                f"| {stats['greedy_agreement_with_first_run']:.0%} |"
            )
    for name, r in ratio.items():
        for backend, value in r.get("bfloat16_over_float32", {}).items():
            lines.append("")
            lines.append(f"bf16 / float32 ({backend}, {name}): **{value:.2f}x** prompts/s")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BenchPrompts:
    """What a ``bootembed bench`` command generates with: its shared options, resolved.

    Attributes:
        language: the checked ``--language``.
        base: the base generator folder.
        adapter: the LoRA adapter besides the base model (default: the trained XL-LoRA positive one, when
            present), or ``None``.
        prompts: the first ``--prompts`` XL-LoRA prompts of FLORES-200 dev in ``language``.
        max_new_tokens: generation budget per prompt.
    """

    language: str
    base: Path
    adapter: Path | None
    prompts: list[str]
    max_new_tokens: int


def bench_command(body: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """The function of a ``bootembed bench`` command, from ``body(params, bench: BenchPrompts, **options)``.

    The returned ``command(params, *, params_path, language, base, adapter, n_prompts, max_new_tokens,
    **options)`` takes the options every bench command shares (``--language``, ``--base``, ``--adapter``,
    ``--prompts``, ``--max-new-tokens``) as :class:`BenchPrompts` and passes the command's own ``options`` on.

    Raises:
        ConfigError: (from the command) ``--language`` is not a FLORES-200 target code.
    """

    def command(
        params: Any,
        *,
        params_path: Path,
        language: str,
        base: Path,
        adapter: Path | None,
        n_prompts: int,
        max_new_tokens: int,
        **options: Any,
    ) -> dict[str, Any]:
        from bootembed.config import check_language
        from bootembed.data.flores import load_flores
        from bootembed.prompts import xllora_prompt
        from bootembed.stages.common import data_sources

        language = check_language(language, "--language")
        if adapter is None:
            default = Path("models/generators/xllora") / language / "positive"
            adapter = default if (default / "adapter_config.json").is_file() else None
        sentences = load_flores(data_sources(params, params_path), language, "dev")[:n_prompts]
        prompts = [xllora_prompt(sentence, "positive") for sentence in sentences]
        bench = BenchPrompts(language, base, adapter, prompts, max_new_tokens)
        return body(params, bench, **options)

    command.__doc__ = body.__doc__
    return command


def _synthesize(
    params: Any, bench: BenchPrompts, *, run_specs: Sequence[str], profile: bool, out: Path
) -> dict[str, Any]:
    """``bootembed bench synthesize``: :func:`bench_synthesize` on FLORES-200 dev XL-LoRA prompts, to JSON."""
    from bootembed.hardware import probe
    from bootembed.io import write_json

    specs = list(run_specs) or default_runs(probe().native_dtypes)
    runs = [parse_run(spec, batch_size=params.synthesize.batch_size) for spec in specs]
    result = bench_synthesize(
        bench.base,
        bench.prompts,
        runs,
        adapter_dir=bench.adapter,
        max_new_tokens=bench.max_new_tokens,
        profile=profile,
    )
    result["settings"]["language"] = bench.language
    write_json(out, result)
    for run in result["runs"]:
        for name, stats in run["targets"].items():
            logger.info(
                "%s [%s]: %.1f tokens/s, %.2f prompts/s, first batch %.1f s, peak RSS %.0f MiB",
                run["label"],
                name,
                stats["output_tokens_per_second"],
                stats["prompts_per_second"],
                run["time_to_first_batch_seconds"],
                run["peak_rss_mib"],
            )
    logger.info("ratios: %s", result["ratios"])
    return result


def _profile_vllm(params: Any, bench: BenchPrompts, *, raw_dir: Path, out: Path) -> dict[str, Any]:
    """``bootembed bench profile-vllm``: :func:`profile_vllm` on FLORES-200 dev XL-LoRA prompts, to JSON."""
    from bootembed.io import write_json

    result = profile_vllm(
        bench.base,
        bench.prompts,
        adapter_dir=bench.adapter,
        max_new_tokens=bench.max_new_tokens,
        batch_size=params.synthesize.batch_size,
        out_dir=raw_dir,
    )
    result["settings"] = {
        "language": bench.language,
        "prompts": len(bench.prompts),
        "adapter": _display_path(bench.adapter) if bench.adapter else None,
    }
    write_json(out, result)
    for name, stats in result["targets"].items():
        logger.info(
            "%s: %.1f tokens/s; samples in vllm/lora %.1f%%, linear layers %.1f%%, sampler %.1f%%",
            name,
            stats["output_tokens_per_second"],
            100 * stats["share_in_vllm_lora_code"],
            100 * stats["share_in_linear_layers"],
            100 * stats["share_in_sampler"],
        )
    return result


run_synthesize = bench_command(_synthesize)
run_profile_vllm = bench_command(_profile_vllm)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
