"""The ``augment`` stage: XL-LoRA augmentation (Sec. 3.3) from FLORES-200 parallel pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bootembed.augment import augmentation_examples
from bootembed.io import write_json, write_jsonl
from bootembed.prompts import POLARITIES, task_prompt
from bootembed.provenance import WEIGHTS_ONLY, dir_digest, generator_base_id, record
from bootembed.stages.common import stage_language
from bootembed.stages.generating import generate

__all__ = ["run"]


def run(
    params: Any,
    *,
    params_path: Path,
    language: str,
    base: Path,
    task_adapters: Path,
    pairs: Path,
    out_dir: Path,
    work_dir: Path | None,
    metrics_path: Path,
) -> dict[str, Any]:
    """The English task adapters label the English side of each pair; the premise swaps back to the target.

    Writes ``sft_{positive,negative}.jsonl`` (target premise -> English hypothesis) into ``out_dir``.
    """
    language = stage_language(params, language, params_path)
    frame = pl.read_parquet(pairs)
    english = frame.select(
        pl.col("source_index").alias("anchor_id"),
        pl.col("english").alias("anchor"),
        pl.lit("eng_Latn").alias("language"),
    )
    adapters = {p: task_adapters / p for p in POLARITIES}

    def build(row: dict, polarity: str) -> str:
        return task_prompt(str(row["anchor"]), polarity)

    generated, stats, work, dtype = generate(
        params,
        base,
        adapters,
        english,
        build,
        adapter="positive",
        generator_id=f"{generator_base_id(base)}+task@{dir_digest(task_adapters, exclude=WEIGHTS_ONLY)}",
        strategy="augment",
        work_dir=work_dir,
        output=out_dir,
    )
    examples, counts = augmentation_examples(frame, generated)
    for polarity in POLARITIES:
        write_jsonl(out_dir / f"sft_{polarity}.jsonl", (e.as_dict() for e in examples[polarity]))
    metrics = {
        "language": language,
        "generation": stats,
        "examples": counts,
        **record(seed=params.seed, dtypes=[dtype]),
    }
    write_json(metrics_path, metrics)
    work.remove()
    return metrics
