"""``dvc.yaml`` lists every module each stage runs, and is exactly what the registries render."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bootembed.pipeline import missing_code_deps, render_dvc_yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_dvc_yaml()


def test_dvc_yaml_is_rendered_from_the_registries(rendered: str):
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == rendered, (
        "dvc.yaml is out of date: run `bootembed dvc-yaml`"
    )
    # one synthesize matrix stage over strategy x language, not a copy per strategy
    assert rendered.count("\n  synthesize:") == 1
    assert "strategy: [icl, composition, xllora]" in rendered


def test_only_the_headline_files_are_dvc_metrics(rendered: str):
    """Issue 16: `dvc metrics show` reads the headline files only; every stage's log JSON is a plain output."""
    import yaml

    stages = yaml.safe_load(rendered)["stages"]
    declared = {name: stage.get("metrics", []) for name, stage in stages.items()}
    assert {n: m for n, m in declared.items() if m} == {
        "report": [{"metrics/headline": {"cache": False}}]
    }
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in stages["evaluate"]["outs"]]
    assert "metrics/eval/${item.language}/${item.strategy}/seed${item.seed}.json" in outs
    assert {"metrics/summary.json": {"cache": False}} in stages["report"]["outs"]


def test_every_trainer_logs_its_curves_as_dvc_plots(rendered: str):
    """Issue 16: each training stage passes --live-dir; each of its runs' dvclive `plots` folder is a DVC plot over
    `step`, its `metrics.json` a plain output; the report reads the dvclive folders."""
    import yaml

    stages = yaml.safe_load(rendered)["stages"]
    trainers = {
        name: stage
        for name, stage in stages.items()
        if re.search(r"bootembed train-(generator|language-adapter|encoder) ", stage["cmd"])
    }
    assert set(trainers) == {
        "train_task_adapters",
        "train_reference_adapter",
        "train_language_adapter",
        "train_xllora",
        "train_encoder",
        "train_encoder_ablation",
        "swim_ir_train",
    }
    for name, stage in trainers.items():
        live = re.search(r"--live-dir (\S+)", stage["cmd"]).group(1)
        assert live.startswith("metrics/dvclive/"), name
        runs = []
        for plot in stage["plots"]:
            ((path, options),) = plot.items()
            assert options == {"cache": False, "x": "step"} and path.endswith("/plots"), (
                name,
                plot,
            )
            runs.append(path.removesuffix("/plots"))
        expected = (
            [f"{live}/positive", f"{live}/negative"]
            if "train-generator" in stage["cmd"]
            else [live]
        )
        assert runs == expected, name
        assert all({f"{run}/metrics.json": {"cache": False}} in stage["outs"] for run in runs), name
    assert "metrics/dvclive" in stages["report"]["deps"]
    assert "--curves-dir metrics/dvclive" in stages["report"]["cmd"]


def test_every_imported_module_is_a_dependency():
    assert missing_code_deps(REPO / "dvc.yaml") == {}


def test_a_removed_dependency_is_caught(tmp_path: Path):
    text = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    stage = text.index("\n  filter:")
    dep = "      - src/bootembed/filtering.py\n"
    at = text.index(dep, stage)
    (tmp_path / "dvc.yaml").write_text(text[:at] + text[at + len(dep) :], encoding="utf-8")
    assert missing_code_deps(tmp_path / "dvc.yaml") == {"filter": ["src/bootembed/filtering.py"]}


def test_stages_read_the_mirror_files_they_use():
    text = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    evaluate = text[text.index("\n  evaluate:") :]
    for path in ("flores200/devtest/${item.language}.devtest", "semrel2024", "tatoeba"):
        assert re.search(r"- \$\{data\.root\}/" + re.escape(path), evaluate), path
