"""Issue 17: the GPU check script, on its CPU path (``--tiny``), with only what a bare GPU machine has.

The script runs in a fresh interpreter in which every installed package that is not torch, transformers, peft,
sentence-transformers, accelerate or one of their own dependencies is hidden (vLLM, TRL, DVC, polars, mteb, datasets,
pydantic, click, ...: importing them fails as if they were not installed), so an import that would break on the
GPU machine fails here.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: What a bare GPU machine has (issue 17); everything else installed here is hidden from the script.
ALLOWED = ("torch", "transformers", "peft", "sentence-transformers", "accelerate")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _hidden() -> tuple[set[str], set[str]]:
    """(top-level modules, distributions) installed here but outside ALLOWED and their own requirements."""
    from packaging.requirements import Requirement

    keep: set[str] = set()
    todo = list(ALLOWED)
    while todo:
        name = _norm(todo.pop())
        if name in keep:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        keep.add(name)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    dists = {_norm(d.metadata["Name"]) for d in md.distributions()} - keep
    modules = {
        module
        for module, owners in md.packages_distributions().items()
        if not module.startswith("_") and not any(_norm(o) in keep for o in owners)
    }
    return modules - {"bootembed"}, dists  # bootembed itself comes from src/


RUNNER = """
import importlib.abc, re, runpy, sys
hidden, hidden_dists = set(sys.argv[1].split()), set(sys.argv[2].split())
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()

class Hide(importlib.abc.MetaPathFinder):
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in hidden:
            return None
        return self.inner.find_spec(name, path, target)
    def invalidate_caches(self):
        getattr(self.inner, "invalidate_caches", lambda: None)()
    def find_distributions(self, *args, **kwargs):  # importlib.metadata: hidden packages have no metadata
        found = getattr(self.inner, "find_distributions", lambda *a, **k: [])(*args, **kwargs)
        return [d for d in found if norm(d.metadata["Name"] or "") not in hidden_dists]

sys.meta_path[:] = [Hide(f) if hasattr(f, "find_spec") else f for f in sys.meta_path]
script = sys.argv[3]
sys.argv = [script, *sys.argv[4:]]
runpy.run_path(script, run_name="__main__")
imported = sorted({m.partition(".")[0] for m in sys.modules} & hidden)
assert not imported, imported
"""


def test_gpu_check_runs_tiny_on_cpu_without_the_project_stack(tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    # the blocker itself works: a hidden package cannot be imported
    modules, dists = _hidden()
    assert {"trl", "dvc", "polars", "mteb", "datasets"} <= modules  # installed here, hidden there
    probe = subprocess.run(
        [sys.executable, "-c", RUNNER, "polars", "polars", "-c"], capture_output=True, text=True
    )
    assert probe.returncode != 0
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            " ".join(sorted(modules)),
            " ".join(sorted(dists)),
            str(REPO / "scripts" / "gpu_check.py"),
            "--tiny",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
        },
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["tiny"] and result["machine"]["device"] == "cpu" and not result["skipped"]
    assert result["matmul_tflops"]["bfloat16"] > 0
    ((name, generator),) = result["generators"].items()
    synthesis = {(r["merge_lora"], r["target"]): r for r in generator["synthesis"]}
    assert set(synthesis) == {(m, t) for m in (True, False) for t in ("base", "lora")}
    for run in synthesis.values():
        assert run["generated_tokens"] > 0 and 0 < run["share_of_bf16_roof"]
    for part in (generator["sft"], result["encoder"]):
        assert part["steps_per_s"] > 0 and part["losses_finite"] and part["share_of_bf16_roof"] > 0
    assert generator["sft"]["lora"] == {
        "r": 8,
        "alpha": 16,
        "dropout": 0.05,
        "target_modules": "all-linear",
    }
