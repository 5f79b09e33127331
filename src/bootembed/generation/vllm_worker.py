"""Standalone vLLM generation worker: one engine, many requests, JSON lines over stdin / stdout.

This module imports only the standard library at the top level (``vllm`` is imported when the engine starts), so it
runs unchanged in the separate ``.venv-vllm`` interpreter, where :mod:`bootembed` is not installed::

    .venv-vllm/bin/python src/bootembed/generation/vllm_worker.py

The parent (:class:`bootembed.generation.vllm_backend.VLLMBackend`) imports the same module in-process for the
shared helpers (protocol, sampling mapping) and for the in-process engine when ``vllm`` is importable there.

Protocol (one JSON object per line, UTF-8; the worker answers every request with exactly one line):

* ``{"op": "init", "engine": {...}}`` -> ``{"ok": true, "op": "ready", "adapters": [...],
  "stop_token_ids": [...], "seconds": s, "vllm_version": v}``; ``engine`` holds :class:`Engine` keyword
  arguments. Must be the first request.
* ``{"op": "generate", "prompts": [...], "adapter": name | null, "sampling": {...}}`` ->
  ``{"ok": true, "texts": [...], "generated_tokens": n, "seconds": s}``; ``sampling`` holds
  :func:`sampling_kwargs` arguments.
* ``{"op": "close"}`` -> ``{"ok": true, "op": "closed"}``, then the worker exits.
* Any failure -> ``{"ok": false, "error_type": "KeyError", "error": "message"}``; the worker keeps serving.

vLLM and its engine processes log to stderr: the worker moves the protocol channel to a private copy of stdout
and points file descriptor 1 at stderr before vLLM starts, so stray prints never corrupt the protocol.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

__all__ = [
    "ALLOWED_LORA_RANKS",
    "Engine",
    "ProtocolError",
    "cpu_threads_bind",
    "decode_message",
    "encode_message",
    "lora_max_rank",
    "newline_stop_ids",
    "sampling_kwargs",
    "serve",
]

logger = logging.getLogger(__name__)

#: ``max_lora_rank`` values vLLM 0.32 accepts (``vllm.config.lora.MaxLoRARanks``).
ALLOWED_LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)

#: Environment defaults for the engine (set unless already set): offline, no telemetry, logs on stderr.
ENGINE_ENV_DEFAULTS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_LOGGING_STREAM": "ext://sys.stderr",
}


def cpu_threads_bind(setting: str, cpus: Sequence[int] | None = None) -> str | None:
    """The ``VLLM_CPU_OMP_THREADS_BIND`` value for a bind setting (vLLM's CPU backend only; GPUs ignore it).

    vLLM's own ``auto`` binding reserves one core per engine for its busy-polling scheduler process and binds the
    OpenMP compute threads to the rest: on a 2-core machine that halves the compute. ``"all"`` binds the compute
    threads to every CPU this process may use instead; on the project's 2-core CPU that raised base-model
    decoding from 38.6 to 69.0 output tokens/s (``metrics/bench/synthesize.json``).

    Args:
        setting: ``"all"``, ``"auto"`` (vLLM's default), or an explicit vLLM CPU list such as ``"0-3"``.
        cpus: usable CPU ids (default: this process's affinity).

    Returns:
        The value to set, or ``None`` for ``"auto"`` (leave vLLM's default).

    Raises:
        ValueError: empty setting.
    """
    if not setting:
        raise ValueError(
            "cpu_threads_bind: expected 'all', 'auto' or a CPU list like '0-3', got ''"
        )
    if setting == "auto":
        return None
    if setting != "all":
        return setting
    ids = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    if ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}-{ids[-1]}"
    return ",".join(map(str, ids))


class ProtocolError(RuntimeError):
    """A protocol line is not a JSON object of the expected form."""


def encode_message(message: Mapping[str, Any]) -> str:
    """Serialise one protocol message as a single JSON line (newline-terminated, non-ASCII kept).

    Raises:
        TypeError: the message holds a value JSON cannot represent.
    """
    return json.dumps(dict(message), ensure_ascii=False, separators=(",", ":")) + "\n"


def decode_message(line: str) -> dict[str, Any]:
    """Parse one protocol line.

    Raises:
        ProtocolError: empty line (the peer closed the stream), invalid JSON, or not a JSON object.
    """
    if not line.strip():
        raise ProtocolError("protocol: got an empty line (the peer closed the stream)")
    try:
        message = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"protocol: invalid JSON line {line[:200]!r}: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError(f"protocol: expected a JSON object, got {type(message).__name__}")
    return message


def sampling_kwargs(
    *,
    n_prompts: int,
    max_new_tokens: int,
    do_sample: bool,
    temperature: float,
    top_p: float,
    seed: int,
    stop_token_ids: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """Map the project's decoding settings to one ``vllm.SamplingParams`` keyword dict per prompt.

    The mapping reproduces :class:`bootembed.generation.transformers_backend.TransformersBackend`: greedy is
    ``temperature=0``; sampling is plain temperature + nucleus (``top_k=0`` disables top-k); generation stops at
    EOS (vLLM adds the model's EOS ids itself) or at a newline token (``stop_token_ids``), never before the first
    new token (``min_tokens=1``); the newline stays in the text (``include_stop_str_in_output``), special tokens
    are removed. Prompt ``i`` gets the seed ``seed + i``, so a continuation does not depend on how the engine
    batches requests.

    Args:
        n_prompts: number of prompts N.
        max_new_tokens: generation budget per prompt (tokens, >= 1).
        do_sample: sample (``True``) or greedy decode (``False``).
        temperature: softmax temperature when sampling (> 0).
        top_p: nucleus mass when sampling, in (0, 1].
        seed: base seed.
        stop_token_ids: token ids that end a continuation besides EOS (the newline tokens).

    Returns:
        N dicts of ``SamplingParams`` keyword arguments.

    Raises:
        ValueError: ``n_prompts < 0``, ``max_new_tokens < 1``, or (when sampling) a temperature or top_p out of
            range.
    """
    if n_prompts < 0:
        raise ValueError(f"n_prompts: expected >= 0, got {n_prompts}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens: expected >= 1, got {max_new_tokens}")
    common: dict[str, Any] = {
        "max_tokens": int(max_new_tokens),
        "min_tokens": 1,
        "stop_token_ids": [int(i) for i in stop_token_ids],
        "include_stop_str_in_output": True,
        "skip_special_tokens": True,
        "top_k": 0,
    }
    if do_sample:
        if temperature <= 0:
            raise ValueError(f"temperature: expected > 0 when sampling, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p: expected a value in (0, 1], got {top_p}")
        common.update(temperature=float(temperature), top_p=float(top_p))
    else:
        common.update(temperature=0.0, top_p=1.0)
    return [{**common, "seed": int(seed) + i} for i in range(n_prompts)]


class _Tokenizer(Protocol):
    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


def newline_stop_ids(tokenizer: _Tokenizer) -> list[int]:
    """Ids of the single tokens ``"\\n"`` and ``"\\n\\n"`` (those that encode to exactly one token), sorted.

    Matches the newline stop ids of the transformers backend (EOS is handled by vLLM itself).
    """
    ids: set[int] = set()
    for text in ("\n", "\n\n"):
        encoded = list(tokenizer.encode(text, add_special_tokens=False))
        if len(encoded) == 1:
            ids.add(int(encoded[0]))
    return sorted(ids)


def lora_max_rank(adapter_dirs: Iterable[str | Path]) -> int:
    """Smallest ``max_lora_rank`` vLLM accepts that covers every adapter's rank.

    Reads ``r`` and ``rank_pattern`` from each peft ``adapter_config.json``.

    Returns:
        A value of :data:`ALLOWED_LORA_RANKS` (8 when there are no adapters).

    Raises:
        FileNotFoundError: an adapter folder has no ``adapter_config.json``.
        ValueError: the config's ``r`` is missing or not a positive integer, or exceeds 512.
    """
    largest = 1
    for adapter_dir in adapter_dirs:
        path = Path(adapter_dir) / "adapter_config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: peft adapter config not found")
        config = json.loads(path.read_text(encoding="utf-8"))
        ranks = [config.get("r"), *(config.get("rank_pattern") or {}).values()]
        for rank in ranks:
            if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
                raise ValueError(f"{path}: field 'r': expected a positive integer, got {rank!r}")
            largest = max(largest, rank)
    for allowed in ALLOWED_LORA_RANKS:
        if allowed >= max(largest, 8):
            return allowed
    raise ValueError(f"LoRA rank {largest} exceeds vLLM's maximum {ALLOWED_LORA_RANKS[-1]}")


class Engine:
    """One ``vllm.LLM`` with named LoRA adapters, started once and reused for every request.

    Args:
        model: transformers folder of the base causal LM.
        adapters: adapter name -> peft adapter folder.
        dtype: vLLM dtype (``"float32"``, ``"bfloat16"``, ``"auto"``).
        max_model_len: context length reserved per sequence (prompt + continuation tokens).
        max_num_seqs: sequences decoded concurrently.
        enforce_eager: skip graph capture / ``torch.compile`` (faster start).
        seed: engine seed (per-request seeds drive sampling).
        kv_cache_gib: CPU KV-cache size in GiB (``VLLM_CPU_KVCACHE_SPACE``), unless already set.
        tensor_parallel_size: GPUs the model is split over (vLLM ``tensor_parallel_size``; 1 on CPU).
        cpu_bind: CPU backend thread binding, see :func:`cpu_threads_bind`; an already set
            ``VLLM_CPU_OMP_THREADS_BIND`` wins.

    Raises:
        ImportError: ``vllm`` is not importable.
    """

    def __init__(
        self,
        model: str,
        *,
        adapters: Mapping[str, str] | None = None,
        dtype: str = "float32",
        max_model_len: int = 1024,
        max_num_seqs: int = 64,
        enforce_eager: bool = True,
        seed: int = 0,
        kv_cache_gib: int = 2,
        tensor_parallel_size: int = 1,
        cpu_bind: str = "all",
    ) -> None:
        for key, value in ENGINE_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        bind = cpu_threads_bind(cpu_bind)
        if bind is not None:
            os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", bind)
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(int(kv_cache_gib)))
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        start = time.perf_counter()
        self.adapters = dict(adapters or {})
        #: The engine arguments of ``vllm.LLM``, as passed.
        self.engine_args: dict[str, Any] = {
            "model": str(model),
            "dtype": dtype,
            "seed": seed,
            "max_model_len": max_model_len,
            "max_num_seqs": max_num_seqs,
            "enforce_eager": enforce_eager,
            "tensor_parallel_size": tensor_parallel_size,
        }
        if self.adapters:
            self.engine_args.update(
                enable_lora=True,
                max_loras=len(self.adapters),
                max_lora_rank=lora_max_rank(self.adapters.values()),
            )
        self.llm = LLM(**self.engine_args)
        self._lora_requests = {
            name: LoRARequest(name, index + 1, str(Path(path).resolve()))
            for index, (name, path) in enumerate(self.adapters.items())
        }
        self.stop_token_ids = newline_stop_ids(self.llm.get_tokenizer())
        self.start_seconds = time.perf_counter() - start

    def generate(
        self, prompts: Sequence[str], adapter: str | None, sampling: Mapping[str, Any]
    ) -> tuple[list[str], int]:
        """Generate one continuation per prompt.

        Args:
            prompts: N prompts.
            adapter: loaded adapter name, or ``None`` for the base model.
            sampling: :func:`sampling_kwargs` arguments except ``n_prompts`` and ``stop_token_ids``.

        Returns:
            ``(texts, generated_tokens)``: N continuations in prompt order and the total new-token count.

        Raises:
            KeyError: unknown adapter.
        """
        from vllm import SamplingParams

        if adapter is not None and adapter not in self._lora_requests:
            raise KeyError(
                f"adapter {adapter!r} is not loaded; loaded: {list(self._lora_requests)}"
            )
        if not prompts:
            return [], 0
        params = [
            SamplingParams(**kw)
            for kw in sampling_kwargs(
                n_prompts=len(prompts), stop_token_ids=self.stop_token_ids, **sampling
            )
        ]
        lora = self._lora_requests[adapter] if adapter is not None else None
        outputs = self.llm.generate(list(prompts), params, lora_request=lora, use_tqdm=False)
        texts = [out.outputs[0].text for out in outputs]
        tokens = sum(len(out.outputs[0].token_ids) for out in outputs)
        return texts, tokens

    def close(self) -> None:
        """Drop the engine (its processes exit with it)."""
        self.llm = None  # type: ignore[assignment]


def _handle(
    message: Mapping[str, Any], engine: Engine | None, factory: Callable[..., Engine]
) -> tuple[dict[str, Any], Engine | None]:
    op = message.get("op")
    if op == "init":
        if engine is not None:
            raise ProtocolError("protocol: 'init' sent twice")
        engine = factory(**message.get("engine", {}))
        version = str(getattr(sys.modules.get("vllm"), "__version__", "unknown"))
        return {
            "ok": True,
            "op": "ready",
            "adapters": list(engine.adapters),
            "stop_token_ids": list(engine.stop_token_ids),
            "seconds": round(engine.start_seconds, 3),
            "vllm_version": version,
        }, engine
    if engine is None:
        raise ProtocolError(f"protocol: expected 'init' first, got {op!r}")
    if op == "generate":
        start = time.perf_counter()
        texts, tokens = engine.generate(
            message["prompts"], message.get("adapter"), message["sampling"]
        )
        return {
            "ok": True,
            "texts": texts,
            "generated_tokens": tokens,
            "seconds": round(time.perf_counter() - start, 4),
        }, engine
    raise ProtocolError(f"protocol: unknown op {op!r}; expected 'init', 'generate' or 'close'")


def serve(reader: IO[str], writer: IO[str], factory: Callable[..., Engine] = Engine) -> int:
    """Answer protocol requests from ``reader`` on ``writer`` until ``close`` or end of input.

    Args:
        reader: text stream of request lines.
        writer: text stream for answer lines (flushed after each).
        factory: builds the engine from the ``init`` request's ``engine`` arguments (tests pass a fake).

    Returns:
        The process exit status (0).
    """
    engine: Engine | None = None
    try:
        for line in reader:
            if not line.strip():
                continue
            try:
                message = decode_message(line)
                if message.get("op") == "close":
                    writer.write(encode_message({"ok": True, "op": "closed"}))
                    writer.flush()
                    break
                answer, engine = _handle(message, engine, factory)
            except Exception as exc:  # report and keep serving
                logger.exception("vllm worker: request failed")
                answer = {"ok": False, "error_type": type(exc).__name__, "error": str(exc)}
            writer.write(encode_message(answer))
            writer.flush()
    finally:
        if engine is not None:
            engine.close()
    return 0


def main() -> int:
    """Serve the protocol on the process's stdin / stdout (stdout is reserved for protocol lines)."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    reader = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    return serve(reader, protocol_out)


if __name__ == "__main__":
    sys.exit(main())
