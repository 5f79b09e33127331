"""An offline, self-contained HTML report of a run: tables, one chart per task metric, the training curves and a
sample of synthetic triplets per strategy.

Everything is inside the one file: the tables are the Markdown report (:func:`bootembed.report.render_markdown`)
rendered by ``markdown-it-py``, the charts are matplotlib SVGs written inline, and there is no script and no link to
a CDN, so the page renders with no network (``dvc plots show`` loads vega from a CDN and renders blank offline).

Example:
    >>> from bootembed.html_report import render_html
    >>> page = render_html(summary, markdown_text, curves={}, samples={})  # doctest: +SKIP
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["chart_metric", "chart_curves", "render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; table-layout: fixed; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f3f3f3; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.charts figure { margin: 0; }
figcaption { font-size: 0.85em; color: #555; }
"""


def _svg(figure: Any) -> str:
    """The figure as an inline ``<svg>`` element (the XML prologue dropped); closes the figure."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    # text as <text> (no glyph ids shared between the inline SVGs), fixed ids and no date: the same run, the same page
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bootembed"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def chart_metric(summary: Mapping[str, Any], metric: str) -> str:
    """A horizontal bar chart of one metric: a bar per model (seed mean, ± sd whiskers), a panel per language.

    Args:
        summary: :func:`bootembed.report.build_summary` output (``scores``, ``sd``, ``models``, ``languages``).
        metric: a metric of ``summary["metrics"]`` (``semrel_spearman``).

    Returns:
        An inline SVG element (text).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = list(summary["languages"])
    figure, axes = plt.subplots(
        1, len(languages), figsize=(4.2 * len(languages), 0.35 * len(summary["models"]) + 1.0)
    )
    axes = [axes] if len(languages) == 1 else list(axes)
    for ax, language in zip(axes, languages, strict=True):
        scores = summary["scores"].get(language, {})
        models = [m for m in summary["models"] if metric in scores.get(m, {})]
        values = [scores[m][metric] for m in models]
        errors = [
            summary.get("sd", {}).get(language, {}).get(m, {}).get(metric, 0.0) for m in models
        ]
        colours = ["#888888" if m == "base" else "#3b75af" for m in models]
        ax.barh(models, values, xerr=errors, color=colours, capsize=3)
        ax.invert_yaxis()
        ax.set_title(language, fontsize=10)
        ax.set_xlabel(metric, fontsize=9)
        ax.tick_params(labelsize=8)
    return _svg(figure)


def chart_curves(title: str, curves: Mapping[str, Sequence[tuple[int, float]]]) -> str:
    """A line chart of training loss against step, a line per curve.

    Args:
        title: the chart title.
        curves: ``{name: [(step, loss), ...]}`` (:func:`bootembed.curves.read_loss_curves`).

    Returns:
        An inline SVG element (text).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(5.2, 3.2))
    for name, rows in curves.items():
        if rows:
            steps, losses = zip(*rows, strict=True)
            # a run with one or two logged steps (smoke sizes) is drawn as points, not an invisible line
            ax.plot(steps, losses, label=name, linewidth=1.2, marker="o" if len(rows) < 3 else None)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step", fontsize=9)
    ax.set_ylabel("training loss", fontsize=9)
    ax.tick_params(labelsize=8)
    if len(curves) <= 12:
        ax.legend(fontsize=6)
    return _svg(figure)


def _curve_groups(
    curves: Mapping[str, Sequence[tuple[int, float]]],
) -> dict[str, dict[str, Sequence[tuple[int, float]]]]:
    """Curves grouped for one chart each: generator adapters together, the encoders of each language/strategy."""
    groups: dict[str, dict[str, Sequence[tuple[int, float]]]] = {}
    for name, rows in sorted(curves.items()):
        parts = name.split("/")
        if parts[0] == "train_encoder" and len(parts) >= 3:
            group, label = f"encoders {parts[1]} {parts[2]}", "/".join(parts[3:]) or parts[2]
        else:
            group, label = "generator adapters", "/".join(parts[1:]) or name
        groups.setdefault(group, {})[label] = rows
    return groups


def _samples_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "<tr><th>anchor</th><th>positive</th><th>hard negative</th></tr>"
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(row.get(k, '')))}</td>"
            for k in ("anchor", "positive", "negative")
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{head}{body}</table>"


def render_html(
    summary: Mapping[str, Any],
    markdown_text: str,
    *,
    curves: Mapping[str, Sequence[tuple[int, float]]],
    samples: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
) -> str:
    """The whole report as one HTML page with no external resource.

    Args:
        summary: :func:`bootembed.report.build_summary` output.
        markdown_text: its Markdown rendering (the tables: scores, Δ with intervals, verdicts, fidelity,
            diagnostics, filter counts).
        curves: training loss curves, ``{"train_encoder/<lang>/<strategy>/seed<N>": [(step, loss), ...]}``
            (:func:`bootembed.curves.read_loss_curves`): a chart for the generator adapters, one per language
            and strategy for the encoders.
        samples: ``{language: {strategy: [{"anchor", "positive", "negative"}, ...]}}`` training triplets.

    Returns:
        The HTML text (UTF-8, no ``<script>``, no external ``src`` / ``href``).
    """
    from markdown_it import MarkdownIt

    tables = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)
    charts = "".join(
        f"<figure>{chart_metric(summary, metric)}<figcaption>{html.escape(metric)}: seed mean ± sd"
        "</figcaption></figure>"
        for metric in summary["metrics"]
    )
    curve_charts = "".join(
        f"<figure>{chart_curves(group, members)}</figure>"
        for group, members in _curve_groups(curves).items()
    )
    sample_sections = "".join(
        f"<h3>{html.escape(language)} / {html.escape(strategy)}</h3>{_samples_table(rows)}"
        for language, by_strategy in samples.items()
        for strategy, rows in by_strategy.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>bootembed report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>bootembed report</h1>"
        f"{tables}"
        f'<h2>Scores per task</h2><div class="charts">{charts}</div>'
        f'<h2>Training curves</h2><div class="charts">{curve_charts or "<p>none recorded</p>"}</div>'
        f"<h2>Synthetic triplets (a sample per strategy)</h2>{sample_sections or '<p>none</p>'}"
        "</body></html>\n"
    )
