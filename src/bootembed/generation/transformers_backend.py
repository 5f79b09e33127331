"""Batched Hugging Face transformers generation with peft LoRA adapters (CPU or GPU)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from bootembed.generation.base import GenerationBackend, SamplingConfig
from bootembed.hardware import resolve_dtype as resolve_hw_dtype

__all__ = ["BACKEND", "TransformersBackend", "resolve_dtype"]

logger = logging.getLogger(__name__)


def resolve_dtype(dtype: str) -> torch.dtype:
    """``"float32"`` / ``"bfloat16"`` -> torch dtype; ``"auto"`` -> :func:`bootembed.hardware.resolve_dtype` of the
    synthesis step without a measurement (float32 unless the params say otherwise).

    Raises:
        ValueError: another value.
    """
    return resolve_hw_dtype("synthesis", dtype, field_name="synthesize.dtype").torch_dtype


def _count_generated(new_tokens: torch.Tensor, stop_ids: torch.Tensor) -> int:
    """Generated tokens in a ``(batch, steps)`` block: each row up to and including its first stop id."""
    if new_tokens.numel() == 0:
        return 0
    is_stop = torch.isin(new_tokens, stop_ids)
    first_stop = is_stop.int().argmax(dim=1)
    steps = new_tokens.shape[1]
    lengths = torch.where(is_stop.any(dim=1), first_stop + 1, torch.full_like(first_stop, steps))
    return int(lengths.sum())


class TransformersBackend(GenerationBackend):
    """Generation with ``model.generate`` on batches sorted by prompt length, left-padded.

    The base model is loaded once; LoRA adapters are attached with peft under their names and switched per call
    (``adapter=None`` runs the base model with adapters disabled). With ``merge_lora`` every adapter is instead
    merged into its own copy of the base weights (``merge_and_unload``): decoding then costs the same as the
    base model (the unmerged LoRA branch about halves CPU throughput), at one model copy per adapter.
    Generation stops at EOS or at a newline.

    Args:
        base_model_dir: transformers folder of the base causal LM.
        adapters: adapter name -> peft adapter folder.
        dtype: ``"float32"`` or ``"bfloat16"`` (``"auto"``: see :func:`resolve_dtype`).
        batch_size: prompts per ``generate`` call.
        merge_lora: merge adapters into copies of the base weights (see above).
    """

    name = "transformers"
    options = ("merge_lora",)

    def __init__(
        self, base_model_dir: str | Path, *, merge_lora: bool = False, **common: Any
    ) -> None:
        super().__init__(base_model_dir, **common)  # adapters, dtype, batch_size
        adapters = self.adapter_dirs
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(self.requested_dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=self.dtype)
        self._adapters: tuple[str, ...] = ()
        self._merged: dict[str, torch.nn.Module] = {}
        if adapters and merge_lora:
            from peft import PeftModel

            for adapter_name, adapter_dir in adapters.items():
                copy = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=self.dtype)
                merged = PeftModel.from_pretrained(copy, str(adapter_dir)).merge_and_unload()
                self._merged[adapter_name] = merged.to(self.device).eval()
            self._adapters = tuple(adapters)
        elif adapters:
            from peft import PeftModel

            items = list(adapters.items())
            first_name, first_dir = items[0]
            model = PeftModel.from_pretrained(model, str(first_dir), adapter_name=first_name)
            for adapter_name, adapter_dir in items[1:]:
                model.load_adapter(str(adapter_dir), adapter_name=adapter_name)
            self._adapters = tuple(name for name, _ in items)
        self.model = model.to(self.device).eval()
        self._stop_ids = self._stop_token_ids()
        logger.info(
            "transformers backend: %s on %s (%s), adapters=%s",
            base_model_dir,
            self.device,
            self.dtype,
            list(self._adapters),
        )

    def _stop_token_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        for text in ("\n", "\n\n"):
            encoded = self.tokenizer.encode(text, add_special_tokens=False)
            if len(encoded) == 1:
                ids.add(encoded[0])
        return sorted(i for i in ids if i is not None)

    @property
    def adapters(self) -> tuple[str, ...]:
        return self._adapters

    def settings(self) -> dict[str, object]:
        import transformers

        return {
            **super().settings(),
            "merge_lora": bool(self._merged),
            "device": str(self.device),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        }

    @contextlib.contextmanager
    def _use_adapter(self, adapter: str | None) -> Iterator[torch.nn.Module]:
        if self._merged:
            if adapter is not None and adapter not in self._merged:
                raise KeyError(f"adapter {adapter!r} is not loaded; loaded: {list(self._adapters)}")
            yield self._merged[adapter] if adapter is not None else self.model
            return
        if adapter is None:
            if self._adapters:
                with self.model.disable_adapter():
                    yield self.model
            else:
                yield self.model
            return
        if adapter not in self._adapters:
            raise KeyError(f"adapter {adapter!r} is not loaded; loaded: {list(self._adapters)}")
        self.model.set_adapter(adapter)
        yield self.model

    @torch.inference_mode()
    def generate(
        self, prompts: Sequence[str], *, adapter: str | None, sampling: SamplingConfig
    ) -> list[str]:
        prompts = list(prompts)
        if not prompts:
            return []
        lengths = [len(ids) for ids in self.tokenizer(prompts).input_ids]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        outputs: list[str] = [""] * len(prompts)
        kwargs: dict[str, object] = {
            "max_new_tokens": sampling.max_new_tokens,
            # The stop ids include the newline: forbid stopping before the first generated token, or a base
            # model that likes to open with a line break returns nothing.
            "min_new_tokens": 1,
            "do_sample": sampling.do_sample,
            "eos_token_id": self._stop_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if sampling.do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        stop_ids = torch.tensor(self._stop_ids, device=self.device)
        start = time.perf_counter()
        with self._use_adapter(adapter) as model:
            for batch in tqdm(
                batches, desc=f"generate[{adapter or 'base'}]", unit="batch", leave=False
            ):
                set_seed(sampling.seed + batch[0])
                enc = self.tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True)
                enc = enc.to(self.device)
                out = model.generate(**enc, **kwargs)
                new_tokens = out[:, enc["input_ids"].shape[1] :]
                self.generated_tokens += _count_generated(new_tokens, stop_ids)
                texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                for i, text in zip(batch, texts, strict=True):
                    outputs[i] = text
        self.generate_seconds += time.perf_counter() - start
        return outputs

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        self._merged = {}


#: The registry entry (:data:`bootembed.generation.BACKENDS`).
BACKEND = TransformersBackend
