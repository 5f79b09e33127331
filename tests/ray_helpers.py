"""Backends for the Ray tests, importable by Ray's worker processes (``tests/`` is on their ``PYTHONPATH``).

Only :mod:`bootembed.generation.base` is imported at the top, so an actor that needs no model starts fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bootembed.generation.base import GenerationBackend, SamplingConfig


def flaky_transformers_backend(*args: Any, fail_on: str, healed: str, **kwargs: Any) -> Any:
    """The transformers backend, failing on any batch that holds ``fail_on`` until the file ``healed`` exists (a
    replica lost mid-run). Its settings, and so the resume manifest, are those of the plain backend."""
    from bootembed.generation.transformers_backend import TransformersBackend

    class Flaky(TransformersBackend):
        def generate(
            self, prompts: Sequence[str], *, adapter: str | None, sampling: SamplingConfig
        ) -> list[str]:
            if not Path(healed).exists() and any(fail_on in p for p in prompts):
                raise RuntimeError(f"replica lost while generating {fail_on!r}")
            return super().generate(prompts, adapter=adapter, sampling=sampling)

    return Flaky(*args, **kwargs)


class SettingsByPid(GenerationBackend):
    """A backend (no model) whose settings differ between processes, as engines of mixed versions would."""

    name = "fake"

    @property
    def adapters(self) -> tuple[str, ...]:
        return ()

    def generate(
        self, prompts: Sequence[str], *, adapter: str | None, sampling: SamplingConfig
    ) -> list[str]:
        return list(prompts)

    def settings(self) -> dict[str, object]:
        return {**super().settings(), "pid": os.getpid()}
