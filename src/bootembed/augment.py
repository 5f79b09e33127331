"""XL-LoRA training-data augmentation from parallel data (arXiv 2603.01732, Sec. 3.3).

For FLORES-200 parallel pairs (target sentence, English sentence) the English task adapters write an English
entailment and contradiction *of the English side*; the premise is then swapped back to the target-language side,
giving new (target premise -> English hypothesis) examples for the XL-LoRA generators, trained on the union with
the reference pairs.
"""

from __future__ import annotations

import logging

import polars as pl

from bootembed.prompts import POLARITIES, PromptExample, xllora_example
from bootembed.text import copy_key

__all__ = ["augmentation_examples"]

logger = logging.getLogger(__name__)


def augmentation_examples(
    pairs: pl.DataFrame, generated: pl.DataFrame
) -> tuple[dict[str, list[PromptExample]], dict[str, dict[str, int]]]:
    """Swap the anchor of generated English hypotheses back to the target-language premise.

    Args:
        pairs: N parallel pairs with ``source_index`` (unique), ``premise`` (target language) and ``english``.
        generated: triplets generated for the English side: ``anchor_id`` = ``source_index``, ``positive`` and
            ``negative`` (parsed English hypotheses, null when unparseable).

    Returns:
        ``(examples, counts)``: ``examples[polarity]`` are XL-LoRA SFT examples (target premise -> English
        hypothesis) in pair order; ``counts[polarity]`` gives ``kept``, ``unparseable`` and ``copy_of_premise``
        (a hypothesis equal to its English premise, ignoring case and punctuation, teaches nothing and is dropped).

    Raises:
        ValueError: missing columns, or a generated row whose ``anchor_id`` is not a pair's ``source_index``.
    """
    for name, frame, columns in (
        ("pairs", pairs, {"source_index", "premise", "english"}),
        ("generated", generated, {"anchor_id", "positive", "negative"}),
    ):
        missing = columns - set(frame.columns)
        if missing:
            raise ValueError(f"{name}: missing column(s) {sorted(missing)}")
    by_index = {r["source_index"]: r for r in pairs.to_dicts()}
    examples: dict[str, list[PromptExample]] = {p: [] for p in POLARITIES}
    counts = {p: {"kept": 0, "unparseable": 0, "copy_of_premise": 0} for p in POLARITIES}
    for row in generated.to_dicts():
        pair = by_index.get(row["anchor_id"])
        if pair is None:
            raise ValueError(
                f"generated: anchor_id {row['anchor_id']} is not a pair's source_index"
            )
        for polarity in POLARITIES:
            hypothesis = row[polarity]
            if hypothesis is None or not hypothesis.strip():
                counts[polarity]["unparseable"] += 1
            elif copy_key(hypothesis) == copy_key(pair["english"]):
                counts[polarity]["copy_of_premise"] += 1
            else:
                examples[polarity].append(xllora_example(pair["premise"], hypothesis, polarity))
                counts[polarity]["kept"] += 1
    logger.info("XL-LoRA augmentation: %s", counts)
    return examples, counts
