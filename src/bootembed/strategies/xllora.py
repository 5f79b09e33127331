"""XL-LoRA (arXiv 2603.01732, Sec. 3.3): generators trained on non-English premise -> English hypothesis.

A positive and a negative LoRA are trained on the reference implementation's pairs (14 XNLI languages, non-English
premise -> English entailment / contradiction) plus FLORES-200 ``dev`` pairs of the target language whose English
side the English task adapters labelled, with the premise swapped back to the target language (the augmentation,
:mod:`bootembed.augment`). At synthesis time the adapters read a target-language anchor and write an English
positive and hard negative: the generator never has to write the low-resource language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from bootembed.prompts import POLARITIES, xllora_prompt
from bootembed.schema import Section
from bootembed.stage_spec import LIVE_ROOT, StageSpec, live_outputs
from bootembed.strategies.base import ENGLISH, PromptBuilder, SyntheticStrategy

__all__ = ["STRATEGY", "XlloraParams", "XlloraStrategy"]


class XlloraParams(Section):
    """The ``xllora`` params section: the generators' training data (built by ``prepare@<language>``).

    Attributes:
        sft_examples: prompt/completion examples per adapter, sampled from the reference pairs.
        max_sft_chars: drop reference pairs whose premise or hypothesis is longer than this (characters).
        augment_pairs: FLORES-200 ``dev`` parallel pairs (target, English), disjoint from the anchors, labelled by
            the task adapters for the augmentation; 0 trains on the reference pairs only.
    """

    sft_examples: int = Field(ge=1, le=100_000)
    max_sft_chars: int = Field(ge=10, le=10_000)
    augment_pairs: int = Field(ge=0, le=100_000)


class XlloraStrategy(SyntheticStrategy):
    """Cross-lingual LoRA generators; English positives and negatives for target-language anchors."""

    name = "xllora"
    order = 50
    params_model = XlloraParams
    paper = "arXiv 2603.01732, Sec. 3.3"
    description = (
        "LoRA generators trained on non-English premise -> English hypothesis (reference pairs ∪ FLORES-200 "
        "dev pairs labelled by the task adapters) -> English positive / negative"
    )

    def output_language(self, language: str) -> str:
        return ENGLISH

    def prompt_builder(self, params: Any, language: str, generator_dir: Path) -> PromptBuilder:
        return lambda row, polarity: xllora_prompt(str(row["anchor"]), polarity)

    def stages(self) -> list[StageSpec]:
        base = "models/base/generator"
        live = f"{LIVE_ROOT}/train_generator/xllora_${{item.language}}"
        live_outs, live_plots = live_outputs(live, POLARITIES)
        return [
            StageSpec(
                name="augment",
                module="augment",
                matrix={"language": "${languages}"},
                cmd="augment --language ${item.language} --task-adapters models/adapters/task "
                "--pairs data/prepared/${item.language}/augment_pairs.parquet "
                "--out-dir data/augmented/${item.language} --metrics metrics/augment/${item.language}.json",
                deps=(
                    base,
                    "models/adapters/task",
                    "data/prepared/${item.language}/augment_pairs.parquet",
                ),
                code=("src/bootembed/generation",),
                params=("seed", "synthesize"),
                outs=("data/augmented/${item.language}",),
                metrics=("metrics/augment/${item.language}.json",),
                comment="XL-LoRA (Sec. 3.3): task adapters label the English side of FLORES pairs; "
                "the premise swaps back to the target",
            ),
            StageSpec(
                name="train_xllora",
                module="train_generator",
                matrix={"language": "${languages}"},
                cmd="train-generator --sft data/prepared/${item.language} --sft data/augmented/${item.language} "
                "--out-dir models/generators/xllora/${item.language} "
                "--metrics metrics/train_generator/xllora_${item.language}.json "
                f"--live-dir {live}",
                deps=(
                    base,
                    "data/prepared/${item.language}/sft_positive.jsonl",
                    "data/prepared/${item.language}/sft_negative.jsonl",
                    "data/augmented/${item.language}",
                ),
                params=("seed", "train_generator"),
                outs=("models/generators/xllora/${item.language}", *live_outs),
                metrics=("metrics/train_generator/xllora_${item.language}.json",),
                plots=live_plots,
                comment="XL-LoRA: positive and negative generators on reference pairs ∪ augmentation",
            ),
        ]


STRATEGY = XlloraStrategy()
