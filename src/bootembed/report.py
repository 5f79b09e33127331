"""One run, one table: the evaluation summary, its Markdown rendering and DVC plot data.

Collects the scores of the base encoder and of every fine-tuned encoder (the baselines and the
synthetic-triplet strategies of arXiv 2603.01732, Secs. 3-4) per language and metric, the change
of each against the base encoder, the best fine-tuned model per metric, and the synthesis
diagnostics, in one JSON-ready dict (:func:`build_summary`), one Markdown report
(:func:`render_markdown`) and one CSV per metric for ``dvc plots`` (:func:`write_plot_data`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.evaluation.tasks import metric_order
from bootembed.io import atomic_file
from bootembed.statistics import mean_sd
from bootembed.strategies import STRATEGIES

__all__ = [
    "METRIC_ORDER",
    "MODEL_ORDER",
    "PLOT_COLUMNS",
    "build_summary",
    "render_markdown",
    "write_plot_data",
]

logger = logging.getLogger(__name__)

#: Canonical model order: the base encoder, the baselines (Sec. 4), then the strategies (Sec. 3), then the SWIM-IR
#: retrievers (one per variant), as the strategy registry orders them.
MODEL_ORDER: tuple[str, ...] = (
    "base",
    *(n for s in STRATEGIES.ordered() for n in s.report_names()),
)
#: Canonical metric order (the evaluation-task registry's); other metrics follow in order of first appearance.
METRIC_ORDER: tuple[str, ...] = metric_order()
#: Columns of every plot CSV written by :func:`write_plot_data`.
PLOT_COLUMNS: tuple[str, str, str] = ("model", "language", "score")

_DIGITS = 4
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _ordered(seen: Iterable[str], canonical: Iterable[str], first: str | None = None) -> list[str]:
    """``first``, then canonical names present in ``seen``, then the rest in first-seen order."""
    seen = list(dict.fromkeys(seen))
    head = [first] if first is not None and first in seen else []
    head += [name for name in canonical if name in seen and name not in head]
    return head + [name for name in seen if name not in head]


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _round(value: float) -> float:
    return round(value, _DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _pass_through(value: Any) -> Any:
    """Diagnostics as JSON-ready values: floats rounded, mappings and sequences recursed."""
    if isinstance(value, Mapping):
        return {str(k): _pass_through(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pass_through(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return _round(value)
    return value


def build_summary(
    evals: Mapping[str, Mapping[str, Mapping[str, float] | Sequence[Mapping[str, float]]]],
    diagnostics: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    *,
    base_name: str = "base",
    fidelity: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    comparison: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict:
    """Collect the scores of one run into a JSON-ready summary with deltas and best models.

    Args:
        evals: ``evals[language][model][metric] = score`` (e.g. ``evals["hau_Latn"]["xllora"]
            ["semrel_spearman"] = 0.47``), or ``evals[language][model] = [scores of seed 1, ...]`` for an encoder
            trained with several seeds: its score is then the mean over seeds, with the sample sd. A metric may
            be missing for some language or model.
        diagnostics: Optional ``diagnostics[language][model][key] = value`` (e.g. parse-failure
            rates, dice overlap, code-switching rate of the synthetic triplets); passed through
            with floats rounded.
        base_name: Name of the base (not fine-tuned) encoder in ``evals``.
        fidelity: Optional ``fidelity[language][model]`` (:func:`bootembed.fidelity.triplet_fidelity`).
        comparison: Optional ``comparison[language]`` (:func:`bootembed.comparison.compare_language`): intervals
            of every Δ, the winners and the verdicts on the paper's claims.

    Returns:
        A dict with keys

        * ``languages``: languages in the order of ``evals``;
        * ``models``: all models, ``base_name`` first, then :data:`MODEL_ORDER`, then others;
        * ``metrics``: all metrics, :data:`METRIC_ORDER` first, then others;
        * ``scores``: ``{lang: {model: {metric: score}}}``;
        * ``delta_vs_base``: ``{lang: {model: {metric: score - base score}}}`` for every non-base
          model and metric the base also has;
        * ``best``: ``{lang: {metric: {"model", "score", "delta_vs_base"}}}``, the highest-scoring
          non-base model (ties: the first in ``models`` order; ``delta_vs_base`` is ``None`` if
          the base lacks the metric);
        * ``diagnostics``: ``diagnostics`` passed through (``{}`` if not given);
        * ``sd`` and ``n_seeds``: ``{lang: {model: {metric: sd}}}`` over seeds (0.0 for one) and
          ``{lang: {model: seeds}}``;
        * ``seed_scores``: ``{lang: {model: {metric: [score per seed]}}}``;
        * ``fidelity``, ``intervals`` (``comparison[lang]["delta_vs_base"]``), ``winners``, ``claims`` and
          ``pairs`` (``comparison[lang]["pairs"]``: :func:`bootembed.comparison.compare_pairs`, an ablation's
          paired differences): passed through (``{}`` if not given).

        All scores and deltas are rounded to 4 decimals (deltas from unrounded scores).

    Raises:
        ValueError: ``evals`` is empty, a language has no ``base_name`` model, or a score is not a
            finite number (the message names language, model and metric).
    """
    if not evals:
        raise ValueError("evals: expected at least one language, got none")
    languages = [str(lang) for lang in evals]
    raw: dict[str, dict[str, dict[str, float]]] = {}
    per_seed: dict[str, dict[str, dict[str, list[float]]]] = {}
    for lang, models in evals.items():
        if base_name not in models:
            raise ValueError(
                f"evals[{lang!r}]: no scores for the base model {base_name!r} "
                f"(models: {sorted(models)})"
            )
        per_seed[lang] = {}
        for model, runs in models.items():
            runs = [runs] if isinstance(runs, Mapping) else list(runs)
            if not runs:
                raise ValueError(f"evals[{lang!r}][{model!r}]: expected at least one run")
            keys = list(dict.fromkeys(k for run in runs for k in run))
            per_seed[lang][model] = {
                k: [
                    _number(run[k], f"evals[{lang!r}][{model!r}][{k!r}]")
                    for run in runs
                    if k in run
                ]
                for k in keys
            }
        raw[lang] = {
            model: {k: sum(v) / len(v) for k, v in metrics.items()}
            for model, metrics in per_seed[lang].items()
        }
    models = _ordered(
        (m for per_lang in raw.values() for m in per_lang), MODEL_ORDER, first=base_name
    )
    metrics = _ordered(
        (k for per_lang in raw.values() for per_model in per_lang.values() for k in per_model),
        METRIC_ORDER,
    )

    scores: dict[str, dict[str, dict[str, float]]] = {}
    deltas: dict[str, dict[str, dict[str, float]]] = {}
    best: dict[str, dict[str, dict[str, Any]]] = {}
    for lang in languages:
        per_lang = raw[lang]
        base = per_lang[base_name]
        present = [m for m in models if m in per_lang]
        scores[lang] = {
            m: {k: _round(per_lang[m][k]) for k in metrics if k in per_lang[m]} for m in present
        }
        deltas[lang] = {
            m: {
                k: _round(per_lang[m][k] - base[k])
                for k in metrics
                if k in per_lang[m] and k in base
            }
            for m in present
            if m != base_name
        }
        best[lang] = {}
        for k in metrics:
            candidates = [m for m in present if m != base_name and k in per_lang[m]]
            if not candidates:
                continue
            winner = candidates[0]
            for m in candidates[1:]:
                if scores[lang][m][k] > scores[lang][winner][k]:
                    winner = m
            best[lang][k] = {
                "model": winner,
                "score": scores[lang][winner][k],
                "delta_vs_base": deltas[lang][winner].get(k),
            }
    sd = {
        lang: {
            m: {k: _round(mean_sd(v)["sd"]) for k, v in per_seed[lang][m].items()}
            for m in scores[lang]
        }
        for lang in languages
    }
    comparison = comparison or {}
    return {
        "languages": languages,
        "models": models,
        "metrics": metrics,
        "scores": scores,
        "sd": sd,
        "n_seeds": {
            lang: {m: max(len(v) for v in per_seed[lang][m].values()) for m in scores[lang]}
            for lang in languages
        },
        "seed_scores": {
            lang: {
                m: {k: [_round(x) for x in v] for k, v in per_seed[lang][m].items()}
                for m in scores[lang]
            }
            for lang in languages
        },
        "delta_vs_base": deltas,
        "intervals": {lang: c.get("delta_vs_base", {}) for lang, c in comparison.items()},
        "best": best,
        "winners": {lang: c.get("winners", {}) for lang, c in comparison.items()},
        "claims": {lang: c.get("claims", {}) for lang, c in comparison.items()},
        "pairs": {lang: c.get("pairs", {}) for lang, c in comparison.items()},
        "fidelity": _pass_through(fidelity or {}),
        "diagnostics": _pass_through(diagnostics or {}),
    }


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.{_DIGITS}f}"
    if value is None:
        return "–"
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _interval_text(interval: Mapping[str, Any]) -> str:
    mark = "*" if interval.get("significant") else ""
    return f"[{interval['low']:+.{_DIGITS}f}, {interval['high']:+.{_DIGITS}f}]{mark}"


def _verdict_lines(summary: dict, lang: str) -> list[str]:
    """The plain-language verdicts of one language: winner per metric, best synthetic strategy, paper claims."""
    winners = summary.get("winners", {}).get(lang, {})
    claims = summary.get("claims", {}).get(lang, {})
    if not winners:
        return []
    lines = ["", f"### Verdicts ({lang})", ""]
    for metric, entry in winners.items():
        vs_base = entry["vs_base"]
        text = (
            f"- **{metric}**: `{entry['model']}` scores highest ({entry['mean']:.{_DIGITS}f}; Δ vs base "
            f"{vs_base['delta']:+.{_DIGITS}f} {_interval_text(vs_base)}, "
            f"{'significant' if vs_base['significant'] else 'not significant'} against the base)"
        )
        if "runner_up" in entry:
            vs = entry["vs_runner_up"]
            text += (
                f"; its lead over `{entry['runner_up']}` is {vs['delta']:+.{_DIGITS}f} {_interval_text(vs)}: "
                f"{'a significant win' if entry['significant'] else 'not a significant win'}"
            )
        if "best_synthetic" in entry and entry["best_synthetic"] != entry["model"]:
            synthetic = entry["best_synthetic_vs_base"]
            text += (
                f". Best synthetic strategy: `{entry['best_synthetic']}`, Δ vs base "
                f"{synthetic['delta']:+.{_DIGITS}f} {_interval_text(synthetic)}"
            )
        lines.append(text + ".")
        for claim in claims.get(metric, {}).values():
            vs = claim["vs_baseline"]
            lines.append(
                f"  - paper: {claim['claim']} (`{claim['baseline']}`): Δ {vs['delta']:+.{_DIGITS}f} "
                f"{_interval_text(vs)} → **{claim['verdict']}**"
            )
    return lines


def _pair_lines(summary: dict, lang: str, metrics: list[str]) -> list[str]:
    """The paired-differences table of one language (an ablation: SWIM-IR's SAP vs plain prompting), if any."""
    pairs = summary.get("pairs", {}).get(lang, {})
    if not pairs:
        return []
    shown = [m for m in metrics if any(m in p["metrics"] for p in pairs.values())]
    rows = []
    for pair in pairs.values():
        row = [f"`{pair['a']}` − `{pair['b']}`"]
        for metric in shown:
            interval = pair["metrics"].get(metric)
            row.append(
                f"{interval['delta']:+.{_DIGITS}f} {_interval_text(interval)}" if interval else "–"
            )
        rows.append(row)
    return [
        "",
        f"### Paired differences ({lang})",
        "",
        "Δ = seed-mean score of the first model minus the second's, with its paired bootstrap interval over the "
        "test items; `*`: the interval excludes 0, so the difference is significant.",
        "",
        *_table(["pair", *shown], rows),
    ]


def render_markdown(summary: dict) -> str:
    """Render a :func:`build_summary` dict as Markdown: one score table per language, then its verdicts.

    Each language gets a table with one row per model (base first) and one column per metric. A cell reads the
    score, ``± sd`` over seeds when the model has several, and for a fine-tuned model Δ, its change against the
    base encoder, with the paired bootstrap interval when the summary has one (``(+0.1352 [+0.0801, +0.1903]*)``;
    ``*``: the interval excludes 0). The best fine-tuned model per column is bold, and ``–`` marks a missing
    score. Verdicts (winner per metric, the paper's claims), the fidelity of the training triplets and the
    synthesis diagnostics follow where the summary has them.

    Args:
        summary: Output of :func:`build_summary`.

    Returns:
        The Markdown text, ending with a newline.

    Raises:
        ValueError: ``summary`` lacks one of the keys :func:`build_summary` writes.
    """
    required = ("languages", "models", "metrics", "scores", "delta_vs_base", "best")
    missing = [key for key in required if key not in summary]
    if missing:
        raise ValueError(f"summary: missing key(s) {missing}; expected a build_summary() result")
    base_name = summary["models"][0] if summary["models"] else "base"
    lines = [
        "# Evaluation summary",
        "",
        f"Scores per language and metric (higher is better): the mean over training seeds ± their sd. In "
        f"parentheses: Δ, the change against the base encoder (`{base_name}`, not fine-tuned) on the same "
        "language and metric, and its paired bootstrap confidence interval over the test items; `*` marks an "
        "interval that excludes 0. **Bold**: the best fine-tuned model per metric.",
    ]
    diagnostics = summary.get("diagnostics") or {}
    fidelity = summary.get("fidelity") or {}
    for lang in summary["languages"]:
        scores = summary["scores"].get(lang, {})
        deltas = summary["delta_vs_base"].get(lang, {})
        sds = summary.get("sd", {}).get(lang, {})
        seeds = summary.get("n_seeds", {}).get(lang, {})
        intervals = summary.get("intervals", {}).get(lang, {})
        best = summary["best"].get(lang, {})
        metrics = [k for k in summary["metrics"] if any(k in s for s in scores.values())]
        rows = []
        for model in summary["models"]:
            if model not in scores:
                continue
            label = f"`{model}`" + (f" ({seeds[model]} seeds)" if seeds.get(model, 1) > 1 else "")
            row = [label]
            for k in metrics:
                if k not in scores[model]:
                    row.append("–")
                    continue
                text = _cell(scores[model][k])
                if seeds.get(model, 1) > 1 and k in sds.get(model, {}):
                    text += f" ± {sds[model][k]:.{_DIGITS}f}"
                if model != base_name and k in deltas.get(model, {}):
                    interval = intervals.get(model, {}).get(k)
                    extra = f" {_interval_text(interval)}" if interval else ""
                    text += f" ({deltas[model][k]:+.{_DIGITS}f}{extra})"
                if best.get(k, {}).get("model") == model:
                    text = f"**{text}**"
                row.append(text)
            rows.append(row)
        lines += ["", f"## {lang}", ""] + _table(["model", *metrics], rows)
        lines += _verdict_lines(summary, lang)
        lines += _pair_lines(summary, lang, metrics)
        lang_fidelity = fidelity.get(lang)
        if lang_fidelity:
            keys = list(dict.fromkeys(k for per_model in lang_fidelity.values() for k in per_model))
            order = [m for m in summary["models"] if m in lang_fidelity]
            order += [m for m in lang_fidelity if m not in order]
            fid_rows = [[f"`{m}`"] + [_cell(lang_fidelity[m].get(k)) for k in keys] for m in order]
            lines += [
                "",
                f"### Fidelity of the training triplets ({lang}, base encoder)",
                "",
                "Cosines of each anchor with its own positive / hard negative and with those of other anchors "
                "(shuffled); `positive_closer_share`: triplets whose positive is closer than their negative "
                "(chance 0.5).",
                "",
            ] + _table(["model", *keys], fid_rows)
        lang_diag = diagnostics.get(lang)
        if lang_diag:
            keys = list(dict.fromkeys(k for per_model in lang_diag.values() for k in per_model))
            order = [m for m in summary["models"] if m in lang_diag]
            order += [m for m in lang_diag if m not in order]
            diag_rows = [[f"`{m}`"] + [_cell(lang_diag[m].get(k)) for k in keys] for m in order]
            lines += ["", f"### Diagnostics ({lang})", ""] + _table(["model", *keys], diag_rows)
    return "\n".join(lines) + "\n"


def write_plot_data(summary: dict, out_dir: str | Path) -> list[Path]:
    """Write one CSV per metric for ``dvc plots``: ``out_dir/<metric>.csv``.

    Each CSV has the columns ``model,language,score`` (:data:`PLOT_COLUMNS`), one row per
    (language, model) that has the metric, languages in summary order and models base first.
    Files are written atomically (:func:`bootembed.io.atomic_file`).

    Args:
        summary: Output of :func:`build_summary`.
        out_dir: Folder for the CSVs (created if missing).

    Returns:
        The written paths, in summary metric order.

    Raises:
        ValueError: ``summary`` lacks ``metrics``/``languages``/``models``/``scores``, or a metric
            name is not usable as a file name (allowed: letters, digits, ``_``, ``.``, ``-``).
    """
    for key in ("metrics", "languages", "models", "scores"):
        if key not in summary:
            raise ValueError(f"summary: missing key {key!r}; expected a build_summary() result")
    out_dir = Path(out_dir)
    written = []
    for metric in summary["metrics"]:
        if not _SAFE_NAME.match(metric) or metric.startswith("."):
            raise ValueError(
                f"summary['metrics']: {metric!r} is not usable as a file name "
                "(letters, digits, '_', '.', '-' only)"
            )
        rows: dict[str, list[Any]] = {c: [] for c in PLOT_COLUMNS}
        for lang in summary["languages"]:
            per_lang = summary["scores"].get(lang, {})
            for model in summary["models"]:
                if metric in per_lang.get(model, {}):
                    rows["model"].append(model)
                    rows["language"].append(lang)
                    rows["score"].append(float(per_lang[model][metric]))
        frame = pl.DataFrame(
            rows, schema={"model": pl.String, "language": pl.String, "score": pl.Float64}
        )
        path = out_dir / f"{metric}.csv"
        with atomic_file(path) as tmp:
            frame.write_csv(tmp)
        written.append(path)
    logger.info("wrote %d plot CSV(s) to %s", len(written), out_dir)
    return written
