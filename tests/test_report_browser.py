"""The committed offline report (metrics/report.html) in headless Chromium: it renders with no network, its charts
are drawn (DOM and pixels), and a screenshot of it is taken (in the test's tmp folder).

Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it where it is missing); skipped, saying
why, where it is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "metrics" / "report.html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Headless, sandbox-less (containers, root), no GPU, and nothing that reaches the network by itself.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Bar colours of the score charts (bootembed.html_report.chart_metric): fine-tuned models, the base encoder; and
#: matplotlib's first line colour (the first curve of every training-curve chart).
FINE_TUNED, BASE, FIRST_CURVE = (59, 117, 175), (136, 136, 136), (31, 119, 180)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run does)",
)


def _chromium(args: list[str], profile: Path) -> str:
    """Run headless Chromium with a new empty profile folder; its stdout."""
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _pixels(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(image.astype(int) - np.array(colour)).max(axis=2) <= tolerance).sum())


def test_the_report_renders_offline_with_drawn_charts(tmp_path: Path) -> None:
    from PIL import Image

    summary = json.loads((REPO / "metrics" / "summary.json").read_text(encoding="utf-8"))
    metrics = summary["metrics"]
    # The bars each chart must draw: a model per language that has a score for the metric (the SWIM-IR retrievers
    # are scored on the SWIM-IR tasks only, the strategies' encoders on the strategies' tasks only).
    bars = {}  # metric -> (base bars, fine-tuned bars)
    for metric in metrics:
        scored = [
            model
            for by_model in summary["scores"].values()
            for model in summary["models"]
            if metric in by_model.get(model, {})
        ]
        base = scored.count("base")
        bars[metric] = (base, len(scored) - base)
    assert all(sum(counts) for counts in bars.values()), bars

    # DOM: Chromium parsed one figure per task metric (a bar per model) and the training-curve charts (lines).
    dom = _chromium(["--dump-dom", REPORT.as_uri()], tmp_path / "profile-dom")
    assert "<h1>bootembed report</h1>" in dom
    figures = re.findall(r"<figure>(.*?)</figure>", dom, flags=re.S)
    charts = [f for f in figures if "seed mean ± sd" in f]
    curves = [f for f in figures if "training loss" in f]
    assert len(charts) == len(metrics) and curves, (len(figures), len(charts), len(curves))
    for chart in charts:
        metric = re.search(r"<figcaption>(\w+): seed mean", chart).group(1)
        base, fine_tuned = bars[metric]
        assert len(re.findall(r"fill: ?#3b75af", chart)) == fine_tuned, (metric, bars[metric])
        assert len(re.findall(r"fill: ?#888888", chart)) == base, (metric, bars[metric])
    for chart in curves:
        lines = re.findall(r'<path d="M [^"]*\sL [^"]*"[^>]*stroke: ?#1f77b4', chart)
        assert lines, chart[:300]

    # Pixels: the screenshot shows the bars and the curves, the page is not blank.
    shot = tmp_path / "report.png"
    _chromium(
        ["--hide-scrollbars", "--window-size=1280,9000", f"--screenshot={shot}", REPORT.as_uri()],
        tmp_path / "profile-shot",
    )
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (9000, 1280)
    drawn = np.flatnonzero((image < 240).any(axis=2).any(axis=1))
    assert drawn.max() - drawn.min() > 3000  # tables, charts, curves and samples, top to bottom
    assert _pixels(image, FINE_TUNED) > 2000 * sum(fine_tuned for _, fine_tuned in bars.values())
    assert _pixels(image, BASE) > 2000 * sum(base for base, _ in bars.values())
    assert _pixels(image, FIRST_CURVE) > 100 * len(curves)
