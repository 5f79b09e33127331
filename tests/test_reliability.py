"""Fault injection: ``kill -9`` at random points of synthesis, SFT and encoder training; a settings change after a
kill; a full disk; fuzzed params files and generator outputs. Writes ``metrics/reliability.json``.

Every kill runs the real command line (``bootembed synthesize`` / ``train-generator`` / ``train-encoder``) as a
subprocess on tiny random-init models, kills it with SIGKILL at a seeded random point of its work (after a random
number of finished chunks or checkpoints, plus a random delay), reruns it, and compares the result with a clean run:
rows lost, duplicated or changed ("mixed") must all be 0, and training must continue from its last checkpoint.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from conftest import REPO, data_mirror_root, default_params_dict
from helpers import build_tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootembed.config import ConfigError, params_from_dict

pytestmark = pytest.mark.reliability

SEED = 20261201
SAVE_STEPS = 3
MAX_STEPS = 30
KILLS = {"synthesize": 10, "train_generator": 6, "train_encoder": 6}
RECORD: dict[str, Any] = {
    "seed": SEED,
    "kill_trials": {},
    "settings_change_after_kill": {},
    "disk_full": {},
    "bad_inputs": {"tried": 0, "clear": 0, "unclear": 0, "unclear_examples": []},
    "fuzzed_generations": {"rows": 0, "counted_once": 0},
}


@pytest.fixture(scope="module", autouse=True)
def _write_record():
    yield
    trials = RECORD["kill_trials"]
    RECORD["kills"] = sum(t["kills"] for t in trials.values())
    RECORD["trials"] = sum(t["trials"] for t in trials.values())
    for key in ("rows_lost", "rows_duplicated", "rows_mixed"):
        RECORD[key] = sum(t.get(key, 0) for t in trials.values())
    RECORD["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = REPO / "metrics" / "reliability.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(RECORD, indent=2, sort_keys=True) + "\n", encoding="utf-8")


WORDS = "the a cat dog sat ran on mat sun is hot cold bird flew sky red blue house big tree".split()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, tiny_causal_lm: Path) -> Path:
    """A working directory with tiny inputs for every killed command, and its params.yaml."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("faults")
    for i, name in enumerate(("positive", "negative")):
        torch.manual_seed(200 + i)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(tiny_causal_lm),
            LoraConfig(r=4, lora_alpha=32, target_modules="all-linear", init_lora_weights=False),
        )
        model.save_pretrained(root / "generator" / name)
    rng = random.Random(SEED)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))) for _ in range(160)]
    pl.DataFrame(
        {
            "anchor_id": list(range(160)),
            "anchor": sentences,
            "language": ["hau_Latn"] * 160,
            "source": ["flores_dev"] * 160,
            "source_index": list(range(160)),
        }
    ).write_parquet(root / "anchors.parquet")
    sft = root / "sft"
    sft.mkdir()
    for polarity in ("positive", "negative"):
        with (sft / f"sft_{polarity}.jsonl").open("w") as handle:
            for s in sentences[:24]:
                row = {"prompt": f"Premise: {s}\nEnglish sentence:", "completion": f" {s[::-1]}\n"}
                handle.write(json.dumps(row) + "\n")
    triplets = pl.DataFrame(
        {
            "anchor": sentences[:80],
            "positive": sentences[80:160],
            "negative": list(reversed(sentences[:80])),
        }
    )
    triplets.write_parquet(root / "triplets.parquet")
    (root / "encoder").symlink_to(
        build_tiny_encoder(root / "tiny-encoder", WORDS), target_is_directory=True
    )
    raw = default_params_dict(
        languages=["hau_Latn"],
        synthesize={
            "backend": "transformers",
            "batch_size": 4,
            "chunk_size": 4,
            "max_new_tokens": 24,
        },
        train_generator={
            "max_steps": MAX_STEPS,
            "save_steps": SAVE_STEPS,
            "batch_size": 2,
            "max_length": 64,
        },
        train_encoder={
            "max_steps": MAX_STEPS,
            "save_steps": SAVE_STEPS,
            "batch_size": 4,
            "max_seq_length": 32,
        },
    )
    raw["data"]["root"] = str(data_mirror_root())
    raw["models"]["encoder"]["prompt"] = ""
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (root / "base").symlink_to(tiny_causal_lm, target_is_directory=True)
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _command(kind: str, repo: Path, out: Path, params: str = "params.yaml") -> list[str]:
    base = [sys.executable, "-m", "bootembed.cli", kind.replace("_", "-"), "--params", params]
    if kind == "synthesize":
        return [
            *base,
            "--strategy",
            "xllora",
            "--language",
            "hau_Latn",
            "--base",
            "base",
            "--generator",
            "generator",
            "--anchors",
            "anchors.parquet",
            "--out",
            str(out),
            "--metrics",
            f"{out}.json",
        ]
    if kind == "train_generator":
        return [
            *base,
            "--base",
            "base",
            "--sft",
            "sft",
            "--out-dir",
            str(out),
            "--metrics",
            f"{out}.json",
        ]
    return [
        *base,
        "--language",
        "hau_Latn",
        "--base",
        "encoder",
        "--triplets",
        "triplets.parquet",
        "--out",
        str(out),
        "--metrics",
        f"{out}.json",
    ]


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _progress(kind: str, repo: Path) -> int:
    """Finished units of work so far: chunk parts (synthesis) or checkpoints (training)."""
    work = repo / ".bootembed-work"
    try:
        if kind == "synthesize":
            return len(list(work.rglob("part-*.parquet")))
        # trainers keep only their newest checkpoint: progress is its step / the checkpoint interval, summed over
        # the work folders (the generator stage trains a positive then a negative adapter, each in its own)
        newest: dict[Path, int] = {}
        for p in work.rglob("checkpoint-*/trainer_state.json"):
            folder = p.parent.parent
            newest[folder] = max(newest.get(folder, 0), int(p.parent.name.split("-")[1]))
        return sum(newest.values()) // SAVE_STEPS
    except (FileNotFoundError, ValueError, IndexError):  # the folder changed while it was listed
        return 0


def _kill_during(cmd: list[str], repo: Path, kind: str, after: int, delay: float) -> bool:
    """Start ``cmd``; once ``after`` units of work are done, wait ``delay`` s and SIGKILL it. True if killed."""
    proc = subprocess.Popen(
        cmd, cwd=repo, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and _progress(kind, repo) < after and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def _checkpoints(repo: Path) -> list[str]:
    """The complete trainer checkpoints (``<work folder>/checkpoint-<step>``) left in the work root."""
    work = repo / ".bootembed-work"
    return sorted(
        f"{p.parent.parent.name.split('__')[-1]}/{p.parent.name}"
        for p in work.rglob("checkpoint-*/trainer_state.json")
    )


def _compare_rows(reference: pl.DataFrame, got: pl.DataFrame) -> dict[str, int]:
    ref_ids = reference["anchor_id"].to_list()
    ids = got["anchor_id"].to_list()
    lost = len(set(ref_ids) - set(ids))
    duplicated = len(ids) - len(set(ids))
    by_id = {r["anchor_id"]: r for r in reference.to_dicts()}
    mixed = sum(1 for r in got.to_dicts() if r["anchor_id"] in by_id and r != by_id[r["anchor_id"]])
    return {"rows_lost": lost, "rows_duplicated": duplicated, "rows_mixed": mixed}


def test_kill_synthesis_at_random_points(repo: Path):
    _run(_command("synthesize", repo, repo / "ref.parquet"), repo)
    reference = pl.read_parquet(repo / "ref.parquet")
    chunks = -(-reference.height // 4)
    rng = random.Random(SEED)
    stats = {
        "trials": 0,
        "kills": 0,
        "rows_lost": 0,
        "rows_duplicated": 0,
        "rows_mixed": 0,
        "resumed_chunks": 0,
    }
    for trial in range(KILLS["synthesize"]):
        out = repo / f"out-{trial}.parquet"
        after = (
            chunks if trial == 0 else rng.randint(0, chunks - 1)
        )  # trial 0: all parts done, output pending
        killed = _kill_during(
            _command("synthesize", repo, out), repo, "synthesize", after, rng.uniform(0, 0.05)
        )
        stats["trials"] += 1
        stats["kills"] += int(killed)
        _run(_command("synthesize", repo, out), repo)
        for key, value in _compare_rows(reference, pl.read_parquet(out)).items():
            stats[key] += value
        stats["resumed_chunks"] += int(
            json.loads(Path(f"{out}.json").read_text())["chunks_resumed"]
        )
    RECORD["kill_trials"]["synthesize"] = stats
    assert stats["kills"] >= KILLS["synthesize"] - 2
    assert stats["rows_lost"] == stats["rows_duplicated"] == stats["rows_mixed"] == 0
    assert stats["resumed_chunks"] > 0  # kills after finished chunks resumed them
    assert not list((repo / ".bootembed-work").rglob("part-*.parquet"))


@pytest.mark.parametrize("kind", ["train_generator", "train_encoder"])
def test_kill_training_at_random_points(repo: Path, kind: str):
    import torch
    from safetensors.torch import load_file

    def weights(out: Path) -> dict[str, torch.Tensor]:
        name = "adapter_model.safetensors" if kind == "train_generator" else "model.safetensors"
        files = sorted(out.rglob(name))
        return {
            f"{f.relative_to(out).parent}/{k}": v
            for f in files
            for k, v in load_file(str(f)).items()
        }

    tmp_before = set(Path("/tmp").glob("bootembed-*"))
    ref = repo / f"ref-{kind}"
    _run(_command(kind, repo, ref), repo)
    reference = weights(ref)
    rng = random.Random(SEED + len(kind))
    stats: dict[str, Any] = {
        "trials": 0,
        "kills": 0,
        "kills_with_checkpoint": 0,
        "resumed_from_checkpoint": 0,
        "outputs_equal_clean_run": 0,
        "log": [],
    }
    # checkpoints of the whole stage: the generator stage trains two adapters
    checkpoints = MAX_STEPS // SAVE_STEPS * (2 if kind == "train_generator" else 1)
    for trial in range(KILLS[kind]):
        out = repo / f"{kind}-{trial}"
        after = rng.randint(1, checkpoints - 1)
        killed = _kill_during(_command(kind, repo, out), repo, kind, after, rng.uniform(0, 0.2))
        left = _checkpoints(repo) if killed else []
        stats["trials"] += 1
        stats["kills"] += int(killed)
        stats["kills_with_checkpoint"] += int(bool(left))
        _run(_command(kind, repo, out), repo)
        metrics = json.loads(Path(f"{out}.json").read_text())
        resumed = [metrics.get("resumed_from")] + [
            metrics.get(p, {}).get("resumed_from") for p in ("positive", "negative")
        ]
        stats["resumed_from_checkpoint"] += int(any(r for r in resumed))
        stats["log"].append(
            {"after": after, "killed": killed, "checkpoints_left": left, "resumed": resumed}
        )
        got = weights(out)
        same = got.keys() == reference.keys() and all(
            torch.allclose(got[k], reference[k], rtol=1e-4, atol=1e-5) for k in reference
        )
        stats["outputs_equal_clean_run"] += int(same)
    RECORD["kill_trials"][kind] = stats
    assert stats["kills"] >= KILLS[kind] - 1
    # a kill after the first checkpoint leaves one (the generator stage keeps the first adapter's final checkpoint
    # while the second trains); every kill that left one resumes from it
    assert stats["kills_with_checkpoint"] >= stats["kills"] - 1
    assert stats["resumed_from_checkpoint"] >= stats["kills_with_checkpoint"] - 1
    assert stats["outputs_equal_clean_run"] == stats["trials"]
    assert not list((repo / ".bootembed-work").rglob("checkpoint-*"))
    assert set(Path("/tmp").glob("bootembed-*")) <= tmp_before  # nothing of ours left in /tmp


def test_settings_change_after_a_kill_never_mixes(repo: Path):
    """Issue 13, gap 1: kill a float32 synthesis after its first chunk, set bf16, rerun: a clean bf16 result."""
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    raw["synthesize"]["dtype"] = "float32"
    (repo / "fp32.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    raw["synthesize"]["dtype"] = "bfloat16"
    (repo / "bf16.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    _run(_command("synthesize", repo, repo / "clean-bf16.parquet", "bf16.yaml"), repo)
    out = repo / "switched.parquet"
    killed = _kill_during(
        _command("synthesize", repo, out, "fp32.yaml"), repo, "synthesize", 2, 0.0
    )
    _run(_command("synthesize", repo, out, "bf16.yaml"), repo)
    metrics = json.loads(Path(f"{out}.json").read_text())
    rows = _compare_rows(pl.read_parquet(repo / "clean-bf16.parquet"), pl.read_parquet(out))
    RECORD["settings_change_after_kill"] = {
        "killed": killed,
        "chunks_resumed": metrics["chunks_resumed"],
        "parts_discarded": metrics["parts_discarded"],
        "dtype_recorded": metrics["dtype"]["synthesis"]["dtype"],
        **rows,
    }
    assert killed and metrics["chunks_resumed"] == 0 and metrics["parts_discarded"] == 1
    assert metrics["dtype"]["synthesis"]["dtype"] == "bfloat16"
    assert rows == {"rows_lost": 0, "rows_duplicated": 0, "rows_mixed": 0}


def test_full_disk_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from bootembed.io import atomic_dir, write_json, write_parquet

    frame = pl.DataFrame({"a": list(range(1000))})
    original = pl.DataFrame.write_parquet

    def full_disk(self: pl.DataFrame, file: Any, *args: Any, **kwargs: Any) -> None:
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    target = tmp_path / "out.parquet"
    with pytest.raises(OSError, match="No space"):
        write_parquet(target, frame)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(pl.DataFrame, "write_parquet", original)
    # An earlier complete output survives a failed rewrite, byte for byte.
    write_parquet(target, frame)
    before = target.read_bytes()
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    with pytest.raises(OSError):
        write_parquet(target, frame.head(3))
    monkeypatch.setattr(pl.DataFrame, "write_parquet", original)
    survived = target.read_bytes() == before
    folder = tmp_path / "model"
    with pytest.raises(OSError), atomic_dir(folder) as tmp:
        (tmp / "weights.bin").write_bytes(b"x" * 10)
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError), pytest.MonkeyPatch.context() as m:
        m.setattr(
            Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
        )
        write_json(tmp_path / "m.json", {"a": 1})
    RECORD["disk_full"] = {
        "partial_files_left": len(leftovers),
        "earlier_output_intact": survived,
        "partial_folder_left": folder.exists(),
        "partial_metrics_left": (tmp_path / "m.json").exists(),
    }
    assert leftovers == [] and survived and not folder.exists()
    assert not (tmp_path / "m.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


# --- fuzzing ----------------------------------------------------------------------------------------------------


def _leaves(tree: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in _leaves(v, (*prefix, k))]
    return [prefix]


_PARAMS = default_params_dict()
_LEAVES = _leaves(_PARAMS)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _classify(raw: dict[str, Any], where: tuple[str, ...]) -> None:
    RECORD["bad_inputs"]["tried"] += 1
    try:
        params_from_dict(raw, source="params.yaml")
    except ConfigError as exc:
        text = str(exc)
        field = where[0]
        clear = text.startswith("params.yaml: ") and "\n" not in text and field in text
        RECORD["bad_inputs"]["clear" if clear else "unclear"] += 1
        if not clear and len(RECORD["bad_inputs"]["unclear_examples"]) < 5:
            RECORD["bad_inputs"]["unclear_examples"].append(text[:300])
        assert clear, text
        return
    except Exception as exc:  # anything but a ConfigError is an unclear answer
        RECORD["bad_inputs"]["unclear"] += 1
        RECORD["bad_inputs"]["unclear_examples"].append(f"{type(exc).__name__}: {exc}"[:300])
        raise
    RECORD["bad_inputs"]["tried"] -= 1  # a valid file is not a bad input


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(_LEAVES), value=_VALUES)
def test_fuzzed_params_are_accepted_or_answered_in_one_line(where, value):
    raw = json.loads(json.dumps(_PARAMS))
    node = raw
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    _classify(raw, where)


@settings(max_examples=100, deadline=None)
@given(where=st.sampled_from(_LEAVES))
def test_fuzzed_missing_fields_are_named(where):
    raw = json.loads(json.dumps(_PARAMS))
    node = raw
    for key in where[:-1]:
        node = node[key]
    del node[where[-1]]
    _classify(raw, where)


def test_the_issue_bad_params_variants(tmp_path: Path):
    """The variants of issue 13 (gaps 4-6) through the file reader, each one line naming file and field."""
    from bootembed.config import load_params

    text = (REPO / "params.yaml").read_text()

    def swap(pattern: str, replacement: str) -> str:
        """``text`` with the first match of ``pattern`` (a line of params.yaml) replaced; it must match."""
        changed, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        assert count == 1, (
            f"params.yaml has no line matching {pattern!r}: the variant would test nothing"
        )
        return changed

    variants = {
        "missing max_anchors": swap(r"^  max_anchors: \d+.*$", ""),
        "max_anchors 1e9": swap(r"max_anchors: \d+", "max_anchors: 1e9"),
        "max_new_tokens 1e9": swap(r"max_new_tokens: \d+", "max_new_tokens: 1e9"),
        "temperature inf": swap(r"temperature: [\d.]+", "temperature: .inf"),
        "seed -1": swap(r"^seed: \d+", "seed: -1"),
        "duplicate key": text + "\nseed: 1\n",
        "yes as boolean": swap(r"do_sample: (true|false)", "do_sample: yes"),
        "on as boolean": swap(r"merge_lora: (true|false)", "merge_lora: on"),
        "filter null": swap(r"^filter:.*\n  samples:", "filter:\nfilter_was:\n  samples:"),
    }
    for name, content in variants.items():
        path = tmp_path / f"{name.replace(' ', '_')}.yaml"
        path.write_text(content)
        RECORD["bad_inputs"]["tried"] += 1
        with pytest.raises(ConfigError) as info:
            load_params(path)
        message = str(info.value)
        clear = message.startswith(str(path)) and "\n" not in message
        RECORD["bad_inputs"]["clear" if clear else "unclear"] += 1
        assert clear, (name, message)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.text(max_size=40),
            st.one_of(st.none(), st.text(max_size=60)),
            st.one_of(st.none(), st.text(max_size=60)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_fuzzed_generations_are_kept_or_counted_once(rows):
    from helpers import default_section

    from bootembed.filtering import REASONS, run_chain
    from bootembed.filters.base import FilterContext
    from bootembed.prompts import parse_generation

    anchors = [a or "x" for a, _, _ in rows]
    positives = [parse_generation(p) if p is not None else None for _, p, _ in rows]
    negatives = [parse_generation(n) if n is not None else None for _, _, n in rows]
    frame = pl.DataFrame(
        {"anchor": anchors, "positive": positives, "negative": negatives},
        schema={"anchor": pl.String, "positive": pl.String, "negative": pl.String},
    )
    chain = default_section("filter")  # every step but the two that embed (no encoder here)
    chain = chain.model_copy(
        update={"consistency": chain.consistency.model_copy(update={"enabled": False})}
    )
    result = run_chain(frame, chain, FilterContext(language="hau_Latn", output_language="hau_Latn"))
    counts = result.counts
    RECORD["fuzzed_generations"]["rows"] += frame.height
    assert counts["kept"] + sum(counts[r] for r in REASONS) == counts["input"] == frame.height
    assert counts["kept"] == sum(r is None for r in result.reasons)
    assert result.kept.height == counts["rows_out"]
    RECORD["fuzzed_generations"]["counted_once"] += frame.height
