"""Adapter composition (arXiv 2603.01732, Sec. 3.2): English task adapters merged with language adapters.

The English task LoRAs (SICK premise -> entailment / contradiction, asking for the premise's language) are merged
with a target-language LoRA (causal LM on FLORES-200 ``dev``) and, for AdaMergeX (Zhao et al. 2024,
arXiv 2402.18913), minus an English language LoRA: ``task + λ·(lang_target − lang_English)``, with peft
``add_weighted_adapter``. The composed adapters in ``models/generators/composition/<language>/{positive,negative}``
then write target-language positives and negatives from :func:`~bootembed.prompts.task_prompt`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bootembed.prompts import task_prompt
from bootembed.schema import FloresCode, Section
from bootembed.stage_spec import LIVE_ROOT, StageSpec, live_outputs
from bootembed.strategies.base import PromptBuilder, SyntheticStrategy

__all__ = ["STRATEGY", "CompositionParams", "CompositionStrategy", "composition_weights"]


class CompositionParams(Section):
    """The ``composition`` params section (peft ``add_weighted_adapter``).

    The composed LoRA is ``task_weight * task + language_weight * language(target) + reference_weight *
    language(reference_language)``. With ``reference_weight = -language_weight`` this is AdaMergeX; ``0`` is plain
    addition of a language and a task adapter.

    Attributes:
        combination_type: ``cat`` (exact weighted sum of the LoRA deltas), ``linear`` or ``svd``.
        task_weight: weight of the English task adapter.
        language_weight: weight of the target-language adapter.
        reference_weight: weight of the reference-language adapter.
        reference_language: FLORES-200 code of the language the task adapters were trained in.
    """

    combination_type: Literal["cat", "linear", "svd"]
    task_weight: float = Field(ge=-100.0, le=100.0)
    language_weight: float = Field(ge=-100.0, le=100.0)
    reference_weight: float = Field(ge=-100.0, le=100.0)
    reference_language: FloresCode


def composition_weights(
    section: CompositionParams, task: Path, language: Path, reference: Path
) -> tuple[dict[str, Path], dict[str, float]]:
    """Adapters and weights of one composition: task + language (+ reference unless its weight is 0).

    Returns:
        ``(adapters, weights)``: name -> adapter folder, name -> weight, for
        :func:`bootembed.composition.compose_adapters`.
    """
    adapters = {"task": task, "language": language}
    weights = {"task": section.task_weight, "language": section.language_weight}
    if section.reference_weight != 0:
        adapters["reference"] = reference
        weights["reference"] = section.reference_weight
    return adapters, weights


class CompositionStrategy(SyntheticStrategy):
    """Composed task + language adapters; target-language positives and negatives."""

    name = "composition"
    order = 40
    paper = "arXiv 2603.01732, Sec. 3.2 (AdaMergeX, arXiv 2402.18913)"
    description = (
        "English task LoRAs (SICK) merged with a target-language LoRA minus an English language LoRA "
        "(peft add_weighted_adapter) -> target-language entailment / contradiction"
    )
    params_model = CompositionParams

    def output_language(self, language: str) -> str:
        return language

    def prompt_builder(self, params: Any, language: str, generator_dir: Path) -> PromptBuilder:
        return lambda row, polarity: task_prompt(str(row["anchor"]), polarity)

    def stages(self) -> list[StageSpec]:
        base = "models/base/generator"
        reference_live = f"{LIVE_ROOT}/train_generator/language_reference"
        reference_outs, reference_plots = live_outputs(reference_live)
        language_live = f"{LIVE_ROOT}/train_generator/language_${{item.language}}"
        language_outs, language_plots = live_outputs(language_live)
        return [
            StageSpec(
                name="train_reference_adapter",
                module="train_generator",
                cmd="train-language-adapter --text data/prepared/english/lm_text.jsonl "
                "--out models/adapters/language/reference "
                "--metrics metrics/train_generator/language_reference.json "
                f"--live-dir {reference_live}",
                deps=(base, "data/prepared/english/lm_text.jsonl"),
                params=("seed", "train_generator"),
                outs=("models/adapters/language/reference", *reference_outs),
                metrics=("metrics/train_generator/language_reference.json",),
                plots=reference_plots,
                comment="composition (Sec. 3.2): the English (reference) language LoRA, causal LM on FLORES-200 dev",
            ),
            StageSpec(
                name="train_language_adapter",
                module="train_generator",
                matrix={"language": "${languages}"},
                cmd="train-language-adapter --text data/prepared/${item.language}/lm_text.jsonl "
                "--out models/adapters/language/${item.language} "
                "--metrics metrics/train_generator/language_${item.language}.json "
                f"--live-dir {language_live}",
                deps=(base, "data/prepared/${item.language}/lm_text.jsonl"),
                params=("seed", "train_generator"),
                outs=("models/adapters/language/${item.language}", *language_outs),
                metrics=("metrics/train_generator/language_${item.language}.json",),
                plots=language_plots,
                comment="composition: the target-language LoRA",
            ),
            StageSpec(
                name="compose",
                module="compose",
                matrix={"language": "${languages}"},
                cmd="compose --language ${item.language} --task-adapters models/adapters/task "
                "--language-adapter models/adapters/language/${item.language} "
                "--reference-adapter models/adapters/language/reference "
                "--out-dir models/generators/composition/${item.language} "
                "--metrics metrics/compose/${item.language}.json",
                deps=(
                    base,
                    "models/adapters/task",
                    "models/adapters/language/${item.language}",
                    "models/adapters/language/reference",
                ),
                params=("composition",),
                outs=("models/generators/composition/${item.language}",),
                metrics=("metrics/compose/${item.language}.json",),
                comment="composition: task ⊕ language ⊖ reference (AdaMergeX), one LoRA per polarity",
            ),
        ]


STRATEGY = CompositionStrategy()
