"""The interface of one step of the quality-filter chain (:mod:`bootembed.filters`), and what the chain gives it.

A step is one module of :mod:`bootembed.filters` holding one :class:`TripletFilter` instance called ``FILTER``, in
the shape of the strategy registry: its params section (:attr:`TripletFilter.params_model`, ``filter.<name>`` in
``params.yaml``, always with ``enabled``), the reasons it drops rows for, and :meth:`TripletFilter.apply`, which
marks the rows it drops among those still in the chain (:class:`Rows`) and may replace their hard negatives (the
mining step). :func:`bootembed.filtering.run_chain` runs the steps in ``order`` and counts every input row once.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from bootembed.schema import Section

__all__ = [
    "ABLATION_VARIANTS",
    "ChainParams",
    "FilterContext",
    "Rows",
    "StepParams",
    "StepResult",
    "TripletFilter",
]

logger = logging.getLogger(__name__)

#: The ablation's extra training sets (``filter.ablation``): ``unfiltered`` (every step off) and ``mined`` (every
#: step as configured, every hard negative mined).
ABLATION_VARIANTS: tuple[str, ...] = ("unfiltered", "mined")


class StepParams(Section):
    """The params every step has.

    Attributes:
        enabled: run the step (``false``: every row passes it untouched).
    """

    enabled: bool


class ChainParams(Section):
    """The ``filter`` section: the chain's own fields, then one section per step (:data:`bootembed.filters.FILTERS`).

    Attributes:
        samples: dropped rows per reason written to the filter report's sample Parquet (a seeded draw; 0 = none).
        ablation: extra training sets, each with its own encoders (one per ``train_encoder.seeds``) evaluated like
            the strategies: ``unfiltered`` (no step) and ``mined`` (the chain with every hard negative mined);
            ``[]`` (default) adds no stage to the run.
    """

    samples: int = Field(ge=0, le=100_000)
    ablation: Annotated[tuple[Literal["unfiltered", "mined"], ...], Field(strict=False)]

    @field_validator("ablation")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct variants, got {list(value)}")
        return value


@dataclass(frozen=True)
class Rows:
    """The rows still in the chain when a step runs: every field a non-blank string.

    Attributes:
        anchor: N anchors (target language).
        positive: N positives.
        negatives: N tuples of hard negatives (the generated one; one or more mined ones after the mining step).
        positive_raw: N raw generations of the positives (``positive_raw`` column), ``None`` where unknown.
        negative_raw: N raw generations of the generated negatives, ``None`` where unknown.
    """

    anchor: tuple[str, ...]
    positive: tuple[str, ...]
    negatives: tuple[tuple[str, ...], ...]
    positive_raw: tuple[str | None, ...] | None = None
    negative_raw: tuple[str | None, ...] | None = None

    def __len__(self) -> int:
        return len(self.anchor)


@dataclass
class StepResult:
    """What a step says about the N rows it was given.

    Attributes:
        reasons: N entries: ``None`` (kept) or the step's reason for dropping the row (one of its ``reasons``).
        negatives: the rows' hard negatives after the step (N tuples; a kept row needs at least one), or ``None``
            when the step does not change them.
        stats: numbers for the filter report (e.g. how many negatives were mined).
    """

    reasons: list[str | None]
    negatives: list[tuple[str, ...]] | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class FilterContext:
    """What the chain knows beyond the rows: the languages asked for and the base encoder.

    Attributes:
        language: FLORES-200 code of the target language (the anchors' language).
        output_language: FLORES-200 code of the language the strategy writes positives and negatives in.
        encoder: the base encoder (a sentence-transformers folder or a loaded model), for steps that embed; ``None``
            when no enabled step needs it.
        prompt: text prepended to every text before embedding (the encoder's training prompt, ``"query: "``).
        batch_size: encoding batch size.
        seed: seed of every random choice of the chain (MinHash permutations, mined-negative sampling, samples).
        dtype: encoding dtype (``float32`` or ``bfloat16``).
        mining: the ``mining`` params (:class:`bootembed.config.MiningParams`), for the mining step.
    """

    language: str
    output_language: str
    encoder: str | Path | Any | None = None
    prompt: str | None = None
    batch_size: int = 32
    seed: int = 42
    dtype: str = "float32"
    mining: Any = None
    _model: Any = field(default=None, init=False, repr=False)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def model(self, step: str) -> Any:  # noqa: ANN401 - a SentenceTransformer
        """The base encoder, loaded once.

        Raises:
            ValueError: no encoder was given (naming ``step``, the step that needs it).
        """
        if self._model is None:
            if self.encoder is None:
                raise ValueError(
                    f"filter.{step}: needs the base encoder (the filter command's --encoder)"
                )
            if isinstance(self.encoder, (str, Path)):
                from sentence_transformers import SentenceTransformer

                from bootembed.hardware import torch_dtype

                logger.info("filter chain: loading the base encoder from %s", self.encoder)
                model = SentenceTransformer(str(self.encoder), local_files_only=True)
                if self.dtype != "float32":
                    model = model.to(torch_dtype(self.dtype))
                self._model = model
            else:
                self._model = self.encoder
        return self._model

    def embed(self, texts: Sequence[str], step: str) -> np.ndarray:
        """Unit-length embeddings of ``texts`` (shape ``(len(texts), dim)``, float32), each text encoded once.

        Raises:
            ValueError: no encoder was given.
        """
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            vectors = self.model(step).encode(
                todo,
                batch_size=self.batch_size,
                prompt=self.prompt or "",
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for text, vector in zip(todo, np.asarray(vectors, dtype=np.float32), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


class TripletFilter(abc.ABC):
    """One step of the chain.

    Attributes:
        name: registry name = module name = params section name (``filter.<name>``).
        order: position in the chain (lower runs first).
        reasons: the drop reasons the step counts, in report order.
        params_model: the pydantic model of ``filter.<name>`` (a :class:`StepParams`).
        description: one line for the report and the README.
        source: where the method comes from (paper + section, or library).
    """

    name: ClassVar[str]
    order: ClassVar[int]
    reasons: ClassVar[tuple[str, ...]]
    params_model: ClassVar[type[StepParams]]
    description: ClassVar[str]
    source: ClassVar[str]

    def active(self, section: Any) -> bool:  # noqa: ANN401 - the step's params section
        """Whether the step runs with these params (``enabled``)."""
        return bool(section.enabled)

    @abc.abstractmethod
    def apply(self, rows: Rows, section: Any, context: FilterContext) -> StepResult:  # noqa: ANN401
        """Mark the rows the step drops.

        Args:
            rows: the N rows still in the chain.
            section: the step's validated params section.
            context: languages, encoder and seed.

        Returns:
            A :class:`StepResult` with N reasons.
        """
