"""ICL prompting (arXiv 2603.01732, Sec. 3.1): the base generator, few-shot prompts with SICK exemplars.

No adapter is trained. The generator folder ``models/generators/icl/<language>/`` holds the exemplar pool
(``exemplars.parquet``: SICK TEST premise / entailment / contradiction triplets, written by ``prepare_english``
and copied by the ``icl_generator`` stage); each anchor's prompt shows ``icl.num_shots`` of them above the anchor
and asks for a target-language entailment (positive) or contradiction (hard negative).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from bootembed.io import atomic_dir
from bootembed.prompts import IclExemplar, icl_prompt
from bootembed.schema import Section
from bootembed.stage_spec import StageSpec
from bootembed.strategies.base import PromptBuilder, SyntheticStrategy

__all__ = ["STRATEGY", "IclParams", "IclStrategy", "icl_exemplars"]

EXEMPLARS = "exemplars.parquet"


class IclParams(Section):
    """The ``icl`` params section.

    Attributes:
        num_shots: exemplar (premise, entailment, contradiction) triplets from SICK per prompt.
        exemplar_sampling: ``"per_anchor"`` (a seeded sample per anchor) or ``"fixed"`` (the same exemplars
            for every anchor).
        instruction: instruction text above the exemplars, in any language; ``{label}`` (entailment /
            contradiction), ``{definition}`` and ``{language}`` (name of the target language) are filled in.
        pool_size: SICK TEST triplets the exemplars are drawn from.
    """

    num_shots: int = Field(ge=0, le=16)
    exemplar_sampling: Literal["per_anchor", "fixed"]
    instruction: str
    pool_size: int = Field(ge=1, le=100_000)

    @field_validator("instruction")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(label="x", definition="y", language="z")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "expected text with only the placeholders {label}, {definition}, {language}, "
                f"got {value!r}"
            ) from None
        return value

    @model_validator(mode="after")
    def _enough_exemplars(self) -> IclParams:
        if self.pool_size < self.num_shots:
            raise ValueError(
                f"pool_size: expected >= icl.num_shots ({self.num_shots}), got {self.pool_size}"
            )
        return self


def icl_exemplars(frame: pl.DataFrame) -> list[IclExemplar]:
    """Read the exemplar pool (a triplet frame with ``anchor``, ``positive``, ``negative``; e.g. SICK).

    Raises:
        ValueError: a column is missing or the pool is empty.
    """
    missing = {"anchor", "positive", "negative"} - set(frame.columns)
    if missing:
        raise ValueError(f"ICL exemplars: missing column(s) {sorted(missing)}")
    if frame.height == 0:
        raise ValueError("ICL exemplars: the pool is empty")
    return [
        IclExemplar(r["anchor"], r["positive"], r["negative"])
        for r in frame.select("anchor", "positive", "negative").to_dicts()
    ]


def icl_prompt_builder(
    icl: IclParams, *, language: str, exemplars: pl.DataFrame, seed: int
) -> PromptBuilder:
    """The ICL prompt builder (arXiv 2603.01732, Sec. 3.1).

    Each anchor gets ``icl.num_shots`` exemplars: a sample seeded by ``(seed, anchor_id)``
    (``exemplar_sampling: per_anchor``) or the same seeded sample for every anchor (``fixed``); the positive and
    the negative prompt of one anchor share their exemplars, so the two differ only in the requested relation.

    Raises:
        ValueError: too few exemplars for ``num_shots``, or a malformed pool.
    """
    pool = icl_exemplars(exemplars)
    if len(pool) < icl.num_shots:
        raise ValueError(
            f"icl.num_shots: {icl.num_shots} exemplars requested, the pool has {len(pool)}"
        )
    fixed = random.Random(seed).sample(pool, icl.num_shots)

    def build(row: Mapping[str, object], polarity: str) -> str:
        if icl.exemplar_sampling == "fixed":
            shots = fixed
        else:
            shots = random.Random(seed * 1_000_003 + int(row["anchor_id"])).sample(  # type: ignore[call-overload]
                pool, icl.num_shots
            )
        return icl_prompt(
            str(row["anchor"]), polarity, shots, language=language, instruction=icl.instruction
        )

    return build


class IclStrategy(SyntheticStrategy):
    """Few-shot prompting of the base generator; target-language positives and negatives."""

    name = "icl"
    order = 30
    paper = "arXiv 2603.01732, Sec. 3.1"
    description = "base generator, few-shot prompt with SICK exemplars -> target-language entailment / contradiction"
    params_model = IclParams
    adapters = {"positive": None, "negative": None}

    def output_language(self, language: str) -> str:
        return language

    def prompt_builder(self, params: Any, language: str, generator_dir: Path) -> PromptBuilder:
        return icl_prompt_builder(
            params.icl,
            language=language,
            exemplars=pl.read_parquet(Path(generator_dir) / EXEMPLARS),
            seed=params.seed,
        )

    def build_generator(
        self, params: Any, language: str, inputs: Mapping[str, Path], out_dir: Path
    ) -> dict[str, object]:
        """Write the ICL generator folder: the exemplar pool (``inputs["pool"]``) as ``exemplars.parquet``.

        Raises:
            KeyError: no ``pool`` input.
            ValueError: a malformed pool.
        """
        pool = Path(inputs["pool"])
        count = len(icl_exemplars(pl.read_parquet(pool)))
        with atomic_dir(out_dir) as tmp:
            shutil.copyfile(pool, tmp / EXEMPLARS)
        return {"exemplars": count}

    def stages(self) -> list[StageSpec]:
        return [
            StageSpec(
                name="icl_generator",
                module="build_generator",
                matrix={"language": "${languages}"},
                cmd="build-generator --strategy icl --language ${item.language} "
                "--input pool=data/prepared/english/icl_exemplars.parquet "
                "--out models/generators/icl/${item.language} "
                "--metrics metrics/generators/icl/${item.language}.json",
                deps=("data/prepared/english/icl_exemplars.parquet",),
                outs=("models/generators/icl/${item.language}",),
                metrics=("metrics/generators/icl/${item.language}.json",),
                comment="ICL (Sec. 3.1): the exemplar pool of the base generator's few-shot prompts",
            )
        ]


STRATEGY = IclStrategy()
