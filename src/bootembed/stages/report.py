"""The ``report`` stage: every evaluation into ``metrics/summary.json``, a Markdown table and plot data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootembed.data.sources import DataError
from bootembed.io import atomic_file, read_json, write_json
from bootembed.report import build_summary, render_markdown, write_plot_data

__all__ = ["collect_diagnostics", "collect_evaluations", "run"]


def collect_evaluations(params: Any, eval_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``evals[language][model][metric]`` from ``<eval_dir>/<language>/<model>.json`` for base + every strategy.

    Raises:
        DataError: a result file is missing.
    """
    evals: dict[str, dict[str, dict[str, float]]] = {}
    for language in params.languages:
        for name in ("base", *params.strategies):
            path = eval_dir / language / f"{name}.json"
            if not path.is_file():
                raise DataError(path, "an evaluation result (run the evaluate stage)")
            evals.setdefault(language, {})[name] = read_json(path)["scores"]
    return evals


def collect_diagnostics(folders: tuple[Path, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """``diagnostics[language][strategy]`` from the filter and baseline metrics JSON files under ``folders``."""
    diagnostics: dict[str, dict[str, dict[str, Any]]] = {}
    files = [
        f for path in folders for f in (sorted(path.rglob("*.json")) if path.is_dir() else [path])
    ]
    for path in files:
        data = read_json(path)
        if "strategy" not in data or "diagnostics" not in data:
            continue
        entry = dict(data["diagnostics"])
        if "filter" in data:
            entry["kept_after_filter"] = data["filter"].get("kept")
        diagnostics.setdefault(data["language"], {})[data["strategy"]] = entry
    return diagnostics


def run(
    params: Any,
    *,
    params_path: Path,
    eval_dir: Path,
    diagnostics_dirs: tuple[Path, ...],
    out: Path,
    markdown: Path,
    plots_dir: Path,
) -> dict[str, Any]:
    """Write the summary JSON, its Markdown rendering and one plot CSV per metric."""
    summary = build_summary(
        collect_evaluations(params, eval_dir), collect_diagnostics(diagnostics_dirs)
    )
    summary["seed"] = params.seed
    write_json(out, summary)
    with atomic_file(markdown) as tmp:
        tmp.write_text(render_markdown(summary), encoding="utf-8")
    write_plot_data(summary, plots_dir)
    return summary
