"""The generation backend interface shared by every synthesis strategy.

A backend loads the base causal LM once, with any number of named LoRA adapters, and turns prompts into raw
continuations. Strategies (XL-LoRA, adapter composition, ICL) only build prompts and parse outputs
(:mod:`bootembed.strategies`); which engine runs them is a parameter (``synthesize.backend``), one module per
engine (:data:`bootembed.generation.BACKENDS`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bootembed.generation import BACKENDS

__all__ = ["GenerationBackend", "SamplingConfig", "make_backend"]


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding settings for one generation call.

    Attributes:
        max_new_tokens: generation budget per prompt (tokens).
        do_sample: sample (``True``) or greedy decode (``False``).
        temperature: softmax temperature when sampling.
        top_p: nucleus mass when sampling.
        seed: RNG seed set before each batch, so results do not depend on batch order or resumption.
    """

    max_new_tokens: int = 48
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 42

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: expected >= 1, got {self.max_new_tokens}")
        if self.temperature <= 0:
            raise ValueError(f"temperature: expected > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p: expected a value in (0, 1], got {self.top_p}")


class GenerationBackend(abc.ABC):
    """Base causal LM plus named LoRA adapters, loaded once and reused for every prompt of every adapter."""

    #: Short engine name recorded with every output (``"transformers"``) = the registry name.
    name: str = ""
    #: Backend-specific keyword options of the constructor that :func:`make_backend` passes through.
    options: tuple[str, ...] = ()
    #: Values of other backends' options that this backend can ignore (``tensor_parallel_size=1``).
    neutral_options: Mapping[str, tuple[object, ...]] = {
        "tensor_parallel_size": (1,),
        "merge_lora": (True, False),
    }
    #: Counters over the backend's life: new tokens generated (up to and including the stop token) and
    #: seconds spent inside :meth:`generate`.
    generated_tokens: int = 0
    generate_seconds: float = 0.0

    def __init__(
        self,
        base_model_dir: str | Path,
        *,
        adapters: Mapping[str, str | Path] | None = None,
        dtype: str = "float32",
        batch_size: int = 16,
    ) -> None:
        """The settings every backend takes: the call :func:`make_backend` makes, before a backend's own options.

        Args:
            base_model_dir: transformers folder of the base causal LM.
            adapters: adapter name -> peft LoRA folder.
            dtype: ``"float32"``, ``"bfloat16"`` or ``"auto"``, as the backend documents.
            batch_size: prompts per batch / concurrent sequences.

        Sets ``base_model_dir`` (a ``Path``), ``adapter_dirs`` (name -> ``Path``, in the given order),
        ``requested_dtype``, ``batch_size`` and zeroes the counters.

        Raises:
            ValueError: ``batch_size`` < 1.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.base_model_dir = Path(base_model_dir)
        self.adapter_dirs: dict[str, Path] = {
            name: Path(path) for name, path in (adapters or {}).items()
        }
        self.requested_dtype = dtype
        self.batch_size = batch_size
        self.generated_tokens = 0
        self.generate_seconds = 0.0

    @property
    @abc.abstractmethod
    def adapters(self) -> tuple[str, ...]:
        """Names of the loaded LoRA adapters."""

    @abc.abstractmethod
    def generate(
        self, prompts: Sequence[str], *, adapter: str | None, sampling: SamplingConfig
    ) -> list[str]:
        """Generate one continuation per prompt.

        Args:
            prompts: N prompt strings (the tokenizer adds BOS).
            adapter: name of a loaded LoRA adapter, or ``None`` for the base model.
            sampling: decoding settings.

        Returns:
            N decoded continuations (prompt excluded, special tokens removed), in the order of ``prompts``.

        Raises:
            KeyError: ``adapter`` is not loaded.
        """

    def settings(self) -> dict[str, object]:
        """Every engine setting that can change a generated token (part of the synthesis resume manifest).

        The default gives the engine name, the compute dtype and the batch size (padding and batch composition
        can flip greedy near-ties); backends add their own (merged LoRA, engine version).
        """
        return {
            "name": self.name,
            "dtype": str(getattr(self, "dtype", "")).removeprefix("torch."),
            "batch_size": getattr(self, "batch_size", None),
        }

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine's resources."""

    def __enter__(self) -> GenerationBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_backend(
    name: str,
    base_model_dir: str | Path,
    *,
    adapters: Mapping[str, str | Path] | None = None,
    dtype: str = "float32",
    batch_size: int = 16,
    **options: object,
) -> GenerationBackend:
    """Create the backend called ``name`` (a module of :data:`bootembed.generation.BACKENDS`).

    Args:
        name: backend name (``synthesize.backend``).
        base_model_dir: transformers folder of the base causal LM.
        adapters: adapter name -> peft LoRA folder.
        dtype: ``"float32"`` or ``"bfloat16"`` (resolve ``auto`` with :func:`bootembed.hardware.resolve_dtype`
            first; ``"auto"`` here resolves without a measurement, i.e. float32 unless bf16 is native and set).
        batch_size: prompts per batch / concurrent sequences.
        options: backend-specific settings (``merge_lora``, ``tensor_parallel_size``); a setting the backend
            does not take must have its neutral value (``tensor_parallel_size=1``, ``merge_lora`` anything).

    Raises:
        ValueError: unknown backend name, or an option the backend cannot honour.
    """
    cls = BACKENDS.get(name)
    accepted = {key: value for key, value in options.items() if key in cls.options}
    for key, value in options.items():
        if key not in cls.options and value not in cls.neutral_options.get(key, (value,)):
            raise ValueError(
                f"synthesize.{key}: the {name} backend does not support {key}={value!r} "
                f"(its options: {list(cls.options) or 'none'})"
            )
    return cls(base_model_dir, adapters=adapters, dtype=dtype, batch_size=batch_size, **accepted)
