"""The generation backend interface shared by every synthesis strategy.

A backend loads the base causal LM once, with any number of named LoRA adapters, and turns prompts into raw
continuations. Strategies (XL-LoRA, adapter composition, ICL) only build prompts and parse outputs
(:mod:`bootembed.prompts`); which engine runs them is a parameter (``synthesize.backend``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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

    #: Short engine name recorded with every output (``"transformers"``).
    name: str = ""

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
    dtype: str = "auto",
    batch_size: int = 16,
    merge_lora: bool = False,
    tensor_parallel_size: int = 1,
) -> GenerationBackend:
    """Create the backend called ``name``: ``"transformers"`` or ``"vllm"``.

    Args:
        name: engine name (``synthesize.backend``).
        base_model_dir: transformers folder of the base causal LM.
        adapters: adapter name -> peft LoRA folder.
        dtype: ``"auto"``, ``"float32"`` or ``"bfloat16"``.
        batch_size: prompts per batch (transformers) / concurrent sequences (vLLM ``max_num_seqs``).
        merge_lora: transformers only: merge each adapter into its own copy of the base weights.
        tensor_parallel_size: vLLM only: GPUs one engine is split over.

    Raises:
        ValueError: unknown backend name, or ``tensor_parallel_size > 1`` with the transformers backend.
    """
    if name == "transformers" and tensor_parallel_size != 1:
        raise ValueError(
            "synthesize.tensor_parallel_size: the transformers backend runs on one device; "
            f"expected 1, got {tensor_parallel_size} (use backend 'vllm')"
        )
    if name == "transformers":
        from bootembed.generation.transformers_backend import TransformersBackend

        return TransformersBackend(
            base_model_dir,
            adapters=adapters,
            dtype=dtype,
            batch_size=batch_size,
            merge_lora=merge_lora,
        )
    if name == "vllm":
        from bootembed.generation.vllm_backend import VLLMBackend

        return VLLMBackend(
            base_model_dir,
            adapters=adapters,
            dtype=dtype,
            batch_size=batch_size,
            tensor_parallel_size=tensor_parallel_size,
        )
    raise ValueError(f"synthesize.backend: expected 'transformers' or 'vllm', got {name!r}")
