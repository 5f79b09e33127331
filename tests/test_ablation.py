"""The filter ablation (bootembed.ablation) and the report stage's ablation table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bootembed.ablation import ARMS, ablation_summary, render_ablation_markdown

N = 200


def _items(rng: np.random.Generator, p: float, spearman: bool = False) -> dict:
    """Per-item data of one seed: a recall-like 0/1 metric with success rate ``p`` (and a Spearman metric)."""
    gold = np.linspace(0, 1, N)
    items = {
        "flores_retrieval_recall_at_10": {
            "statistic": "mean",
            "values": (rng.random(N) < p).astype(float).tolist(),
        }
    }
    if spearman:  # its bootstrap is slow (a rank correlation per resample): in one test only
        items["semrel_spearman"] = {
            "statistic": "spearman",
            "values": [(gold * p + rng.normal(0, 0.3, N)).tolist(), gold.tolist()],
        }
    return items


def _runs(seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "hau_Latn": {
            "icl": {
                "unfiltered": [_items(rng, 0.5) for _ in range(3)],
                "filtered": [_items(rng, 0.8) for _ in range(3)],
                "mined": [_items(rng, 0.8) for _ in range(3)],
            }
        }
    }


def test_summary_intervals_and_markdown() -> None:
    summary = ablation_summary(
        _runs(), variants=["unfiltered", "mined"], resamples=1000, confidence=0.95, seed=1
    )
    entry = summary["languages"]["hau_Latn"]["icl"]
    assert list(entry["scores"]) == ["unfiltered", "filtered", "mined"]
    recall = entry["scores"]["filtered"]["flores_retrieval_recall_at_10"]
    assert recall["n"] == 3 and 0.7 < recall["mean"] < 0.9 and recall["sd"] > 0
    filtering = entry["deltas"]["filtering"]["flores_retrieval_recall_at_10"]
    assert filtering["significant"] and filtering["low"] > 0  # 0.8 vs 0.5 over 200 items x 3 seeds
    assert filtering["n_items"] == N and filtering["n_seeds"] == 3 and filtering["seed"] == 1
    mining = entry["deltas"]["mining"]["flores_retrieval_recall_at_10"]
    assert mining["low"] < 0 < mining["high"]  # the same rate: no effect
    again = ablation_summary(
        _runs(), variants=["unfiltered", "mined"], resamples=1000, confidence=0.95, seed=1
    )
    assert again == summary
    text = render_ablation_markdown(summary)
    assert "| `icl` | filtered + mined negatives |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `icl` | filtered |"))
    assert (
        f"({filtering['delta']:+.4f} [{filtering['low']:+.4f}, {filtering['high']:+.4f}]*)" in row
    )
    unfiltered = next(line for line in text.splitlines() if "| unfiltered |" in line)
    assert "[" not in unfiltered  # the first arm has nothing to compare with


def test_one_variant_and_none() -> None:
    runs = _runs()
    del runs["hau_Latn"]["icl"]["unfiltered"]
    summary = ablation_summary(runs, variants=["mined"], resamples=1000, confidence=0.9, seed=0)
    assert list(summary["languages"]["hau_Latn"]["icl"]["deltas"]) == ["mining"]
    empty = ablation_summary({}, variants=[], resamples=1000, confidence=0.95, seed=0)
    assert empty["languages"] == {} and "filter.ablation=[unfiltered,mined]" in empty["note"]
    assert "filter.ablation is empty" in render_ablation_markdown(empty)
    assert list(ARMS) == ["unfiltered", "filtered", "mined"]
    with pytest.raises(KeyError, match="filtered"):
        ablation_summary(
            {"hau_Latn": {"icl": {"mined": runs["hau_Latn"]["icl"]["mined"]}}},
            variants=["mined"],
            resamples=1000,
            confidence=0.95,
            seed=0,
        )


def test_report_stage_writes_the_ablation(tmp_path: Path) -> None:
    from conftest import load_default_params

    from bootembed.evaluation.item_metrics import spearman
    from bootembed.stages.report import collect_ablation, run

    lang, seeds = "hau_Latn", [1, 2]
    rng = np.random.default_rng(0)

    def write(rel: str, p: float) -> None:
        items = _items(rng, p, spearman=True)
        path = tmp_path / "results" / lang / rel / "items.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"language": lang, "items": items}))
        entry = items["semrel_spearman"]["values"]
        score = spearman((np.asarray(entry[0]), np.asarray(entry[1])), np.arange(N))
        recall = float(np.mean(items["flores_retrieval_recall_at_10"]["values"]))
        out = tmp_path / "eval" / lang / f"{rel}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        scores = {"semrel_spearman": score, "flores_retrieval_recall_at_10": recall}
        out.write_text(json.dumps({"scores": scores}))

    write("base", 0.4)
    # the base encoder's SWIM-IR evaluation (run whatever swim_ir.variants holds)
    write("swim_ir/base", 0.4)
    for seed in seeds:
        write(f"icl/seed{seed}", 0.8)
        write(f"icl/unfiltered/seed{seed}", 0.5)
    paths = {
        "params_path": tmp_path / "params.yaml",
        "eval_dir": tmp_path / "eval",
        "diagnostics_dirs": (),
        "out": tmp_path / "summary.json",
        "markdown": tmp_path / "summary.md",
        "plots_dir": tmp_path / "plots",
        "results_dir": tmp_path / "results",
        "fidelity_dir": tmp_path / "fidelity",
        "triplets_dir": tmp_path / "triplets",
    }

    def params(ablation: list[str]):  # noqa: ANN202
        return load_default_params(
            languages=[lang],
            strategies=["icl"],
            train_encoder={"seeds": seeds},
            filter={"ablation": ablation},
            # no SWIM-IR retriever: only the base encoder's SWIM-IR evaluation
            swim_ir={"variants": []},
        )

    run(params(["unfiltered"]), **paths)
    ablation = json.loads((tmp_path / "ablation.json").read_text())
    entry = ablation["languages"][lang]["icl"]
    assert set(entry["scores"]) == {"unfiltered", "filtered"}
    assert entry["metrics"] == ["semrel_spearman", "flores_retrieval_recall_at_10"]  # task order
    assert entry["deltas"]["filtering"]["flores_retrieval_recall_at_10"]["significant"]
    text = (tmp_path / "ablation.md").read_text()
    assert text.index("| `icl` | unfiltered |") < text.index("| `icl` | filtered |")
    run(params([]), **paths)  # off: the files say so
    assert json.loads((tmp_path / "ablation.json").read_text())["languages"] == {}
    with pytest.raises(Exception, match=r"icl/mined/seed1/items\.json"):
        collect_ablation(params(["unfiltered", "mined"]), tmp_path / "results", {lang: {"icl": []}})


def test_dvc_renders_ablation_stages_from_the_variants(tmp_path: Path) -> None:
    """The default (params.yaml) runs both variants; ``filter.ablation: []`` gives DVC matrices over an empty list:
    no stage, so ``dvc repro`` trains no extra encoder; a non-empty list adds one stage per variant, strategy,
    language (, seed)."""
    import shutil
    import subprocess
    import sys

    import yaml
    from conftest import REPO

    def stages(ablation: list[str]) -> list[str]:
        repo = tmp_path / "-".join(ablation or ["none"])
        repo.mkdir()
        shutil.copy(REPO / "dvc.yaml", repo / "dvc.yaml")
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        assert params["filter"]["ablation"] == ["unfiltered", "mined"]  # the default
        params["filter"]["ablation"] = ablation
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        dvc = [sys.executable, "-m", "dvc"]
        subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=repo, check=True)
        out = subprocess.run(
            [*dvc, "stage", "list", "--name-only"],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.split()

    default = stages([])
    assert "report" in default and not [s for s in default if "ablation" in s]
    both = [s for s in stages(["unfiltered", "mined"]) if "ablation" in s]
    seeds = len(yaml.safe_load((REPO / "params.yaml").read_text())["train_encoder"]["seeds"])
    assert len(both) == 2 * 3 * (
        1 + 2 * seeds
    )  # variants x synthetic strategies x (filter + seeds x 2)
    assert "train_encoder_ablation@mined-icl-hau_Latn-42" in both
