"""The ``prepare`` stage: target-language anchors and the XL-LoRA SFT sets.

* Anchors: target-language sentences that will be paired with synthetic positives / hard negatives. Default
  source: FLORES-200 ``dev``; every sentence that an evaluation set also holds (FLORES-200 ``devtest``, SIB-200
  ``dev``/``test``, SemRel ``test``, Tatoeba) is removed by :class:`~bootembed.data.contamination.ContaminationGuard`,
  and the result is checked again before it is written.
* XL-LoRA SFT sets (arXiv 2603.01732, Sec. 3.3): the reference implementation's parallel pairs, non-English premise
  -> English entailment (positive adapter) / contradiction (negative adapter), as prompt/completion examples.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import polars as pl

from bootembed.data import DataSources
from bootembed.data.contamination import ContaminationGuard
from bootembed.data.flores import load_flores
from bootembed.data.semrel import load_semrel, semrel_splits
from bootembed.data.xllora import load_xllora_pairs
from bootembed.prompts import POLARITIES, PromptExample, xllora_example

__all__ = ["ANCHOR_SCHEMA", "build_anchors", "build_xllora_sft"]

logger = logging.getLogger(__name__)

#: Columns of ``anchors.parquet``.
ANCHOR_SCHEMA = {
    "anchor_id": pl.Int64,
    "anchor": pl.String,
    "language": pl.String,
    "source": pl.String,
}


def _candidate_anchors(sources: DataSources, lang: str, anchor_source: str) -> list[str]:
    if anchor_source == "flores_dev":
        return load_flores(sources, lang, "dev")
    if anchor_source == "semrel_train":
        if "train" not in semrel_splits(sources, lang):
            raise ValueError(f"prepare.anchor_source: SemRel 2024 has no 'train' split for {lang}")
        sentences: list[str] = []
        for pair in load_semrel(sources, lang, "train"):
            sentences.extend((pair.sentence1, pair.sentence2))
        return sentences
    raise ValueError(
        f"prepare.anchor_source: expected 'flores_dev' or 'semrel_train', got {anchor_source!r}"
    )


def build_anchors(
    sources: DataSources,
    lang: str,
    *,
    anchor_source: str = "flores_dev",
    max_anchors: int = 400,
    seed: int = 42,
    guard: ContaminationGuard | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Select contamination-free, de-duplicated target-language anchors.

    Args:
        sources: data sources.
        lang: FLORES-200 code, e.g. ``hau_Latn``.
        anchor_source: ``"flores_dev"`` or ``"semrel_train"``.
        max_anchors: keep at most this many (a seeded random sample, then sorted by original position).
        seed: sampling seed.
        guard: contamination guard (built for ``lang`` if omitted).

    Returns:
        ``(frame, counts)``: the frame has :data:`ANCHOR_SCHEMA` columns, one row per anchor; counts give
        ``candidates``, ``contaminated``, ``duplicates`` and ``anchors``.

    Raises:
        ContaminationError: an evaluation sentence slipped through (never expected; a hard stop).
        ValueError: unknown anchor source, or no anchor left.
    """
    guard = guard or ContaminationGuard.for_language(sources, lang)
    candidates = [" ".join(s.split()) for s in _candidate_anchors(sources, lang, anchor_source)]
    kept, dropped = guard.filter(candidates)
    seen: set[str] = set()
    unique: list[str] = []
    for sentence in kept:
        if sentence and sentence not in seen:
            seen.add(sentence)
            unique.append(sentence)
    if not unique:
        raise ValueError(f"prepare: no anchor left for {lang} from {anchor_source} after filtering")
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(unique)), min(max_anchors, len(unique))))
    anchors = [unique[i] for i in picked]
    guard.check(anchors, what=f"anchors for {lang}")
    frame = pl.DataFrame(
        {
            "anchor_id": list(range(len(anchors))),
            "anchor": anchors,
            "language": [lang] * len(anchors),
            "source": [anchor_source] * len(anchors),
        },
        schema=ANCHOR_SCHEMA,
    )
    counts = {
        "candidates": len(candidates),
        "contaminated": len(dropped),
        "duplicates": len(kept) - len(unique),
        "anchors": len(anchors),
    }
    logger.info("anchors for %s: %s", lang, counts)
    return frame, counts


def build_xllora_sft(
    sources: DataSources,
    *,
    num_examples: int,
    max_chars: int = 300,
    seed: int = 42,
    guard: ContaminationGuard | None = None,
    polarities: Sequence[str] = POLARITIES,
) -> dict[str, list[PromptExample]]:
    """Sample XL-LoRA SFT examples from the reference pairs (arXiv 2603.01732, Sec. 3.3).

    Args:
        sources: data sources.
        num_examples: examples per polarity (fewer if the data has fewer usable pairs).
        max_chars: drop pairs whose premise or hypothesis is longer (characters).
        seed: sampling seed.
        guard: if given, pairs whose premise or hypothesis is an evaluation sentence are dropped.
        polarities: which adapters to build sets for.

    Returns:
        ``{"positive": [...], "negative": [...]}`` of :class:`~bootembed.prompts.PromptExample`.
    """
    result: dict[str, list[PromptExample]] = {}
    for offset, polarity in enumerate(polarities):
        pairs = load_xllora_pairs(sources, polarity)
        usable = [
            p
            for p in pairs
            if p.premise.strip()
            and p.hypothesis.strip()
            and len(p.premise) <= max_chars
            and len(p.hypothesis) <= max_chars
            and not (guard and (guard.is_blocked(p.premise) or guard.is_blocked(p.hypothesis)))
        ]
        rng = random.Random(seed + offset)
        picked = sorted(rng.sample(range(len(usable)), min(num_examples, len(usable))))
        result[polarity] = [
            xllora_example(usable[i].premise, usable[i].hypothesis, polarity) for i in picked
        ]
        logger.info(
            "XL-LoRA %s SFT set: %d of %d pairs", polarity, len(result[polarity]), len(pairs)
        )
    return result
