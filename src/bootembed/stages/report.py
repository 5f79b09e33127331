"""The ``report`` stage: every evaluation into ``metrics/summary.json``, a Markdown table, plot data, the headline
metrics and an offline HTML report.

Beside ``--out`` (``metrics/``) it also writes ``headline/<language>/<model>.json`` (the seed-mean score of every
task metric, short keys: :func:`headline_key`; the only files ``dvc.yaml`` declares as DVC ``metrics``, so
``dvc metrics show`` and ``dvc exp show`` stay readable) and ``report.html`` (:mod:`bootembed.html_report`, with a
sample of the training triplets read from ``data/triplets/<language>/<strategy>.parquet``).

Seeds: a fine-tuned encoder has one evaluation per training seed (``metrics/eval/<language>/<strategy>/seed<N>.json``,
``train_encoder.seeds``); the base encoder one (``metrics/eval/<language>/base.json``). The per-item data next to
mteb's results (``results/mteb/.../items.json``) give the paired bootstrap intervals (:mod:`bootembed.comparison`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.comparison import compare_language
from bootembed.curves import read_loss_curves
from bootembed.data.sources import DataError
from bootembed.evaluation.runner import ITEMS_FILE
from bootembed.html_report import render_html
from bootembed.io import atomic_file, read_json, write_json
from bootembed.report import build_summary, render_markdown, write_plot_data
from bootembed.strategies import STRATEGIES

__all__ = [
    "collect_diagnostics",
    "collect_evaluations",
    "collect_fidelity",
    "collect_items",
    "collect_samples",
    "headline_key",
    "run",
    "write_headline",
]

#: Triplets shown per strategy and language in the HTML report.
SAMPLE_ROWS = 5


def _runs(params: Any, name: str) -> list[str]:
    """The evaluation files of a model relative to a language folder: ``base`` or one per training seed."""
    if name == "base":
        return ["base"]
    return [f"{name}/seed{seed}" for seed in params.train_encoder.seeds]


def collect_evaluations(
    params: Any, eval_dir: Path
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """``evals[language][model] = [scores per seed]`` from ``<eval_dir>/<language>/...json`` for base + every strategy.

    Raises:
        DataError: a result file is missing.
    """
    evals: dict[str, dict[str, list[dict[str, float]]]] = {}
    for language in params.languages:
        for name in ("base", *params.strategies):
            runs = []
            for rel in _runs(params, name):
                path = eval_dir / language / f"{rel}.json"
                if not path.is_file():
                    raise DataError(path, "an evaluation result (run the evaluate stage)")
                runs.append(read_json(path)["scores"])
            evals.setdefault(language, {})[name] = runs
    return evals


def collect_items(params: Any, results_dir: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``items[language][model] = [per-item data per seed]`` from ``<results_dir>/<language>/.../items.json``.

    Raises:
        DataError: a file is missing or is not an evaluation's per-item data.
    """
    items: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for language in params.languages:
        for name in ("base", *params.strategies):
            runs = []
            for rel in _runs(params, name):
                path = results_dir / language / rel / ITEMS_FILE
                if not path.is_file():
                    raise DataError(path, "per-item evaluation data (run the evaluate stage)")
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or not isinstance(data.get("items"), dict):
                    raise DataError(path, "an object with 'items'", field="items")
                runs.append(data["items"])
            items.setdefault(language, {})[name] = runs
    return items


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


def collect_fidelity(params: Any, folder: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``fidelity[language][strategy]`` from ``<folder>/<language>/<strategy>.json`` (the fidelity stage), where present."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for language in params.languages:
        for name in params.strategies:
            path = folder / language / f"{name}.json"
            if path.is_file():
                out.setdefault(language, {})[name] = read_json(path)["fidelity"]
    return out


def headline_key(metric: str) -> str:
    """The short key of ``metric`` in the headline files: its task's :attr:`~bootembed.evaluation.tasks.base.EvalTask.
    headline` name (``flores_retrieval_recall_at_10`` -> ``recall@10``, ``semrel_spearman`` -> ``semrel``), else the
    metric itself (an official mteb task's ``SemRel24STS_cosine_spearman``)."""
    from bootembed.evaluation.tasks import TASKS

    for task in TASKS.ordered():
        if metric in task.headline:
            return task.headline[metric]
    return metric


def write_headline(summary: dict[str, Any], folder: Path) -> list[Path]:
    """One small JSON per language and model: ``{short metric key: seed-mean score}`` (:func:`headline_key`).

    Args:
        summary: :func:`bootembed.report.build_summary` output.
        folder: ``metrics/headline``; ``<language>/<model>.json`` files are written under it (atomically).

    Returns:
        The written paths, languages and models in the summary's order.
    """
    paths = []
    for language in summary["languages"]:
        for model in summary["models"]:
            scores = summary["scores"].get(language, {}).get(model)
            if not scores:
                continue
            path = folder / language / f"{model}.json"
            write_json(
                path, {headline_key(m): scores[m] for m in summary["metrics"] if m in scores}
            )
            paths.append(path)
    return paths


def collect_samples(
    params: Any, triplets_dir: Path, rows: int = SAMPLE_ROWS
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A seeded sample of the training triplets of every strategy and language of ``params``.

    Args:
        params: the validated params (``languages``, ``strategies``, ``seed``).
        triplets_dir: ``data/triplets`` (``<language>/<strategy>.parquet``); a missing file is left out.
        rows: rows per strategy and language.

    Returns:
        ``{language: {strategy: [{"anchor", "positive", "negative"}, ...]}}``.
    """
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for language in params.languages:
        for strategy in params.strategies:
            path = triplets_dir / language / f"{strategy}.parquet"
            if not path.is_file():
                continue
            frame = pl.read_parquet(path, columns=["anchor", "positive", "negative"])
            picked = frame.sample(n=min(rows, frame.height), seed=params.seed)
            samples.setdefault(language, {})[strategy] = picked.to_dicts()
    return samples


def run(
    params: Any,
    *,
    params_path: Path,
    eval_dir: Path,
    diagnostics_dirs: tuple[Path, ...],
    out: Path,
    markdown: Path,
    plots_dir: Path,
    results_dir: Path = Path("results/mteb"),
    fidelity_dir: Path = Path("metrics/fidelity"),
    curves_dir: Path = Path("metrics/dvclive"),
    triplets_dir: Path = Path("data/triplets"),
) -> dict[str, Any]:
    """Write the summary JSON, its Markdown rendering, one plot CSV per metric, and beside ``out`` the headline
    metrics (``headline/``) and the offline HTML report (``report.html``, with the training loss curves the
    training stages logged through dvclive under ``curves_dir``: :func:`bootembed.curves.read_loss_curves`)."""
    kinds = {s.name: s.kind for s in STRATEGIES.ordered()}
    items = collect_items(params, results_dir)
    comparison = {
        language: compare_language(
            runs,
            kinds=kinds,
            resamples=params.report.bootstrap_resamples,
            confidence=params.report.confidence,
            seed=params.seed,
        )
        for language, runs in items.items()
    }
    summary = build_summary(
        collect_evaluations(params, eval_dir),
        collect_diagnostics(diagnostics_dirs),
        fidelity=collect_fidelity(params, fidelity_dir),
        comparison=comparison,
    )
    summary["seed"] = params.seed
    summary["seeds"] = list(params.train_encoder.seeds)
    summary["bootstrap"] = {
        "method": "paired percentile bootstrap over test items (scipy.stats.bootstrap)",
        "resamples": params.report.bootstrap_resamples,
        "confidence": params.report.confidence,
        "seed": params.seed,
    }
    write_json(out, summary)
    text = render_markdown(summary)
    with atomic_file(markdown) as tmp:
        tmp.write_text(text, encoding="utf-8")
    write_plot_data(summary, plots_dir)
    curves = read_loss_curves(curves_dir)
    write_headline(summary, out.parent / "headline")
    page = render_html(summary, text, curves=curves, samples=collect_samples(params, triplets_dir))
    with atomic_file(out.parent / "report.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return summary
