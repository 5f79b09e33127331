"""The whole DVC pipeline at smoke size with the real packaged models on the real data."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bootembed.config import deep_merge, params_from_dict, read_yaml

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.integration


def _run(cmd: list[str], cwd: Path) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    # The OpenVINO backend's export venv and export cache are shared with this checkout (built once, reused).
    env.setdefault("BOOTEMBED_OPENVINO_VENV", str(REPO / ".venv-openvino"))
    env.setdefault("BOOTEMBED_OPENVINO_CACHE", str(REPO / ".openvino-cache"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Iterator[Path]:
    """A copy of this repository (tracked + untracked, not ignored files) as its own git repo, at smoke size.

    Its DVC cache links outputs into the workspace (``cache.type hardlink``) instead of copying them: the smoke run's
    models are about 4 GB, and a CI machine short of disk failed on the second copy. The folder is removed when the
    module's tests are done (later test files need the room).
    """
    dest = tmp_path_factory.mktemp("repo")
    files = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file() and not rel.startswith(("metrics/", "results/")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    if (REPO / "dvc.lock").exists():
        (dest / "dvc.lock").unlink(missing_ok=True)
    params = deep_merge(read_yaml(REPO / "params.yaml"), read_yaml(REPO / "params.smoke.yaml"))
    params["data"]["root"] = str(data_root)
    params_from_dict(params)  # the smoke parameters must validate
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "smoke"],
    ):
        subprocess.run(cmd, cwd=dest, check=True)
    _run(["dvc", "config", "--local", "cache.type", "hardlink,copy"], dest)
    yield dest
    shutil.rmtree(dest, ignore_errors=True)


def test_dvc_pipeline_end_to_end_at_smoke_size(smoke_repo: Path):
    _run(["dvc", "repro"], smoke_repo)
    import polars as pl

    lang = "hau_Latn"
    prepare = json.loads((smoke_repo / f"metrics/prepare/{lang}.json").read_text())
    assert prepare["anchors"]["anchors"] == 16
    assert prepare["anchors"]["contaminated"] > 0  # SIB-200 dev/test sentences left FLORES dev
    assert prepare["augment_pairs"] == 8 and prepare["lm_sentences"] == 16

    anchors = pl.read_parquet(smoke_repo / f"data/prepared/{lang}/anchors.parquet")
    augment = pl.read_parquet(smoke_repo / f"data/prepared/{lang}/augment_pairs.parquet")
    assert not set(anchors["source_index"]) & set(augment["source_index"])

    for strategy in ("icl", "composition", "xllora"):
        triplets = pl.read_parquet(smoke_repo / f"data/synthetic/{lang}/{strategy}.parquet")
        assert triplets.height == 16, strategy
        assert set(triplets["strategy"]) == {strategy} and set(triplets["language"]) == {lang}
        assert triplets["anchor"].to_list() == anchors["anchor"].to_list()
        filt = json.loads((smoke_repo / f"metrics/filter/{lang}/{strategy}.json").read_text())
        assert filt["filter"]["input"] == 16 and filt["filter"]["kept"] >= 2
        diag = filt["diagnostics"]
        assert 0.0 <= diag["code_switch_rate_positive"] <= 1.0
        assert 0.0 <= diag["failure_rate_negative"] <= 1.0

    augmented = json.loads((smoke_repo / f"metrics/augment/{lang}.json").read_text())
    xllora = json.loads((smoke_repo / f"metrics/train_generator/xllora_{lang}.json").read_text())
    # XL-LoRA trains on the reference pairs plus the kept augmentation examples.
    assert xllora["positive"]["examples"] == 16 + augmented["examples"]["positive"]["kept"]
    assert xllora["positive"]["steps"] == 2
    assert xllora["dtype"]["generator_training"]["dtype"] in ("float32", "bfloat16")
    synth = json.loads((smoke_repo / f"metrics/synthesize/{lang}/xllora.json").read_text())
    assert synth["dtype"]["synthesis"]["reason"]  # every stage records its dtype and why
    compose = json.loads((smoke_repo / f"metrics/compose/{lang}.json").read_text())
    assert compose["positive"]["weights"] == {"task": 1.0, "language": 1.0, "reference": -1.0}

    translation = pl.read_parquet(smoke_repo / f"data/triplets/{lang}/translation.parquet")
    assert (translation["positive"] != translation["negative"]).all()

    summary = json.loads((smoke_repo / "metrics/summary.json").read_text())
    models = ("base", "translation", "english", "icl", "composition", "xllora")
    for model in models:
        scores = summary["scores"][lang][model]
        for key in (
            "semrel_spearman",
            "flores_bitext_f1_tgt2eng",
            "flores_retrieval_recall_at_10",
            "flores_retrieval_ndcg_at_10",
            "sib200_accuracy",
        ):
            assert math.isfinite(scores[key]), (model, key)
    # The base multilingual-e5-small is a real encoder: retrieval of translations is far above chance (10/50).
    assert summary["scores"][lang]["base"]["flores_retrieval_recall_at_10"] > 0.5
    # SWIM-IR: a row per variant on its own retrieval metrics, the base row holds them too, with intervals
    for variant in ("crosslingual_sap",):
        for direction in ("tgt2eng", "tgt2tgt", "eng2tgt"):
            key = f"swim_ir_{direction}_ndcg_at_10"
            assert math.isfinite(summary["scores"][lang][variant][key]), (variant, key)
            assert math.isfinite(summary["scores"][lang]["base"][key])
            assert summary["intervals"][lang][variant][key]["n_items"] == 50
        synthesis = json.loads(
            (smoke_repo / f"metrics/swim_ir/synthesize/{lang}/{variant}.json").read_text()
        )
        assert synthesis["pairs"] >= 2 and synthesis["diagnostics"]["rows"] == 4
    table = (smoke_repo / "metrics/summary.md").read_text()
    assert all(model in table for model in models)
    assert (smoke_repo / "metrics/plots/semrel_spearman.csv").is_file()
    assert (smoke_repo / f"results/mteb/{lang}/xllora/seed42/items.json").is_file()
    # Uncertainty and fidelity: every Δ has a paired bootstrap interval, every strategy a fidelity diagnostic.
    assert summary["seeds"] == [42] and summary["bootstrap"]["resamples"] >= 1000
    for model in models[1:]:
        interval = summary["intervals"][lang][model]["semrel_spearman"]
        assert interval["low"] <= interval["delta"] <= interval["high"], (model, interval)
        assert interval["n_items"] == 50 and interval["n_resamples"] >= 1000
        fidelity = summary["fidelity"][lang][model]
        assert 0.0 <= fidelity["positive_closer_share"] <= 1.0 and fidelity["n"] >= 2
    assert summary["claims"][lang]["semrel_spearman"]["icl"]["verdict"] in (
        "holds",
        "contradicted",
        "not significant",
    )
    assert "### Verdicts (hau_Latn)" in table
    # Training curves: every trainer run logged through dvclive; DVC draws them (the stages' plots), and the
    # HTML report holds the loss curves.
    from bootembed.curves import read_loss_curves

    curves = read_loss_curves(smoke_repo / "metrics/dvclive")
    assert curves[f"train_encoder/{lang}/xllora/seed42"][0][0] == 1  # the first logging step
    runs = {"train_generator/task/positive", f"train_generator/xllora_{lang}/negative"}
    assert runs <= set(curves)
    shown = _run(["dvc", "plots", "show", "--json"], smoke_repo).splitlines()
    plots = json.loads(next(line for line in shown if line.startswith("{")))
    loss = f"metrics/dvclive/train_encoder/{lang}/xllora/seed42/plots/metrics/train/loss.tsv"
    assert plots["data"][loss][0]["content"]["data"]["values"], plots["data"].keys()
    assert f"encoders {lang} xllora" in (smoke_repo / "metrics/report.html").read_text()
    # Every fine-tuned encoder has its shareable model card (lineage, scores with intervals).
    for model in models[1:]:
        card = (smoke_repo / f"models/cards/{lang}/{model}/seed42/README.md").read_text()
        assert "## bootembed: data lineage" in card and "| semrel_spearman |" in card, model
        assert "base_model: intfloat/multilingual-e5-small" in card, model

    # Nothing changed: a second repro reruns nothing, and no work folder is left behind.
    out = _run(["dvc", "repro"], smoke_repo)
    assert "Running stage" not in out
    assert not list((smoke_repo / ".bootembed-work").rglob("*.parquet"))
    assert "Data and pipelines are up to date" in _run(["dvc", "status"], smoke_repo)

    # An experiment with a changed parameter runs and is listed with its metrics.
    _run(["git", "add", "-A"], smoke_repo)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lock"], smoke_repo)
    _run(["dvc", "exp", "run", "-S", "evaluate.limit=40"], smoke_repo)
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], smoke_repo).strip().splitlines()[-1])
    limits = list(_find(shown, "limit"))
    assert 40 in limits, limits  # the experiment's parameter value is listed
    # the headline metrics (metrics/headline/<lang>/<model>.json) are the experiment's columns
    assert any(isinstance(v, float) for v in _find(shown, "sib200")), shown


def _find(tree: object, key: str):
    """Yield every value stored under ``key`` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                yield v
            yield from _find(v, key)
    elif isinstance(tree, list):
        for item in tree:
            yield from _find(item, key)


def test_remote_and_run_cache_restore_a_fresh_clone(smoke_repo: Path, tmp_path: Path):
    """Issue 16: push outputs and the run cache, pull them into a fresh clone; nothing is recomputed there; a
    queued sweep runs there.

    Uses the project's default remote ``local`` (``.dvc/config``), pointed at a temporary folder with
    ``dvc remote modify --local``, as a user overrides it. (Restoring an experiment of another clone from the run
    cache needs every output of the stage on the remote; DVC does not push ``cache: false`` outputs, which every
    stage's log JSON here is, so that part is shown on a project with cached outputs, over SSH, in
    ``tests/test_remote_ssh.py``.)
    """
    if not (smoke_repo / "dvc.lock").exists():  # run alone: reproduce the smoke pipeline first
        _run(["dvc", "repro"], smoke_repo)
    remote = tmp_path / "remote"
    _run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], smoke_repo)
    _run(
        ["git", "checkout", "-q", "--", "."], smoke_repo
    )  # back to the committed run (dvc.lock, metrics)
    _run(["dvc", "checkout", "-q"], smoke_repo)
    _run(["dvc", "push", "--run-cache"], smoke_repo)
    assert (remote / "files" / "md5").is_dir() and (remote / "runs").is_dir()

    fresh = tmp_path / "fresh"
    _run(["git", "clone", "-q", str(smoke_repo), str(fresh)], tmp_path)
    assert not (fresh / "models/base/encoder").exists()  # outputs are not in git
    _run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], fresh)
    _run(
        ["dvc", "config", "--local", "cache.type", "hardlink,copy"], fresh
    )  # no second copy of the models
    _run(["dvc", "pull", "--run-cache"], fresh)
    # everything is in the clone's cache now: 4 GB back for the queued sweep and later tests
    shutil.rmtree(remote)
    assert (fresh / "models/base/encoder").is_dir()
    assert "Data and pipelines are up to date" in _run(["dvc", "status"], fresh)
    out = _run(["dvc", "repro"], fresh)
    assert "Running stage" not in out, out[-2000:]

    # A queued sweep (issue 16): two experiments, run by `dvc queue start -j 2`, both listed by `dvc exp show`.
    _run(
        ["dvc", "config", "cache.type", "hardlink,copy"], fresh
    )  # the queue's workspaces read .dvc/config
    for confidence in ("0.9", "0.99"):
        _run(["dvc", "exp", "run", "--queue", "-S", f"report.confidence={confidence}"], fresh)
    _run(["dvc", "queue", "start", "-j", "2"], fresh)
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        status = _run(["dvc", "queue", "status"], fresh)
        if not any(word in status for word in ("Queued", "Running")):
            break
        time.sleep(5)
    assert "Failed" not in status, status
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], fresh).strip().splitlines()[-1])
    confidences = list(_find(shown, "confidence"))
    assert 0.9 in confidences and 0.99 in confidences, confidences
