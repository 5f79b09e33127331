"""The ``model_card`` stage: the shareable model card of one fine-tuned encoder (:mod:`bootembed.model_card`).

It reads the encoder's own card (``README.md``, written by ``train_encoder``), the lineage of its triplets (the
triplets' generator ids and backend, the strategy's generator folder and adapters, the filter or baseline counts)
and the report's scores and intervals, and writes ``models/cards/<language>/<strategy>/seed<N>/README.md``: its
own output, so no stage edits another's. ``bootembed export-encoder`` puts encoder and card together.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sources import DataError
from bootembed.io import atomic_dir, atomic_file, read_json
from bootembed.model_card import CardInfo, base_model_reference, final_card
from bootembed.stages.common import stage_language, stage_strategy
from bootembed.strategies.base import Strategy

__all__ = ["export", "lineage", "run", "strategy_summary"]


def lineage(
    params: Any,
    strategy: Any,
    language: str,
    triplets: Path,
    diagnostics_dirs: tuple[Path, ...],
) -> dict[str, Any]:
    """Where an encoder's training triplets come from (:attr:`bootembed.model_card.CardInfo.lineage`).

    Args:
        params: the validated params (``prepare.anchor_source``).
        strategy: the registered strategy.
        language: FLORES-200 code.
        triplets: its training triplets (``generator_id`` / ``backend`` columns where synthetic).
        diagnostics_dirs: folders of the filter and baseline metrics (``<dir>/<language>/<strategy>.json``); the
            first that has the file gives the counts.

    Raises:
        DataError: the triplets file is missing.
    """
    if not triplets.is_file():
        raise DataError(
            triplets, "the encoder's training triplets (run the filter / baseline stage)"
        )
    frame = pl.read_parquet(triplets)

    def values(column: str) -> list[str]:
        if column not in frame.columns:
            return []
        return sorted(str(v) for v in frame[column].drop_nulls().unique().to_list())

    counts: dict[str, Any] | None = None
    rows = frame.height
    for folder in diagnostics_dirs:
        path = folder / language / f"{strategy.name}.json"
        if path.is_file():
            data = read_json(path)
            counts = data.get("filter")
            rows = int(data.get("diagnostics", {}).get("rows", rows))
            break
    synthetic = strategy.kind == "synthetic"
    anchors = {
        "count": counts.get("input", rows) if counts else rows,
        "source": f"`data/prepared/{language}/anchors.parquet` "
        f"(`prepare.anchor_source: {params.prepare.anchor_source}`)"
        if synthetic
        else None,
    }
    inputs = (
        []
        if synthetic
        else [p.replace("${item.language}", language) for p in strategy.stage_inputs.values()]
    )
    return {
        "generator_ids": values("generator_id") if synthetic else [],
        "backends": values("backend") if synthetic else [],
        "generator_dir": strategy.generator_dir(language) if synthetic else None,
        "adapters": sorted({a for a in strategy.adapters.values() if a}) if synthetic else [],
        "anchors": anchors,
        "inputs": inputs,
        "triplets": frame.height,
        "filter": counts,
    }


def strategy_summary(
    summary: dict[str, Any], language: str, strategy: str, path: Path
) -> dict[str, Any]:
    """The report's rows of one strategy: ``mean``, ``sd``, ``n_seeds``, ``base`` and ``interval`` (by metric), and
    the report's ``metrics`` order.

    Raises:
        DataError: the summary has no scores for the strategy or the base encoder in ``language``.
    """
    scores = summary.get("scores", {}).get(language, {})
    if strategy not in scores or "base" not in scores:
        raise DataError(path, f"scores of {strategy!r} and 'base' for {language}", field="scores")
    return {
        "metrics": list(summary.get("metrics", [])),
        "mean": scores[strategy],
        "sd": summary.get("sd", {}).get(language, {}).get(strategy, {}),
        "n_seeds": summary.get("n_seeds", {}).get(language, {}).get(strategy),
        "base": scores["base"],
        "interval": summary.get("intervals", {}).get(language, {}).get(strategy, {}),
    }


def run(
    params: Any,
    *,
    params_path: Path,
    language: str,
    strategy: str,
    train_seed: int,
    encoder: Path,
    triplets: Path,
    eval_path: Path,
    summary_path: Path,
    diagnostics_dirs: tuple[Path, ...],
    base: Path,
    out: Path,
) -> str:
    """Write the shareable card of the encoder ``encoder`` (strategy ``strategy``, seed ``train_seed``) to ``out``.

    Raises:
        DataError: the encoder's card, its evaluation or the summary is missing.
    """
    language = stage_language(params, language, params_path)
    chosen = stage_strategy(strategy, Strategy, "a strategy")
    card_path = encoder / "README.md"
    for path, what in (
        (card_path, "the encoder's model card (run train_encoder)"),
        (eval_path, "the encoder's evaluation (run evaluate)"),
        (summary_path, "the report's summary (run report)"),
    ):
        if not path.is_file():
            raise DataError(path, what)
    evaluation = read_json(eval_path)
    info = CardInfo(
        language=language,
        strategy=chosen.name,
        seed=train_seed,
        strategy_description=chosen.description,
        paper=chosen.paper,
        base_model=base_model_reference(base)[2],
        lineage=lineage(params, chosen, language, triplets, diagnostics_dirs),
        scores=evaluation.get("scores", {}),
        summary=strategy_summary(read_json(summary_path), language, chosen.name, summary_path),
    )
    text = final_card(card_path.read_text(encoding="utf-8"), info)
    with atomic_file(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text


def export(*, encoder: Path, card: Path, out: Path) -> Path:
    """Copy the encoder folder to ``out`` with ``card`` as its ``README.md``: a model to share as is.

    Raises:
        DataError: ``encoder`` is not a sentence-transformers folder or ``card`` is missing.
    """
    if not (encoder / "modules.json").is_file():
        raise DataError(encoder / "modules.json", "a sentence-transformers encoder folder")
    if not card.is_file():
        raise DataError(card, "the encoder's shareable card (run the model_card stage)")
    with atomic_dir(out) as tmp:
        shutil.copytree(encoder, tmp, dirs_exist_ok=True)
        shutil.copyfile(card, tmp / "README.md")
    return out
