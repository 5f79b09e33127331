"""OpenVINO GenAI generation backend: continuous batching on CPU, peft LoRA adapters fused or applied at run time.

The base model is exported once to OpenVINO IR (model, tokenizer and detokenizer) by
:mod:`bootembed.generation.openvino_env` (a separate venv holds the exporter; the export is cached by the content
hash of the transformers folder), or read directly when ``base_model_dir`` already is such an IR folder. The runtime
(``openvino-genai``, ``openvino``, ``openvino-tokenizers``; see
:data:`bootembed.generation.openvino_env.RUNTIME_REQUIREMENTS`) runs in this process.

Engine: ``openvino_genai.ContinuousBatchingPipeline`` (paged attention, no padding, prompts scheduled as sequences
finish, optional prefix caching of the shared instruction prefix). Decoding matches
:class:`bootembed.generation.transformers_backend.TransformersBackend`: greedy by default, stop at EOS or at a
newline token (:func:`stop_token_ids`; the stop token is kept, so a newline stays in the text), at least one new
token, text = the continuation decoded with special tokens removed.

LoRA: peft adapter folders (``adapter_config.json`` + ``adapter_model.safetensors``) are read by
``openvino_genai.Adapter``. GenAI ignores ``lora_alpha`` and scales the LoRA product by the alpha given in
``AdapterConfig`` alone, so that alpha is peft's scaling ``lora_alpha / r`` (``lora_alpha / sqrt(r)`` with rsLoRA;
:func:`lora_scaling`). With ``merge_lora=True`` (default) every adapter gets its own pipeline with the adapter fused
into the weights (``AdapterConfig.Mode.MODE_FUSE``: decoding costs the same as the base model, one weight copy per
adapter, like the transformers backend's ``merge_lora``); with ``merge_lora=False`` one pipeline holds all adapters
and applies the selected one at run time (``MODE_DYNAMIC``: one weight copy, slower decoding).

Precision: OpenVINO's CPU plugin computes in bf16 on CPUs with native bf16 and keeps the KV cache in u8 by default;
``dtype="float32"`` forces f32 inference *and* an f32 KV cache (exact), ``"bfloat16"`` forces bf16 for both.

Sampling (``do_sample=True``): temperature and top-p as given, no top-k; each prompt gets its own generator seeded
``seed + i`` (``i`` = its index in the call), so outputs do not depend on batching or scheduling. The transformers
backend seeds torch once per batch instead: sampled texts are not comparable across backends (same distribution,
other draws).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from bootembed.generation import openvino_env
from bootembed.generation.base import GenerationBackend, SamplingConfig

__all__ = [
    "BACKEND",
    "LoraAdapterSpec",
    "OpenVINOBackend",
    "lora_scaling",
    "openvino_genai_importable",
    "precision_properties",
    "read_lora_adapter",
    "stop_token_ids",
]

logger = logging.getLogger(__name__)

#: Default cache of exported models (``BOOTEMBED_OPENVINO_CACHE`` overrides), relative to the working directory.
DEFAULT_CACHE = os.environ.get("BOOTEMBED_OPENVINO_CACHE") or ".openvino-cache"
#: OpenVINO element type names per ``dtype`` (inference precision and KV-cache precision).
_PRECISIONS = {"float32": "f32", "bfloat16": "bf16"}
_KV_CACHE_PRECISIONS = ("f32", "bf16", "f16", "u8")
#: Printed by GenAI (on the C++ stderr) when adapter tensors match no layer of the model.
_UNUSED_LORA = "Unused LoRA tensor"


def openvino_genai_importable() -> bool:
    """Whether ``openvino_genai`` can be imported by the running interpreter (without importing it)."""
    return importlib.util.find_spec("openvino_genai") is not None


def stop_token_ids(eos_token_id: int | None, encode: Callable[[str], Sequence[int]]) -> list[int]:
    """The stop set of the transformers backend: EOS plus ``"\\n"`` and ``"\\n\\n"`` where each is one token.

    Args:
        eos_token_id: the tokenizer's EOS id (``None`` or negative: none).
        encode: text -> token ids without special tokens.

    Returns:
        Sorted, distinct token ids.
    """
    ids = {eos_token_id} if eos_token_id is not None and eos_token_id >= 0 else set()
    for text in ("\n", "\n\n"):
        encoded = list(encode(text))
        if len(encoded) == 1:
            ids.add(int(encoded[0]))
    return sorted(ids)


@dataclass(frozen=True)
class LoraAdapterSpec:
    """One peft LoRA adapter as GenAI needs it.

    Attributes:
        name: adapter name.
        weights: the ``adapter_model.safetensors`` file.
        scaling: factor GenAI multiplies the LoRA product with (its ``alpha``): peft's ``lora_alpha / r``.
        rank: LoRA rank ``r``.
    """

    name: str
    weights: Path
    scaling: float
    rank: int


def lora_scaling(config: Mapping[str, Any]) -> float:
    """peft's LoRA scaling from an ``adapter_config.json``: ``lora_alpha / r``, or ``lora_alpha / sqrt(r)``.

    Args:
        config: the parsed adapter configuration.

    Returns:
        The factor the LoRA product ``B @ A @ x`` is multiplied by.

    Raises:
        ValueError: not a LoRA configuration, ``r`` or ``lora_alpha`` missing or not positive, or features GenAI
            cannot reproduce with one scalar per adapter: DoRA, per-module ``rank_pattern`` / ``alpha_pattern``
            that change the scaling, ``modules_to_save``, trainable bias or tokens.
    """
    peft_type = str(config.get("peft_type", "LORA")).upper()
    if peft_type != "LORA":
        raise ValueError(f"peft_type: expected 'LORA', got {config.get('peft_type')!r}")
    rank, alpha = config.get("r"), config.get("lora_alpha")
    if not isinstance(rank, int | float) or isinstance(rank, bool) or rank <= 0:
        raise ValueError(f"r: expected a positive number, got {rank!r}")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or alpha <= 0:
        raise ValueError(f"lora_alpha: expected a positive number, got {alpha!r}")
    unsupported = {
        "use_dora": bool(config.get("use_dora")),
        "modules_to_save": bool(config.get("modules_to_save")),
        "bias": config.get("bias", "none") not in (None, "none"),
        "trainable_token_indices": bool(config.get("trainable_token_indices")),
        "target_parameters": bool(config.get("target_parameters")),
    }
    bad = sorted(key for key, flag in unsupported.items() if flag)
    if bad:
        raise ValueError(f"LoRA features not supported by OpenVINO GenAI: {bad}")
    use_rslora = bool(config.get("use_rslora"))

    def scale(r: float, a: float) -> float:
        return a / math.sqrt(r) if use_rslora else a / r

    value = scale(rank, alpha)
    ranks = dict(config.get("rank_pattern") or {})
    alphas = dict(config.get("alpha_pattern") or {})
    for key in set(ranks) | set(alphas):
        if not math.isclose(scale(ranks.get(key, rank), alphas.get(key, alpha)), value):
            raise ValueError(
                f"rank_pattern / alpha_pattern give module {key!r} another scaling than "
                f"lora_alpha / r; OpenVINO GenAI applies one scaling per adapter"
            )
    return float(value)


def read_lora_adapter(name: str, folder: str | Path) -> LoraAdapterSpec:
    """Read a peft LoRA folder: its weights file and scaling.

    Raises:
        FileNotFoundError: no ``adapter_config.json``, or no ``adapter_model.safetensors`` (a ``.bin`` adapter must
            be re-saved with safetensors).
        ValueError: see :func:`lora_scaling`.
    """
    root = Path(folder)
    config_path = root / "adapter_config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: adapter config not found")
    weights = root / "adapter_model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(
            f"{weights}: not found (OpenVINO GenAI reads safetensors adapters only; re-save the adapter with "
            f"save_pretrained(..., safe_serialization=True))"
        )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    try:
        scaling = lora_scaling(config)
    except ValueError as exc:
        raise ValueError(f"adapter {name!r} ({config_path}): {exc}") from exc
    return LoraAdapterSpec(
        name=name, weights=weights.resolve(), scaling=scaling, rank=int(config["r"])
    )


def precision_properties(
    dtype: str, kv_cache_precision: str | None = None, *, native_bf16: bool = False
) -> dict[str, str]:
    """OpenVINO CPU properties for ``dtype``: inference and KV-cache precision.

    Args:
        dtype: ``"float32"``, ``"bfloat16"`` or ``"auto"`` (bf16 where ``native_bf16``, else f32, like the
            transformers backend's ``resolve_dtype``).
        kv_cache_precision: ``None`` (same as the inference precision; f32 for bf16 without native bf16), or
            ``"f32"``, ``"bf16"``, ``"f16"``, ``"u8"`` (OpenVINO's quantised default: not exact).
        native_bf16: whether the CPU has native bf16 (OpenVINO lists ``BF16`` in ``OPTIMIZATION_CAPABILITIES``).

    Returns:
        ``{"INFERENCE_PRECISION_HINT": ..., "KV_CACHE_PRECISION": ...}``.

    Raises:
        ValueError: unknown ``dtype`` or ``kv_cache_precision``.
    """
    if dtype == "auto":
        dtype = "bfloat16" if native_bf16 else "float32"
    if dtype not in _PRECISIONS:
        raise ValueError(f"dtype: expected 'auto', 'float32' or 'bfloat16', got {dtype!r}")
    if kv_cache_precision is not None and kv_cache_precision not in _KV_CACHE_PRECISIONS:
        raise ValueError(
            f"kv_cache_precision: expected None or one of {_KV_CACHE_PRECISIONS}, got {kv_cache_precision!r}"
        )
    precision = _PRECISIONS[dtype]
    # Without native bf16 the CPU plugin ignores the bf16 hint and computes in f32, and its paged attention then
    # accepts only an f32 or u8 KV cache.
    kv_default = precision if native_bf16 or precision == "f32" else "f32"
    return {
        "INFERENCE_PRECISION_HINT": precision,
        "KV_CACHE_PRECISION": kv_cache_precision or kv_default,
    }


@contextlib.contextmanager
def _native_stderr(sink: list[str]) -> Iterator[None]:
    """Capture what native code writes to file descriptor 2, append it to ``sink``, and echo it afterwards."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            if text:
                sink.append(text)
                sys.stderr.write(text)
                sys.stderr.flush()


class OpenVINOBackend(GenerationBackend):
    """Generation with an OpenVINO GenAI continuous-batching pipeline per (fused) adapter.

    Args:
        base_model_dir: transformers folder of the base causal LM (exported on first use, cached by content hash in
            ``cache_dir``), or an OpenVINO GenAI folder (``openvino_model.xml`` + tokenizer / detokenizer IR).
        adapters: adapter name -> peft LoRA folder (``adapter_model.safetensors``; see :func:`lora_scaling` for what
            is supported).
        dtype: ``"float32"`` (exact: f32 compute and KV cache), ``"bfloat16"`` (bf16 compute and KV cache where
            the CPU has native bf16; elsewhere OpenVINO falls back to f32, with a warning), or ``"auto"`` (bf16
            only where the CPU has native bf16).
        batch_size: sequences decoded concurrently (scheduler ``max_num_seqs``).
        **kwargs: further options:

            - ``merge_lora`` (bool, default ``True``): one pipeline per adapter with the adapter fused into its
              weights; ``False``: one pipeline, adapters applied at run time.
            - ``weight_format`` (str, default ``"fp32"``): export weight format (``"int8"``: NNCF weight-only
              compression, a quarter of the memory, not exact; on an AVX2 CPU not faster than fp32 for
              Gemma-3-270M); ignored for an IR folder.
            - ``kv_cache_precision`` (str | None): overrides the KV-cache precision (``"u8"``: OpenVINO's default).
            - ``kv_cache_gib`` (int, default 1): KV-cache size per pipeline, GiB.
            - ``enable_prefix_caching`` (bool, default ``True``): reuse the KV blocks of shared prompt prefixes
              (always off with ``merge_lora=False``: the cache does not know which adapter computed a block).
            - ``max_num_batched_tokens`` (int | None): tokens per scheduler step (prefill chunking); ``None``:
              GenAI's default.
            - ``num_threads`` (int | None): ``INFERENCE_NUM_THREADS`` (``None``: every core).
            - ``properties`` (mapping): extra OpenVINO properties for the pipelines.
            - ``cache_dir`` (path, default ``BOOTEMBED_OPENVINO_CACHE`` or ``.openvino-cache``): export cache.
            - ``venv`` (path): export venv (default ``BOOTEMBED_OPENVINO_VENV`` or ``.venv-openvino``).
            - ``device`` (str, default ``"CPU"``).

    Raises:
        ImportError: ``openvino_genai`` is not installed.
        FileNotFoundError: ``base_model_dir`` is neither a transformers folder nor an IR folder, or an adapter
            folder is incomplete.
        ValueError: bad ``batch_size`` / ``dtype`` / option, an unsupported adapter, or adapter tensors that match
            no layer of the model.
        TypeError: unknown keyword option.
        RuntimeError: the export failed, or OpenVINO failed to build a pipeline.

    Example:
        >>> with OpenVINOBackend("models/base/generator", adapters={"positive": "models/xllora/positive"}) as b:
        ...     b.generate(["Premise: ... English sentence:"], adapter="positive", sampling=SamplingConfig())
        ... # doctest: +SKIP
    """

    name = "openvino"
    #: Options :func:`bootembed.generation.base.make_backend` passes through (``synthesize.merge_lora``).
    options = ("merge_lora",)

    _OPTIONS: frozenset[str] = frozenset(
        {
            "merge_lora",
            "weight_format",
            "kv_cache_precision",
            "kv_cache_gib",
            "enable_prefix_caching",
            "max_num_batched_tokens",
            "num_threads",
            "properties",
            "cache_dir",
            "venv",
            "device",
        }
    )

    def __init__(self, base_model_dir: str | Path, **kwargs: Any) -> None:
        common = {
            key: kwargs.pop(key) for key in ("adapters", "dtype", "batch_size") if key in kwargs
        }
        unknown = sorted(set(kwargs) - self._OPTIONS)
        if unknown:
            raise TypeError(f"OpenVINOBackend: unknown options {unknown}")
        super().__init__(base_model_dir, **common)
        adapters, dtype = self.adapter_dirs, self.requested_dtype
        kv_cache_gib = int(kwargs.get("kv_cache_gib", 1))
        if kv_cache_gib < 1:
            raise ValueError(f"kv_cache_gib: expected >= 1, got {kv_cache_gib}")
        if not openvino_genai_importable():
            raise ImportError(
                "openvino_genai is not installed; pip install --no-deps "
                + " ".join(openvino_env.RUNTIME_REQUIREMENTS)
            )
        import openvino as ov
        import openvino_genai as ov_genai

        self._ov = ov
        self._ov_genai = ov_genai
        if not ov.__version__.startswith(openvino_env.OPENVINO_VERSION):
            logger.warning(
                "openvino %s is installed, the exporter uses %s: the tokenizer IR may not load",
                ov.__version__,
                openvino_env.OPENVINO_VERSION,
            )
        self.device = str(kwargs.get("device", "CPU"))
        self.merge_lora = bool(kwargs.get("merge_lora", True))
        self.enable_prefix_caching = bool(kwargs.get("enable_prefix_caching", True))
        if self.enable_prefix_caching and adapters and not self.merge_lora:
            # The prefix cache is keyed by tokens only: KV blocks computed under one adapter would be reused
            # under another (or under none).
            logger.info("openvino backend: prefix caching is off with run-time (unfused) adapters")
            self.enable_prefix_caching = False
        self.kv_cache_gib = kv_cache_gib
        self.max_num_batched_tokens = kwargs.get("max_num_batched_tokens")
        self._adapter_specs = {
            name: read_lora_adapter(name, path) for name, path in (adapters or {}).items()
        }
        native_bf16 = "BF16" in ov.Core().get_property(self.device, "OPTIMIZATION_CAPABILITIES")
        self.properties: dict[str, Any] = precision_properties(
            dtype, kwargs.get("kv_cache_precision"), native_bf16=native_bf16
        )
        bf16 = self.properties["INFERENCE_PRECISION_HINT"] == "bf16"
        if bf16 and not native_bf16:
            logger.warning(
                "openvino backend: dtype bfloat16 on a CPU without native bf16: OpenVINO computes in f32 "
                "(it does not emulate bf16 as torch does)"
            )
        #: The precision computed in: ``"bfloat16"`` only where the device has native bf16.
        self.dtype = "bfloat16" if bf16 and native_bf16 else "float32"
        if kwargs.get("num_threads") is not None:
            self.properties["INFERENCE_NUM_THREADS"] = int(kwargs["num_threads"])
        self.properties.update(dict(kwargs.get("properties") or {}))

        base = Path(base_model_dir)
        if openvino_env.is_openvino_ir(base):
            self.model_dir = base.absolute()
        elif (base / "config.json").is_file():
            self.model_dir = openvino_env.cached_export(
                base,
                kwargs.get("cache_dir") or DEFAULT_CACHE,
                weight_format=str(kwargs.get("weight_format", "fp32")),
                venv=kwargs.get("venv"),
            )
        else:
            raise FileNotFoundError(
                f"{base}: neither a transformers folder (config.json) nor an OpenVINO GenAI folder "
                f"({', '.join(openvino_env.IR_FILES)})"
            )

        self.tokenizer = ov_genai.Tokenizer(str(self.model_dir))
        self._stop_ids = stop_token_ids(
            self.tokenizer.get_eos_token_id(),
            lambda text: self.tokenizer.encode(text, add_special_tokens=False).input_ids.data[0],
        )
        self._eos_id = self.tokenizer.get_eos_token_id()
        self._genai_adapters = {
            name: ov_genai.Adapter(str(spec.weights)) for name, spec in self._adapter_specs.items()
        }
        self._pipelines: dict[str | None, Any] = {}
        self._adapter_configs: dict[str | None, Any] = {}
        #: Seconds spent building pipelines (compilation, adapter fusion), per pipeline key.
        self.load_seconds: dict[str | None, float] = {}
        self._next_request_id = 0
        self._closed = False
        if self._adapter_specs and self.merge_lora:
            for adapter_name in self._adapter_specs:
                self._pipeline(adapter_name)
        else:
            self._pipeline(None)
        logger.info(
            "openvino backend: %s on %s (%s), adapters=%s (%s), properties=%s",
            self.model_dir,
            self.device,
            self.dtype,
            list(self._adapter_specs),
            "fused" if self.merge_lora else "dynamic",
            self.properties,
        )

    @property
    def adapters(self) -> tuple[str, ...]:
        return tuple(self._adapter_specs)

    def settings(self) -> dict[str, object]:
        """Every engine setting that can change a generated token (synthesis resume manifest)."""
        parent = getattr(super(), "settings", None)
        base: dict[str, object] = (
            parent()
            if parent
            else {"name": self.name, "dtype": self.dtype, "batch_size": self.batch_size}
        )
        export = openvino_env.export_info(self.model_dir)
        return {
            **base,
            "merge_lora": self.merge_lora,
            "device": self.device,
            "inference_precision": self.properties["INFERENCE_PRECISION_HINT"],
            "kv_cache_precision": self.properties["KV_CACHE_PRECISION"],
            "weight_format": export.get("weight_format"),
            "enable_prefix_caching": self.enable_prefix_caching,
            "max_num_batched_tokens": self.max_num_batched_tokens,
            "openvino": self._ov.__version__,
            "openvino_genai": self._ov_genai.__version__,
        }

    @property
    def stop_token_ids(self) -> list[int]:
        """Token ids that end a continuation (see :func:`stop_token_ids`)."""
        return list(self._stop_ids)

    def _scheduler_config(self) -> Any:
        config = self._ov_genai.SchedulerConfig()
        config.max_num_seqs = self.batch_size
        config.cache_size = self.kv_cache_gib
        config.enable_prefix_caching = self.enable_prefix_caching
        if self.max_num_batched_tokens is not None:
            config.max_num_batched_tokens = int(self.max_num_batched_tokens)
        return config

    def _pipeline(self, adapter: str | None) -> Any:
        """The pipeline serving ``adapter`` (built on first use), and record its per-request adapter config."""
        key = adapter if (self.merge_lora and adapter is not None) else None
        if key not in self._pipelines:
            ov_genai = self._ov_genai
            properties = dict(self.properties)
            mode = ov_genai.AdapterConfig.Mode
            if key is not None:
                spec = self._adapter_specs[key]
                properties["adapters"] = ov_genai.AdapterConfig(
                    self._genai_adapters[key], spec.scaling, mode.MODE_FUSE
                )
            elif self._adapter_specs and not self.merge_lora:
                config = ov_genai.AdapterConfig(mode.MODE_DYNAMIC)
                for name, spec in self._adapter_specs.items():
                    config.add(self._genai_adapters[name], spec.scaling)
                properties["adapters"] = config
            start = time.perf_counter()
            captured: list[str] = []
            with _native_stderr(captured):
                pipeline = ov_genai.ContinuousBatchingPipeline(
                    str(self.model_dir), self._scheduler_config(), self.device, properties
                )
            if any(_UNUSED_LORA in text for text in captured):
                raise ValueError(
                    f"LoRA adapter(s) {[key] if key else list(self._adapter_specs)} hold tensors that match no "
                    f"layer of {self.model_dir} (see the OpenVINO warning above): wrong base model?"
                )
            self._pipelines[key] = pipeline
            self.load_seconds[key] = time.perf_counter() - start
            logger.info(
                "openvino backend: pipeline %s built in %.1f s",
                key or ("base" if not self._adapter_specs or self.merge_lora else "dynamic"),
                self.load_seconds[key],
            )
        if adapter not in self._adapter_configs:
            if self.merge_lora or not self._adapter_specs:
                self._adapter_configs[adapter] = None  # fused, or no adapters at all
            elif adapter is None:
                self._adapter_configs[adapter] = self._ov_genai.AdapterConfig()  # adapters off
            else:
                self._adapter_configs[adapter] = self._ov_genai.AdapterConfig(
                    self._genai_adapters[adapter], self._adapter_specs[adapter].scaling
                )
        return self._pipelines[key]

    def _generation_config(self, sampling: SamplingConfig, adapter_config: Any, seed: int) -> Any:
        config = self._ov_genai.GenerationConfig()
        config.max_new_tokens = sampling.max_new_tokens
        # The stop ids include the newline: forbid stopping before the first token (as the transformers backend).
        config.min_new_tokens = 1
        if self._eos_id is not None and self._eos_id >= 0:
            config.eos_token_id = self._eos_id
        config.stop_token_ids = set(self._stop_ids)
        config.apply_chat_template = False
        config.do_sample = sampling.do_sample
        if sampling.do_sample:
            config.temperature = sampling.temperature
            config.top_p = sampling.top_p
            config.rng_seed = seed
        if adapter_config is not None:
            config.adapters = adapter_config
        return config

    def _encode(self, prompts: Sequence[str]) -> list[Any]:
        """Token ids of each prompt (BOS added, no padding) as ``(1, length)`` int64 tensors."""
        encoded = self.tokenizer.encode(list(prompts), add_special_tokens=True)
        ids = encoded.input_ids.data
        mask = encoded.attention_mask.data.astype(bool)
        return [
            self._ov.Tensor(np.ascontiguousarray(ids[i][mask[i]], dtype=np.int64).reshape(1, -1))
            for i in range(len(prompts))
        ]

    def generate(
        self, prompts: Sequence[str], *, adapter: str | None, sampling: SamplingConfig
    ) -> list[str]:
        """Generate one continuation per prompt (see :meth:`GenerationBackend.generate`).

        Fused / adapter-free pipelines are driven request by request (``add_request`` + ``step``): at most
        ``4 * batch_size`` requests are queued, the scheduler decodes ``batch_size`` at a time and refills as
        sequences finish. A dynamic-adapter pipeline only switches adapters inside ``generate()``, so it is driven
        by ``generate()`` on windows of ``8 * batch_size`` prompts (each window's tail runs below full batch).

        Raises:
            KeyError: ``adapter`` is not loaded.
            RuntimeError: a prompt does not fit the KV cache (raise ``kv_cache_gib``), OpenVINO failed, or the
                backend is closed.
        """
        prompts = list(prompts)
        if adapter is not None and adapter not in self._adapter_specs:
            raise KeyError(
                f"adapter {adapter!r} is not loaded; loaded: {list(self._adapter_specs)}"
            )
        if not prompts:
            return []
        if self._closed:
            raise RuntimeError("openvino backend: generate() after close()")
        pipeline = self._pipeline(adapter)
        adapter_config = self._adapter_configs[adapter]
        outputs: list[str] = [""] * len(prompts)
        bar = tqdm(
            total=len(prompts), desc=f"generate[{adapter or 'base'}]", unit="prompt", leave=False
        )

        def finish(done: Mapping[int, Sequence[int]]) -> None:
            order = sorted(done)
            texts = self.tokenizer.decode([list(done[i]) for i in order], skip_special_tokens=True)
            for index, text in zip(order, texts, strict=True):
                outputs[index] = text
                self.generated_tokens += len(done[index])
            bar.update(len(order))

        start = time.perf_counter()
        try:
            if adapter_config is None:
                self._generate_stepwise(pipeline, prompts, sampling, finish)
            else:
                self._generate_windows(pipeline, prompts, sampling, adapter_config, finish)
        finally:
            bar.close()
            self.generate_seconds += time.perf_counter() - start
        return outputs

    def _check_status(self, index: int, state: Any) -> None:
        if state != self._ov_genai.GenerationStatus.FINISHED:
            raise RuntimeError(
                f"openvino backend: prompt {index} ended with status {state.name} (IGNORED: it does not "
                f"fit the KV cache of {self.kv_cache_gib} GiB; raise kv_cache_gib)"
            )

    def _generate_stepwise(
        self,
        pipeline: Any,
        prompts: Sequence[str],
        sampling: SamplingConfig,
        finish: Callable[[Mapping[int, Sequence[int]]], None],
    ) -> None:
        running = self._ov_genai.GenerationStatus.RUNNING
        window = 4 * self.batch_size
        pending: dict[int, Any] = {}
        next_index = 0
        try:
            while next_index < len(prompts) or pending:
                if next_index < len(prompts) and len(pending) < window:
                    stop = min(len(prompts), next_index + window - len(pending))
                    for offset, ids in enumerate(self._encode(prompts[next_index:stop])):
                        index = next_index + offset
                        config = self._generation_config(sampling, None, sampling.seed + index)
                        pending[index] = pipeline.add_request(self._next_request_id, ids, config)
                        self._next_request_id += 1
                    next_index = stop
                pipeline.step()
                done: dict[int, Sequence[int]] = {}
                for index in [i for i, h in pending.items() if h.get_status() != running]:
                    handle = pending.pop(index)
                    self._check_status(index, handle.get_status())
                    results = handle.read_all()
                    done[index] = list(results[0].generated_ids) if results else []
                if done:
                    finish(done)
        except BaseException:
            for handle in pending.values():
                with contextlib.suppress(Exception):
                    handle.cancel()
            with contextlib.suppress(Exception):
                while pipeline.has_non_finished_requests():
                    pipeline.step()
            raise

    def _generate_windows(
        self,
        pipeline: Any,
        prompts: Sequence[str],
        sampling: SamplingConfig,
        adapter_config: Any,
        finish: Callable[[Mapping[int, Sequence[int]]], None],
    ) -> None:
        window = 8 * self.batch_size
        for first in range(0, len(prompts), window):
            chunk = prompts[first : first + window]
            configs = [
                self._generation_config(sampling, adapter_config, sampling.seed + first + k)
                for k in range(len(chunk))
            ]
            results = pipeline.generate(self._encode(chunk), configs)
            done: dict[int, Sequence[int]] = {}
            for k, result in enumerate(results):
                ids = list(result.m_generation_ids[0]) if result.m_generation_ids else []
                if not ids:  # min_new_tokens is 1: only a dropped (IGNORED) request has no token
                    self._check_status(first + k, self._ov_genai.GenerationStatus.IGNORED)
                done[first + k] = ids
            finish(done)

    def close(self) -> None:
        """Release the pipelines (their weights and KV caches); :meth:`generate` then raises."""
        self._pipelines = {}
        self._adapter_configs = {}
        self._closed = True


#: The registry entry (:data:`bootembed.generation.BACKENDS`).
BACKEND = OpenVINOBackend
