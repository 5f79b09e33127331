"""A quick encoder score on non-test data, for the side-by-side dtype checks of :mod:`bootembed.hardware`.

The score is SemRel 2024 Spearman on the language's ``dev`` split (``train`` if there is no ``dev``), or, for a
language without SemRel data, top-1 FLORES-200 ``dev`` bitext accuracy (target -> English) on the first 200
lines. Test splits are never touched, so choosing a dtype never peeks at the evaluation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bootembed.data.flores import load_flores
from bootembed.data.semrel import load_semrel, semrel_splits
from bootembed.data.sources import DataSources
from bootembed.hardware import DTYPES, ENCODER_MAX_SCORE_DIFF, Measurement, torch_dtype

__all__ = ["measure_encoding_dtypes", "quick_score"]

_FLORES_LINES = 200


def _texts(sources: DataSources, lang: str) -> tuple[str, list[str], list[str], list[float] | None]:
    splits = semrel_splits(sources, lang)
    for split in ("dev", "train"):
        if split in splits:
            pairs = load_semrel(sources, lang, split)
            return (
                f"semrel_{split}_spearman",
                [p.sentence1 for p in pairs],
                [p.sentence2 for p in pairs],
                [float(p.score) for p in pairs],
            )
    target = load_flores(sources, lang, "dev")[:_FLORES_LINES]
    english = load_flores(sources, "eng_Latn", "dev")[:_FLORES_LINES]
    return "flores_dev_bitext_accuracy", target, english, None


def quick_score(
    model: Any, sources: DataSources, lang: str, *, batch_size: int = 32
) -> tuple[str, float]:
    """``(name, score)`` of a loaded sentence-transformers model on the language's quick-score data.

    The model's ``query`` prompt (if any) is used on both sides.
    """
    from scipy.stats import spearmanr

    name, first, second, gold = _texts(sources, lang)
    prompt = (model.prompts or {}).get("query") or None
    kwargs = {"batch_size": batch_size, "normalize_embeddings": True, "prompt": prompt}
    a = np.asarray(model.encode(first, **kwargs), dtype=np.float32)
    b = np.asarray(model.encode(second, **kwargs), dtype=np.float32)
    if gold is not None:
        return name, float(spearmanr((a * b).sum(axis=1), gold).statistic)
    return name, float((np.argmax(a @ b.T, axis=1) == np.arange(len(first))).mean())


def measure_encoding_dtypes(
    model_dir: str | Path, sources: DataSources, lang: str, *, batch_size: int = 32
) -> Measurement:
    """Encode the quick-score data in float32 and bf16; compare the scores (limit 0.005) and the times."""
    from sentence_transformers import SentenceTransformer

    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    name = ""
    for dtype in DTYPES:
        model = SentenceTransformer(str(model_dir), local_files_only=True)
        if dtype != "float32":
            model = model.to(torch_dtype(dtype))
        quick_score(model, sources, lang, batch_size=batch_size)  # warm-up
        begin = time.perf_counter()
        name, scores[dtype] = quick_score(model, sources, lang, batch_size=batch_size)
        seconds[dtype] = time.perf_counter() - begin
    difference = abs(scores["bfloat16"] - scores["float32"])
    return Measurement(
        float32_seconds=seconds["float32"],
        bfloat16_seconds=seconds["bfloat16"],
        check=f"score difference ({name})",
        value=difference,
        threshold=ENCODER_MAX_SCORE_DIFF,
        safe=difference <= ENCODER_MAX_SCORE_DIFF,
        details={"scores": scores},
    )
