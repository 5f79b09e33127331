"""Tests for bootembed.report: summary, deltas, best model, Markdown and plot CSVs."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import polars as pl
import pytest

from bootembed.evaluation.tasks import TASKS
from bootembed.report import (
    METRIC_ORDER,
    MODEL_ORDER,
    build_summary,
    render_markdown,
    write_plot_data,
)
from bootembed.strategies import STRATEGIES


def _evals() -> dict:
    return {
        "hau_Latn": {
            "xllora": {"semrel_spearman": 0.47104, "sib200_accuracy": 0.61},
            "base": {"semrel_spearman": 0.33582, "sib200_accuracy": 0.60, "tatoeba_f1": 0.2},
            "translation": {"semrel_spearman": 0.40, "sib200_accuracy": 0.65, "tatoeba_f1": 0.3},
            "icl": {"semrel_spearman": 0.47104, "sib200_accuracy": 0.55, "tatoeba_f1": 0.25},
            "custom": {"semrel_spearman": 0.1, "extra_metric": 0.9},
        },
        "yor_Latn": {
            "base": {"sib200_accuracy": 0.5},
            "english": {"sib200_accuracy": 0.45},
        },
    }


def _diagnostics() -> dict:
    return {
        "hau_Latn": {
            "xllora": {"failure_rate_positive": 0.012345, "dice": 0.3, "code_switching": 0.0},
            "icl": {"failure_rate_positive": 0.2, "dice": 0.5},
        }
    }


def test_orders_come_from_the_registries() -> None:
    # the same canonical orders as before the registries: base, baselines, then the paper's strategies
    swim = (
        "crosslingual_sap",
        "crosslingual_plain",
        "monolingual_sap",
        "monolingual_plain",
        "swapped_sap",
        "swapped_plain",
    )
    assert MODEL_ORDER == ("base", "translation", "english", "icl", "composition", "xllora", *swim)
    assert MODEL_ORDER[1:] == tuple(n for s in STRATEGIES.ordered() for n in s.report_names())
    assert METRIC_ORDER[:7] == (
        "semrel_spearman",
        "flores_bitext_f1_tgt2eng",
        "flores_bitext_f1_eng2tgt",
        "flores_retrieval_recall_at_10",
        "flores_retrieval_ndcg_at_10",
        "sib200_accuracy",
        "tatoeba_f1",
    )
    assert METRIC_ORDER[7:10] == (
        "swim_ir_tgt2eng_ndcg_at_10",
        "swim_ir_tgt2eng_recall_at_10",
        "swim_ir_tgt2eng_mrr_at_10",
    )
    assert METRIC_ORDER == tuple(m for task in TASKS.ordered() for m in task.metrics)


def test_summary_structure_deltas_and_best() -> None:
    s = build_summary(_evals(), _diagnostics())
    assert s["languages"] == ["hau_Latn", "yor_Latn"]
    assert s["models"] == ["base", "translation", "english", "icl", "xllora", "custom"]
    assert s["metrics"] == ["semrel_spearman", "sib200_accuracy", "tatoeba_f1", "extra_metric"]
    assert s["scores"]["hau_Latn"]["xllora"] == {"semrel_spearman": 0.471, "sib200_accuracy": 0.61}
    assert list(s["scores"]["hau_Latn"]) == ["base", "translation", "icl", "xllora", "custom"]
    assert s["scores"]["hau_Latn"]["base"]["semrel_spearman"] == 0.3358
    d = s["delta_vs_base"]["hau_Latn"]
    assert "base" not in d
    assert d["xllora"]["semrel_spearman"] == pytest.approx(0.1352)
    assert d["icl"]["sib200_accuracy"] == pytest.approx(-0.05)
    assert d["custom"] == {"semrel_spearman": pytest.approx(-0.2358)}  # base lacks extra_metric
    assert s["delta_vs_base"]["yor_Latn"]["english"]["sib200_accuracy"] == pytest.approx(-0.05)
    best = s["best"]["hau_Latn"]
    # tie between icl and xllora on semrel: the first in model order wins
    assert best["semrel_spearman"] == {
        "model": "icl",
        "score": 0.471,
        "delta_vs_base": pytest.approx(0.1352),
    }
    assert best["sib200_accuracy"]["model"] == "translation"
    assert best["tatoeba_f1"]["model"] == "translation"
    assert best["extra_metric"] == {"model": "custom", "score": 0.9, "delta_vs_base": None}
    # the best fine-tuned model may be worse than the base
    assert s["best"]["yor_Latn"]["sib200_accuracy"]["model"] == "english"
    assert "tatoeba_f1" not in s["best"]["yor_Latn"]
    assert s["diagnostics"]["hau_Latn"]["xllora"]["failure_rate_positive"] == 0.0123
    json.dumps(s)  # JSON-ready


def test_summary_rounding_and_custom_base() -> None:
    s = build_summary({"hau_Latn": {"ref": {"m": 0.123456}, "b": {"m": 0.123449}}}, base_name="ref")
    assert s["models"] == ["ref", "b"]
    assert s["scores"]["hau_Latn"]["ref"]["m"] == 0.1235
    assert s["delta_vs_base"]["hau_Latn"]["b"]["m"] == 0.0  # rounded, no negative zero
    assert math.copysign(1.0, s["delta_vs_base"]["hau_Latn"]["b"]["m"]) == 1.0
    assert s["diagnostics"] == {}


def test_summary_errors() -> None:
    with pytest.raises(ValueError, match=r"evals\['yor_Latn'\].*base"):
        build_summary({"hau_Latn": {"base": {"m": 0.1}}, "yor_Latn": {"icl": {"m": 0.2}}})
    with pytest.raises(ValueError, match=r"\['icl'\]\['m'\].*finite"):
        build_summary({"hau_Latn": {"base": {"m": 0.1}, "icl": {"m": float("nan")}}})
    with pytest.raises(ValueError, match="number"):
        build_summary({"hau_Latn": {"base": {"m": "0.1"}}})
    with pytest.raises(ValueError, match="at least one language"):
        build_summary({})


def test_render_markdown() -> None:
    md = render_markdown(build_summary(_evals(), _diagnostics()))
    lines = md.splitlines()
    assert lines[0] == "# Evaluation summary"
    assert "base encoder" in md and "Δ" in md
    hau = lines.index("## hau_Latn")
    assert lines[hau + 2] == (
        "| model | semrel_spearman | sib200_accuracy | tatoeba_f1 | extra_metric |"
    )
    hau_table = lines[hau + 4 : lines.index("### Diagnostics (hau_Latn)")]
    rows = {line.split(" | ")[0]: line for line in hau_table if line.startswith("| `")}
    assert rows["| `base`"] == "| `base` | 0.3358 | 0.6000 | 0.2000 | – |"
    assert rows["| `xllora`"] == "| `xllora` | 0.4710 (+0.1352) | 0.6100 (+0.0100) | – | – |"
    assert rows["| `icl`"] == (
        "| `icl` | **0.4710 (+0.1352)** | 0.5500 (-0.0500) | 0.2500 (+0.0500) | – |"
    )
    assert "**0.6500 (+0.0500)**" in rows["| `translation`"]
    assert "**0.9000**" in rows["| `custom`"]
    # base rows come first in each language table
    assert lines[hau + 4].startswith("| `base` |")
    diag = lines.index("### Diagnostics (hau_Latn)")
    assert diag > hau
    assert lines[diag + 2] == "| model | failure_rate_positive | dice | code_switching |"
    assert lines[diag + 4] == "| `icl` | 0.2000 | 0.5000 | – |"
    assert lines[diag + 5] == "| `xllora` | 0.0123 | 0.3000 | 0.0000 |"
    yor = lines.index("## yor_Latn")
    assert yor > diag
    assert lines[yor + 2] == "| model | sib200_accuracy |"
    assert lines[yor + 5] == "| `english` | **0.4500 (-0.0500)** |"
    assert "Diagnostics (yor_Latn)" not in md
    with pytest.raises(ValueError, match="missing key"):
        render_markdown({"languages": []})


def test_write_plot_data(tmp_path: Path) -> None:
    s = build_summary(_evals())
    out = tmp_path / "plots"
    paths = write_plot_data(s, out)
    assert paths == [out / f"{m}.csv" for m in s["metrics"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{m}.csv" for m in s["metrics"])
    sib = pl.read_csv(out / "sib200_accuracy.csv")
    assert sib.columns == ["model", "language", "score"]
    assert sib.rows() == [
        ("base", "hau_Latn", 0.6),
        ("translation", "hau_Latn", 0.65),
        ("icl", "hau_Latn", 0.55),
        ("xllora", "hau_Latn", 0.61),
        ("base", "yor_Latn", 0.5),
        ("english", "yor_Latn", 0.45),
    ]
    assert (out / "extra_metric.csv").read_text(encoding="utf-8").splitlines() == [
        "model,language,score",
        "custom,hau_Latn,0.9",
    ]
    # rewriting replaces the files in place
    write_plot_data(build_summary({"hau_Latn": {"base": {"tatoeba_f1": 0.7}}}), out)
    assert pl.read_csv(out / "tatoeba_f1.csv").rows() == [("base", "hau_Latn", 0.7)]
    with pytest.raises(ValueError, match="file name"):
        write_plot_data(build_summary({"x": {"base": {"../evil": 0.1}}}), out)


def test_report_stage_reads_seeds_items_fidelity_and_curves(tmp_path: Path) -> None:
    """The ``report`` stage on the folder layout of ``dvc.yaml``: one evaluation per training seed."""
    import numpy as np
    from conftest import load_default_params

    from bootembed.curves import LiveCurves
    from bootembed.stages.report import headline_key, run

    params = load_default_params(
        languages=["hau_Latn"],
        strategies=["translation", "xllora"],
        train_encoder={"seeds": [1, 2, 3]},
        swim_ir={
            "variants": []
        },  # no SWIM-IR retriever; the base encoder's SWIM-IR evaluation still joins
        filter={
            "ablation": []
        },  # no ablation encoders (tests/test_ablation.py runs the report with them)
    )
    rng = np.random.default_rng(0)
    gold = rng.random(120)
    lang = "hau_Latn"

    def write(rel: str, shift: float) -> None:
        cosine = gold * shift + rng.normal(0, 0.3, gold.size)
        entry = {"statistic": "spearman", "values": [cosine.tolist(), gold.tolist()]}
        items = tmp_path / "results" / lang / rel / "items.json"
        items.parent.mkdir(parents=True, exist_ok=True)
        items.write_text(json.dumps({"language": lang, "items": {"semrel_spearman": entry}}))
        from bootembed.evaluation.item_metrics import spearman

        score = spearman((cosine, gold), np.arange(gold.size))
        path = tmp_path / "eval" / lang / f"{rel}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"scores": {"semrel_spearman": score}}))

    write("base", 0.2)
    swim = tmp_path / "eval" / lang / "swim_ir" / "base.json"
    swim.parent.mkdir(parents=True)
    swim.write_text(json.dumps({"scores": {"swim_ir_tgt2eng_ndcg_at_10": 0.35}}))
    swim_items = {"swim_ir_tgt2eng_ndcg_at_10": {"statistic": "mean", "values": [0.3, 0.4]}}
    (tmp_path / "results" / lang / "swim_ir" / "base").mkdir(parents=True)
    (tmp_path / "results" / lang / "swim_ir" / "base" / "items.json").write_text(
        json.dumps({"language": lang, "items": swim_items})
    )
    for seed in (1, 2, 3):
        write(f"translation/seed{seed}", 2.0)
        write(f"xllora/seed{seed}", 0.2)
    fidelity = tmp_path / "fidelity" / lang / "xllora.json"
    fidelity.parent.mkdir(parents=True)
    fidelity.write_text(json.dumps({"fidelity": {"positive_closer_share": 0.55, "n": 100.0}}))
    curves = tmp_path / "dvclive"  # as the training stages log them (bootembed.curves)
    live = LiveCurves(curves / "train_generator" / "task" / "positive")
    live.start([{"step": 1, "loss": 2.0}, {"step": 5, "loss": 1.0}])
    live.finish(None)
    triplets = tmp_path / "triplets" / lang
    triplets.mkdir(parents=True)
    pl.DataFrame(
        {
            "anchor": ["Ina <son> ruwa & abinci", "Yana da kyau"],
            "positive": ["I like water", "It is good"],
            "negative": ["I hate water", "It is bad"],
        }
    ).write_parquet(triplets / "xllora.parquet")
    out = tmp_path / "summary.json"
    paths = {
        "params_path": tmp_path / "params.yaml",
        "eval_dir": tmp_path / "eval",
        "diagnostics_dirs": (),
        "out": out,
        "markdown": tmp_path / "summary.md",
        "plots_dir": tmp_path / "plots",
        "results_dir": tmp_path / "results",
        "fidelity_dir": tmp_path / "fidelity",
        "triplets_dir": tmp_path / "triplets",
    }
    summary = run(params, **paths, curves_dir=curves)
    assert json.loads(out.read_text()) == summary
    assert summary["n_seeds"][lang] == {"base": 1, "translation": 3, "xllora": 3}
    assert summary["scores"][lang]["base"]["swim_ir_tgt2eng_ndcg_at_10"] == 0.35
    assert summary["intervals"][lang]["translation"]["semrel_spearman"]["significant"]
    assert summary["winners"][lang]["semrel_spearman"]["model"] == "translation"
    assert summary["claims"][lang]["semrel_spearman"]["xllora"]["baseline"] == "translation"
    assert summary["fidelity"][lang]["xllora"]["positive_closer_share"] == 0.55
    assert summary["bootstrap"]["resamples"] == params.report.bootstrap_resamples
    # the curves' DVC plots are the dvclive folders, not a copy
    assert not (tmp_path / "plots" / "curves").exists()

    # Headline metrics: one small file per model, seed means under short keys (the only DVC metrics).
    headline = sorted(p.relative_to(tmp_path) for p in (tmp_path / "headline").rglob("*.json"))
    assert [p.as_posix() for p in headline] == [
        f"headline/{lang}/base.json",
        f"headline/{lang}/translation.json",
        f"headline/{lang}/xllora.json",
    ]
    xllora = json.loads((tmp_path / "headline" / lang / "xllora.json").read_text())
    assert xllora == {"semrel": summary["scores"][lang]["xllora"]["semrel_spearman"]}
    assert headline_key("flores_retrieval_recall_at_10") == "recall@10"
    assert headline_key("flores_bitext_f1_tgt2eng") == "bitext_t2e"
    assert headline_key("SemRel24STS_cosine_spearman") == "SemRel24STS_cosine_spearman"
    from bootembed.evaluation.tasks import metric_order
    from bootembed.stages.report import _in_headline

    keys = [
        headline_key(m) for m in metric_order() if _in_headline(m)
    ]  # one short key per headline metric, the default row fits 120 columns
    assert len(set(keys)) == len(keys) and sum(len(k) for k in keys) <= 80
    assert not _in_headline("swim_ir_eng2tgt_mrr_at_10") and _in_headline(
        "SemRel24STS_cosine_spearman"
    )

    # The offline HTML report: tables, a chart per metric, the curves, escaped triplets; nothing external.
    page = (tmp_path / "report.html").read_text()
    assert "<table>" in page and "Verdicts" in page
    assert (
        page.count("<svg") == len(summary["metrics"]) + 1
    )  # one chart per metric + the generator curves
    assert "Ina &lt;son&gt; ruwa &amp; abinci" in page and "<son>" not in page
    assert "<script" not in page
    assert re.findall(r'(?:src|href)="(?!#)[^"]*"', page) == []  # no link out of the page
    assert page == (tmp_path / "report.html").read_text()
    run(params, **paths, curves_dir=curves)
    assert (tmp_path / "report.html").read_text() == page  # the same inputs, the same page

    (tmp_path / "eval" / lang / "xllora/seed2.json").unlink()
    with pytest.raises(Exception, match=r"xllora/seed2\.json"):
        run(params, **paths)
