"""The ``prepare`` stages: target-language anchors, generator training sets and the English (SICK) sets.

* Anchors: target-language sentences that will be paired with synthetic positives / hard negatives. Default
  source: FLORES-200 ``dev``; every sentence that an evaluation set also holds (FLORES-200 ``devtest``, SIB-200
  ``dev``/``test``, SemRel ``test``, Tatoeba) is removed by :class:`~bootembed.data.contamination.ContaminationGuard`,
  and the result is checked again before it is written.
* XL-LoRA SFT sets (arXiv 2603.01732, Sec. 3.3): the reference implementation's parallel pairs, non-English premise
  -> English entailment (positive adapter) / contradiction (negative adapter), as prompt/completion examples.
* XL-LoRA augmentation pairs (Sec. 3.3): FLORES-200 ``dev`` (target, English) lines, disjoint from the anchors;
  the English task adapters later write hypotheses for the English side.
* Language-adapter text (Sec. 3.2): contamination-free FLORES-200 ``dev`` sentences of one language.
* English task-adapter SFT sets (Sec. 3.2): SICK premise -> entailment / contradiction.
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
from bootembed.data.sick import load_sick
from bootembed.data.xllora import load_xllora_pairs
from bootembed.prompts import POLARITIES, PromptExample, lm_example, task_example, xllora_example
from bootembed.text import collapse_whitespace

__all__ = [
    "ANCHOR_SCHEMA",
    "AUGMENT_SCHEMA",
    "build_anchors",
    "build_augment_pairs",
    "build_lm_text",
    "build_task_sft",
    "build_xllora_sft",
]

logger = logging.getLogger(__name__)

#: Columns of ``anchors.parquet``.
ANCHOR_SCHEMA = {
    "anchor_id": pl.Int64,
    "anchor": pl.String,
    "language": pl.String,
    "source": pl.String,
    "source_index": pl.Int64,
}

#: Columns of ``augment_pairs.parquet``: FLORES-200 ``dev`` line, target side and English side.
AUGMENT_SCHEMA = {
    "source_index": pl.Int64,
    "premise": pl.String,
    "english": pl.String,
    "language": pl.String,
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


def _clean_unique(sentences: Sequence[str], guard: ContaminationGuard) -> list[tuple[int, str]]:
    """(line, sentence) of the non-empty, non-evaluation sentences, first occurrence of each."""
    seen: set[str] = set()
    unique: list[tuple[int, str]] = []
    for index, sentence in enumerate(sentences):
        if sentence and sentence not in seen and not guard.is_blocked(sentence):
            seen.add(sentence)
            unique.append((index, sentence))
    return unique


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
        ``(frame, counts)``: the frame has :data:`ANCHOR_SCHEMA` columns, one row per anchor (``source_index``:
        line of the sentence in the source, e.g. the FLORES-200 ``dev`` line whose English side is its
        translation); counts give ``candidates``, ``contaminated``, ``duplicates`` and ``anchors``.

    Raises:
        ContaminationError: an evaluation sentence slipped through (never expected; a hard stop).
        ValueError: unknown anchor source, or no anchor left.
    """
    guard = guard or ContaminationGuard.for_language(sources, lang)
    candidates = [collapse_whitespace(s) for s in _candidate_anchors(sources, lang, anchor_source)]
    unique = _clean_unique(candidates, guard)
    if not unique:
        raise ValueError(f"prepare: no anchor left for {lang} from {anchor_source} after filtering")
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(unique)), min(max_anchors, len(unique))))
    anchors = [unique[i] for i in picked]
    guard.check([text for _, text in anchors], what=f"anchors for {lang}")
    frame = pl.DataFrame(
        {
            "anchor_id": list(range(len(anchors))),
            "anchor": [text for _, text in anchors],
            "language": [lang] * len(anchors),
            "source": [anchor_source] * len(anchors),
            "source_index": [index for index, _ in anchors],
        },
        schema=ANCHOR_SCHEMA,
    )
    blocked = sum(1 for s in candidates if guard.is_blocked(s))
    counts = {
        "candidates": len(candidates),
        "contaminated": blocked,
        "duplicates": len(candidates) - blocked - len(unique),
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


def build_augment_pairs(
    sources: DataSources,
    lang: str,
    *,
    num_pairs: int,
    exclude_indices: Sequence[int] = (),
    seed: int = 42,
    guard: ContaminationGuard | None = None,
) -> pl.DataFrame:
    """Sample FLORES-200 ``dev`` parallel pairs for the XL-LoRA augmentation (arXiv 2603.01732, Sec. 3.3).

    Args:
        sources: data sources.
        lang: FLORES-200 code of the target language.
        num_pairs: pairs to keep (fewer if fewer are clean).
        exclude_indices: ``dev`` lines not to use (the anchors, so generator training never sees an anchor).
        seed: sampling seed.
        guard: contamination guard for ``lang`` (built if omitted); a line is used only if neither side is an
            evaluation sentence.

    Returns:
        :data:`AUGMENT_SCHEMA` frame, one row per pair, in ``dev`` line order.
    """
    guard = guard or ContaminationGuard.for_language(sources, lang)
    target = [collapse_whitespace(s) for s in load_flores(sources, lang, "dev")]
    english = [collapse_whitespace(s) for s in load_flores(sources, "eng_Latn", "dev")]
    excluded = set(exclude_indices)
    usable = [
        i
        for i, (t, e) in enumerate(zip(target, english, strict=True))
        if i not in excluded and t and e and not guard.is_blocked(t) and not guard.is_blocked(e)
    ]
    rng = random.Random(seed + 7)
    picked = sorted(rng.sample(usable, min(num_pairs, len(usable))))
    guard.check([target[i] for i in picked] + [english[i] for i in picked], what="augment pairs")
    return pl.DataFrame(
        {
            "source_index": picked,
            "premise": [target[i] for i in picked],
            "english": [english[i] for i in picked],
            "language": [lang] * len(picked),
        },
        schema=AUGMENT_SCHEMA,
    )


def build_lm_text(
    sources: DataSources,
    lang: str,
    *,
    max_sentences: int | None = None,
    seed: int = 42,
    guard: ContaminationGuard | None = None,
) -> list[PromptExample]:
    """Language-adapter training text: contamination-free FLORES-200 ``dev`` sentences (arXiv 2603.01732, Sec. 3.2).

    Args:
        sources: data sources.
        lang: FLORES-200 code (the target language, or ``eng_Latn`` for the AdaMergeX reference adapter).
        max_sentences: keep a seeded sample of at most this many; ``None`` keeps all.
        seed: sampling seed.
        guard: contamination guard for ``lang`` (built if omitted).

    Returns:
        :func:`~bootembed.prompts.lm_example` examples (empty prompt, the sentence as completion).
    """
    guard = guard or ContaminationGuard.for_language(sources, lang)
    sentences = [
        text
        for _, text in _clean_unique(
            [collapse_whitespace(s) for s in load_flores(sources, lang, "dev")], guard
        )
    ]
    if max_sentences is not None and max_sentences < len(sentences):
        rng = random.Random(seed + 11)
        sentences = [sentences[i] for i in sorted(rng.sample(range(len(sentences)), max_sentences))]
    guard.check(sentences, what=f"language-adapter text for {lang}")
    return [lm_example(text) for text in sentences]


_SICK_DIRECTIONS = {"positive": "A_entails_B", "negative": "A_contradicts_B"}


def build_task_sft(
    sources: DataSources, *, num_examples: int, seed: int = 42, splits: Sequence[str] = ("TRAIN",)
) -> dict[str, list[PromptExample]]:
    """English task-adapter SFT sets from SICK (arXiv 2603.01732, Sec. 3.2; Marelli et al. 2014).

    The positive adapter learns premise (``sentence_A``) -> entailment (``sentence_B`` of an ``A_entails_B``
    pair), the negative adapter premise -> contradiction (``A_contradicts_B``), both with
    :func:`~bootembed.prompts.task_prompt`.

    Args:
        sources: data sources.
        num_examples: examples per polarity (seeded sample; fewer if SICK has fewer).
        seed: sampling seed.
        splits: SICK ``SemEval_set`` splits to draw from.

    Returns:
        ``{"positive": [...], "negative": [...]}`` of :class:`~bootembed.prompts.PromptExample`.
    """
    pairs = [p for p in load_sick(sources) if p.split in splits]
    result: dict[str, list[PromptExample]] = {}
    for offset, polarity in enumerate(POLARITIES):
        usable = [p for p in pairs if p.entailment_ab == _SICK_DIRECTIONS[polarity]]
        rng = random.Random(seed + 100 + offset)
        picked = sorted(rng.sample(range(len(usable)), min(num_examples, len(usable))))
        result[polarity] = [
            task_example(usable[i].sentence_a, usable[i].sentence_b, polarity) for i in picked
        ]
        logger.info("SICK %s task set: %d of %d pairs", polarity, len(picked), len(usable))
    return result
