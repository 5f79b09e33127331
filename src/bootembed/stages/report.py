"""The ``report`` stage: every evaluation into ``metrics/summary.json``, a Markdown table, plot data, the headline
metrics and an offline HTML report.

Beside ``--out`` (``metrics/``) it also writes ``headline/<language>/<model>.json`` (the seed-mean score of every
task metric, short keys: :func:`headline_key`; the only files ``dvc.yaml`` declares as DVC ``metrics``, so
``dvc metrics show`` and ``dvc exp show`` stay readable) and ``report.html`` (:mod:`bootembed.html_report`, with a
sample of the training triplets read from ``data/triplets/<language>/<strategy>.parquet``), and the filter ablation
(``ablation.json``, ``ablation.md``: :mod:`bootembed.ablation`; a note saying it was not run when ``filter.ablation``
is empty).

Seeds: a fine-tuned encoder has one evaluation per training seed (``metrics/eval/<language>/<strategy>/seed<N>.json``,
``train_encoder.seeds``); the base encoder one (``metrics/eval/<language>/base.json``). The per-item data next to
mteb's results (``results/mteb/.../items.json``) give the paired bootstrap intervals (:mod:`bootembed.comparison`).
A retrieval strategy (SWIM-IR) adds a row per encoder it trains (``swim_ir.variants``, one evaluation per seed of
``swim_ir.seeds``: ``metrics/eval/<language>/swim_ir/<variant>/seed<N>.json``) and the base encoder's scores on its
task (``swim_ir/base``) to the base row; each model is compared on the metrics it has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.ablation import ablation_summary, render_ablation_markdown
from bootembed.comparison import compare_language, compare_pairs
from bootembed.curves import read_loss_curves
from bootembed.data.sources import DataError
from bootembed.evaluation.runner import ITEMS_FILE
from bootembed.html_report import render_html
from bootembed.io import atomic_file, read_json, write_json
from bootembed.report import build_summary, render_markdown, write_plot_data
from bootembed.strategies import STRATEGIES

__all__ = [
    "collect_ablation",
    "collect_diagnostics",
    "collect_evaluations",
    "collect_fidelity",
    "collect_items",
    "collect_samples",
    "headline_key",
    "run",
    "run_retrieval",
    "write_headline",
]

#: Triplets shown per strategy and language in the HTML report.
SAMPLE_ROWS = 5


def _runs(params: Any, name: str) -> list[str]:
    """The evaluation files of a model relative to a language folder: ``base`` or one per training seed."""
    if name == "base":
        return ["base"]
    return [f"{name}/seed{seed}" for seed in params.train_encoder.seeds]


def _retrieval_strategies() -> list[Any]:
    return [s for s in STRATEGIES.ordered() if s.kind == "retrieval"]


Models = list[tuple[str, list[str]]]


def _retrieval_models(params: Any) -> Models:
    """``(model, evaluation files)`` of the retrieval comparison alone: the base encoder on every retrieval
    strategy's tasks, then every encoder a retrieval strategy (SWIM-IR) trains."""
    base = [rel for s in _retrieval_strategies() for rel in s.evaluation_runs(params, "base")]
    return [
        ("base", base),
        *(
            (name, s.evaluation_runs(params, name))
            for s in _retrieval_strategies()
            for name in s.models(params)
        ),
    ]


def _models(params: Any) -> Models:
    """``(model, evaluation files)`` of every model of the report: the base encoder (its own evaluation, then each
    retrieval strategy's evaluation of it on that strategy's tasks), every strategy of ``strategies``, then every
    encoder a retrieval strategy (SWIM-IR) trains."""
    (_, retrieval_base), *retrievers = _retrieval_models(params)
    return [
        ("base", ["base", *retrieval_base]),
        *((name, _runs(params, name)) for name in params.strategies),
        *retrievers,
    ]


def _pairs(params: Any) -> list[tuple[str, str]]:
    """Every retrieval strategy's :meth:`~bootembed.strategies.base.RetrievalStrategy.paired_models`."""
    return [pair for s in _retrieval_strategies() for pair in s.paired_models(params)]


def collect_evaluations(
    params: Any,
    eval_dir: Path,
    *,
    models: Models | None = None,
    languages: list[str] | None = None,
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """``evals[language][model] = [scores per seed]`` from ``<eval_dir>/<language>/...json`` for base + every strategy
    + every SWIM-IR encoder (or ``models``, over ``languages``: default every language of ``params``); the base's
    scores on the SWIM-IR task are merged into its one run.

    Raises:
        DataError: a result file is missing.
    """
    evals: dict[str, dict[str, list[dict[str, float]]]] = {}
    for language in languages or params.languages:
        for name, rels in models or _models(params):
            runs = []
            for rel in rels:
                path = eval_dir / language / f"{rel}.json"
                if not path.is_file():
                    raise DataError(path, "an evaluation result (run the evaluate stage)")
                runs.append(read_json(path)["scores"])
            if name == "base":
                runs = [{k: v for run in runs for k, v in run.items()}]
            evals.setdefault(language, {})[name] = runs
    return evals


def collect_items(
    params: Any,
    results_dir: Path,
    *,
    models: Models | None = None,
    languages: list[str] | None = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``items[language][model] = [per-item data per seed]`` from ``<results_dir>/<language>/.../items.json`` (the
    models and languages of :func:`collect_evaluations`).

    Raises:
        DataError: a file is missing or is not an evaluation's per-item data.
    """
    items: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for language in languages or params.languages:
        for name, rels in models or _models(params):
            runs = [_items(results_dir / language / rel / ITEMS_FILE) for rel in rels]
            if name == "base":
                runs = [{k: v for run in runs for k, v in run.items()}]
            items.setdefault(language, {})[name] = runs
    return items


def _items(path: Path) -> dict[str, Any]:
    """The per-item data of one evaluation (``items.json``).

    Raises:
        DataError: the file is missing or is not an evaluation's per-item data.
    """
    if not path.is_file():
        raise DataError(path, "per-item evaluation data (run the evaluate stage)")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("items"), dict):
        raise DataError(path, "an object with 'items'", field="items")
    return data["items"]


def collect_ablation(
    params: Any, results_dir: Path, items: dict[str, dict[str, list[dict[str, Any]]]]
) -> dict[str, dict[str, dict[str, list[dict[str, Any]]]]]:
    """``runs[language][strategy][arm]`` of the filter ablation (:mod:`bootembed.ablation`) for every synthetic
    strategy of ``strategies``: ``filtered`` from ``items`` (the strategy's own encoders), each variant of
    ``filter.ablation`` from ``<results_dir>/<language>/<strategy>/<variant>/seed<N>/items.json``.

    Raises:
        DataError: a variant's per-item data is missing.
    """
    if not params.filter.ablation:
        return {}
    runs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    for language in params.languages:
        for strategy in params.strategies:
            if STRATEGIES.get(strategy).kind != "synthetic":
                continue
            arms = {"filtered": items[language][strategy]}
            for variant in params.filter.ablation:
                arms[variant] = [
                    _items(results_dir / language / strategy / variant / f"seed{seed}" / ITEMS_FILE)
                    for seed in params.train_encoder.seeds
                ]
            runs.setdefault(language, {})[strategy] = arms
    return runs


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


def _in_headline(metric: str) -> bool:
    """Whether ``metric`` goes into the headline files: a registered task's metric when the task declares it in its
    :attr:`~bootembed.evaluation.tasks.base.EvalTask.headline` (SWIM-IR keeps nDCG@10 per direction), and every
    metric of an official mteb task (no registered task owns those)."""
    from bootembed.evaluation.tasks import TASKS

    owners = [task for task in TASKS.ordered() if metric in task.metrics]
    return not owners or any(metric in task.headline for task in owners)


def write_headline(summary: dict[str, Any], folder: Path) -> list[Path]:
    """One small JSON per language and model: ``{short metric key: seed-mean score}`` (:func:`headline_key`) of the
    metrics :func:`_in_headline` keeps.

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
                path,
                {
                    headline_key(m): scores[m]
                    for m in summary["metrics"]
                    if m in scores and _in_headline(m)
                },
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


def _bootstrap(params: Any) -> dict[str, Any]:
    return {
        "method": "paired percentile bootstrap over test items (scipy.stats.bootstrap)",
        "resamples": params.report.bootstrap_resamples,
        "confidence": params.report.confidence,
        "seed": params.seed,
    }


def _compare(
    params: Any, items: dict[str, dict[str, list[dict[str, Any]]]], kinds: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Per language: :func:`~bootembed.comparison.compare_language` plus the retrieval strategies' paired
    ablations (``pairs``: :func:`~bootembed.comparison.compare_pairs`), every bootstrap seeded with ``seed``."""
    options = {
        "resamples": params.report.bootstrap_resamples,
        "confidence": params.report.confidence,
        "seed": params.seed,
    }
    return {
        language: {
            **compare_language(runs, kinds=kinds, **options),
            "pairs": compare_pairs(runs, _pairs(params), **options),
        }
        for language, runs in items.items()
    }


def run_retrieval(
    params: Any,
    *,
    params_path: Path,
    language: str,
    eval_dir: Path,
    results_dir: Path,
    out: Path,
    markdown: Path,
) -> dict[str, Any]:
    """The retrieval comparison of one language alone: the base encoder against every retriever a retrieval
    strategy trains (SWIM-IR, Thakur et al., NAACL 2024: ``swim_ir.variants`` x ``swim_ir.seeds``) on that
    strategy's task, and each paired ablation (SWIM-IR Sec. 3: summarize-then-ask vs plain prompting per
    direction), so ``dvc repro swim_ir_report`` needs none of the triplet strategies' stages.

    Args:
        params: the validated params.
        params_path: where they were read (named in errors).
        language: a FLORES-200 code of ``languages``.
        eval_dir: ``metrics/eval`` (``<language>/swim_ir/base.json``, ``<language>/swim_ir/<variant>/seed<N>.json``).
        results_dir: ``results/mteb`` (the same runs' ``items.json``, for the paired bootstrap).
        out: the summary JSON (:func:`bootembed.report.build_summary` with ``pairs``, ``seeds``, ``bootstrap``).
        markdown: its Markdown table (:func:`bootembed.report.render_markdown`).

    Returns:
        The summary written to ``out``.

    Raises:
        ValueError: ``language`` is not in ``languages``.
        DataError: an evaluation or its per-item data is missing.
    """
    if language not in params.languages:
        raise ValueError(
            f"{params_path}: languages: expected {language!r} among {list(params.languages)}"
        )
    models = _retrieval_models(params)
    kinds = {name: "synthetic" for name, _ in models[1:]}
    items = collect_items(params, results_dir, models=models, languages=[language])
    summary = build_summary(
        collect_evaluations(params, eval_dir, models=models, languages=[language]),
        comparison=_compare(params, items, kinds),
    )
    summary["seed"] = params.seed
    summary["seeds"] = sorted({seed for s in _retrieval_strategies() for seed in s.seeds(params)})
    summary["bootstrap"] = _bootstrap(params)
    write_json(out, summary)
    with atomic_file(markdown) as tmp:
        tmp.write_text(render_markdown(summary), encoding="utf-8")
    return summary


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
    # SWIM-IR encoders learn from synthetic data too: they compete for "best synthetic" on their own metrics.
    kinds = {
        name: "synthetic" if s.kind == "retrieval" else s.kind
        for s in STRATEGIES.ordered()
        for name in s.report_names()
    }
    items = collect_items(params, results_dir)
    comparison = _compare(params, items, kinds)
    summary = build_summary(
        collect_evaluations(params, eval_dir),
        collect_diagnostics(diagnostics_dirs),
        fidelity=collect_fidelity(params, fidelity_dir),
        comparison=comparison,
    )
    summary["seed"] = params.seed
    summary["seeds"] = list(params.train_encoder.seeds)
    summary["bootstrap"] = _bootstrap(params)
    write_json(out, summary)
    text = render_markdown(summary)
    with atomic_file(markdown) as tmp:
        tmp.write_text(text, encoding="utf-8")
    write_plot_data(summary, plots_dir)
    curves = read_loss_curves(curves_dir)
    write_headline(summary, out.parent / "headline")
    ablation = ablation_summary(
        collect_ablation(params, results_dir, items),
        variants=params.filter.ablation,
        resamples=params.report.bootstrap_resamples,
        confidence=params.report.confidence,
        seed=params.seed,
    )
    write_json(out.parent / "ablation.json", ablation)
    with atomic_file(out.parent / "ablation.md") as tmp:
        tmp.write_text(render_ablation_markdown(ablation), encoding="utf-8")
    page = render_html(summary, text, curves=curves, samples=collect_samples(params, triplets_dir))
    with atomic_file(out.parent / "report.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return summary
