"""Training curves through dvclive (bootembed.curves): what a run writes, kills and resumes, offline behaviour."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from helpers import build_tiny_encoder, torch_threads

from bootembed import encoder_training
from bootembed.curves import LOSS, LiveCurves, loss_file, read_loss_curves
from bootembed.encoder_training import train_encoder

WORDS = ["query", ":", *(f"w{i}" for i in range(40))]


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("enc"), WORDS, prompts={"query": "query: "})


def _triplets(n: int = 24) -> pl.DataFrame:
    rng = random.Random(3)
    return pl.DataFrame(
        {
            k: [" ".join(rng.sample(WORDS[2:], 4)) for _ in range(n)]
            for k in ("anchor", "positive", "negative")
        }
    )


OPTIONS = {
    "max_steps": 4,
    "batch_size": 4,
    "max_seq_length": 16,
    "logging_steps": 1,
    "save_steps": 2,
    "seed": 5,
}


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_a_run_logs_its_curves_per_optimizer_step(encoder_dir: Path, tmp_path: Path) -> None:
    """loss, learning rate and gradient norm per logging step, step = the trainer's step, no timestamp; the
    loss equals the trainer's logged loss; the last values in metrics.json; the report reads the curve back."""
    live = tmp_path / "dvclive" / "train_encoder" / "hau_Latn" / "icl" / "seed5"
    result = train_encoder(
        encoder_dir,
        _triplets(),
        tmp_path / "out",
        work_root=tmp_path / "w",
        live_dir=live,
        **OPTIONS,
    )
    assert sorted(_files(live)) == [
        "metrics.json",
        "plots/metrics/train/grad_norm.tsv",
        "plots/metrics/train/learning_rate.tsv",
        "plots/metrics/train/loss.tsv",
    ]
    rows = _tsv(loss_file(live))
    assert list(rows[0]) == [
        "step",
        "loss",
    ]  # no timestamp column: the same run gives the same bytes
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["loss"]) for r in rows] == [e["loss"] for e in result.losses]
    lr = _tsv(live / "plots/metrics/train/learning_rate.tsv")
    assert [float(r["learning_rate"]) for r in lr] == [e["learning_rate"] for e in result.losses]
    summary = json.loads((live / "metrics.json").read_text(encoding="utf-8"))
    assert summary["step"] == 4 and summary["train"]["loss"] == result.losses[-1]["loss"]
    assert read_loss_curves(tmp_path / "dvclive") == {
        "train_encoder/hau_Latn/icl/seed5": [(e["step"], e["loss"]) for e in result.losses]
    }
    # no dvclive side files anywhere else (report, dvc.yaml, experiment files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvclive", "out"]


@pytest.mark.parametrize("kill_at", ["step 3", "final save"])
def test_a_killed_and_resumed_run_writes_the_same_curves_and_card(
    encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: str
) -> None:
    """Killed at step 3 (resumed from checkpoint-2: the folder restarts from the checkpoint's history) or while
    saving after the final checkpoint (restored without training: the history is written at the end), the
    rerun's dvclive folder is byte for byte that of an uninterrupted run, and so is its model card."""
    triplets = _triplets()
    train_encoder(
        encoder_dir,
        triplets,
        tmp_path / "ref",
        work_root=tmp_path / "w1",
        live_dir=tmp_path / "live_ref",
        **OPTIONS,
    )

    def kill(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        if kill_at == "step 3":
            original = LiveCurves.log

            def log(self: LiveCurves, entry: dict) -> None:
                if entry.get("step") == 3:
                    raise KeyboardInterrupt
                original(self, entry)

            patch.setattr(LiveCurves, "log", log)
        else:
            patch.setattr(encoder_training, "atomic_dir", kill)
        with pytest.raises(KeyboardInterrupt):
            train_encoder(
                encoder_dir,
                triplets,
                tmp_path / "out",
                work_root=tmp_path / "w2",
                live_dir=tmp_path / "live",
                **OPTIONS,
            )
    logged = [int(r["step"]) for r in _tsv(loss_file(tmp_path / "live"))]
    assert logged == ([1, 2] if kill_at == "step 3" else [1, 2, 3, 4])
    result = train_encoder(
        encoder_dir,
        triplets,
        tmp_path / "out",
        work_root=tmp_path / "w2",
        live_dir=tmp_path / "live",
        **OPTIONS,
    )
    assert result.resumed_from == ("checkpoint-2" if kill_at == "step 3" else "checkpoint-4")
    assert _files(tmp_path / "live") == _files(tmp_path / "live_ref")
    # the encoder's model card (bootembed.model_card) too: every logged loss, the hyper-parameters, no run time
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert card == (tmp_path / "ref" / "README.md").read_text(encoding="utf-8")
    assert "### Training Logs" in card and "`learning_rate`: 2e-05" in card
    assert "Training Time" not in card


def test_offline_and_no_repository_side_effects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Git repository without a DVC project, dvclive's own Live() runs `dvc init` there; LiveCurves does not,
    and leaves DVC_STUDIO_OFFLINE as it found it (set only while the logger starts)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    monkeypatch.chdir(repo)
    monkeypatch.delenv("DVC_STUDIO_OFFLINE", raising=False)
    monkeypatch.setenv(
        "DVC_STUDIO_TOKEN", "not-a-token"
    )  # with Studio on, dvclive would post to it
    posted: list[object] = []
    import dvclive.studio

    monkeypatch.setattr(dvclive.studio, "post_live_metrics", lambda *a, **k: posted.append(a))
    curves = LiveCurves(repo / "live")
    curves.start([{"step": 1, "loss": 2.0, "learning_rate": 0.1}, {"step": 2, "epoch": 1.0}])
    curves.log({"step": 2, "loss": 1.5, "grad_norm": 3.0})
    curves.finish(None)
    assert not (repo / ".dvc").exists() and not (repo / "dvc.yaml").exists()
    assert "DVC_STUDIO_OFFLINE" not in os.environ and posted == []
    assert read_loss_curves(repo) == {"live": [(1, 2.0), (2, 1.5)]}
    assert [r["step"] for r in _tsv(repo / "live/plots/metrics/train/grad_norm.tsv")] == ["2"]


def test_read_loss_curves_checks_the_columns(tmp_path: Path) -> None:
    path = loss_file(tmp_path / "run")
    path.parent.mkdir(parents=True)
    path.write_text("step\tvalue\n1\t2.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"loss\.tsv: expected columns 'step' and 'loss'"):
        read_loss_curves(tmp_path)
    assert read_loss_curves(tmp_path / "missing") == {}
    assert LOSS == "train/loss"
