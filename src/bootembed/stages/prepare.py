"""The ``prepare`` stages: per-language anchors and generator sets, and the language-independent SICK sets."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from bootembed.baselines import sick_triplets
from bootembed.data.contamination import ContaminationGuard
from bootembed.data.sick import load_sick
from bootembed.io import write_json, write_jsonl, write_parquet
from bootembed.prepare import (
    build_anchors,
    build_augment_pairs,
    build_lm_text,
    build_task_sft,
    build_xllora_sft,
)
from bootembed.provenance import record
from bootembed.stages.common import LanguageRequest, data_sources, language_stage

__all__ = ["run_english", "run_language"]

logger = logging.getLogger(__name__)


def _prepare_language(request: LanguageRequest, *, out_dir: Path) -> dict[str, Any]:
    """Per language: anchors, XL-LoRA reference SFT sets, augmentation pairs and language-adapter text.

    Writes ``anchors.parquet``, ``augment_pairs.parquet``, ``sft_{positive,negative}.jsonl`` and
    ``lm_text.jsonl`` into ``out_dir``, and the counts into ``metrics_path``.
    """
    params, language = request.params, request.language
    sources = data_sources(params, request.params_path)
    p = params.prepare
    start = time.perf_counter()
    guard = ContaminationGuard.for_language(sources, language)
    anchors, counts = build_anchors(
        sources,
        language,
        anchor_source=p.anchor_source,
        max_anchors=p.max_anchors,
        seed=params.seed,
        guard=guard,
    )
    if anchors.height < p.max_anchors:
        logger.warning(
            "prepare.max_anchors: %d requested, %d contamination-free %s anchors exist for %s",
            p.max_anchors,
            anchors.height,
            p.anchor_source,
            language,
        )
    sft = build_xllora_sft(
        sources,
        num_examples=params.xllora.sft_examples,
        max_chars=params.xllora.max_sft_chars,
        seed=params.seed,
        guard=guard,
    )
    exclude = anchors["source_index"].to_list() if p.anchor_source == "flores_dev" else []
    augment = build_augment_pairs(
        sources,
        language,
        num_pairs=params.xllora.augment_pairs,
        exclude_indices=exclude,
        seed=params.seed,
        guard=guard,
    )
    lm_text = build_lm_text(
        sources, language, max_sentences=p.lm_sentences, seed=params.seed, guard=guard
    )
    write_parquet(out_dir / "anchors.parquet", anchors)
    write_parquet(out_dir / "augment_pairs.parquet", augment)
    for polarity, examples in sft.items():
        write_jsonl(out_dir / f"sft_{polarity}.jsonl", (e.as_dict() for e in examples))
    write_jsonl(out_dir / "lm_text.jsonl", (e.as_dict() for e in lm_text))
    return {
        "language": language,
        "anchors": {**counts, "requested": p.max_anchors},
        "sft_examples": {k: len(v) for k, v in sft.items()},
        "augment_pairs": augment.height,
        "lm_sentences": len(lm_text),
        "seconds": round(time.perf_counter() - start, 2),
        **record(seed=params.seed),
    }


run_language = language_stage(_prepare_language)


def run_english(
    params: Any, *, params_path: Path, out_dir: Path, metrics_path: Path
) -> dict[str, Any]:
    """Language-independent sets: SICK task SFT, ICL exemplar pool, English-only triplets, reference LM text."""
    sources = data_sources(params, params_path)
    p = params.prepare
    start = time.perf_counter()
    task = build_task_sft(sources, num_examples=p.task_examples, seed=params.seed)
    reference = params.composition.reference_language
    lm_text = build_lm_text(sources, reference, max_sentences=p.lm_sentences, seed=params.seed)
    pairs = load_sick(sources)
    # Only premises with both an entailment and a contradiction qualify (SICK TRAIN+TRIAL: 144, TEST: 155).
    # ICL exemplars come from SICK TEST, the English-only baseline from TRAIN + TRIAL (SICK is not an
    # evaluation set here): disjoint by construction.
    exemplars = sick_triplets(
        pairs, max_triplets=params.icl.pool_size, seed=params.seed, splits=("TEST",)
    )
    english = sick_triplets(
        pairs,
        max_triplets=p.english_triplets or p.max_anchors,
        seed=params.seed,
        splits=("TRAIN", "TRIAL"),
    )
    for polarity, examples in task.items():
        write_jsonl(out_dir / f"task_{polarity}.jsonl", (e.as_dict() for e in examples))
    write_jsonl(out_dir / "lm_text.jsonl", (e.as_dict() for e in lm_text))
    write_parquet(out_dir / "icl_exemplars.parquet", exemplars)
    write_parquet(out_dir / "english_triplets.parquet", english)
    metrics = {
        "task_examples": {k: len(v) for k, v in task.items()},
        "reference_language": reference,
        "lm_sentences": len(lm_text),
        "icl_exemplars": exemplars.height,
        "english_triplets": english.height,
        "seconds": round(time.perf_counter() - start, 2),
        **record(seed=params.seed),
    }
    write_json(metrics_path, metrics)
    return metrics
