"""Committed results name no machine: no absolute paths of the machine that produced them (issue: provenance gaps)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: An absolute POSIX path into a machine's own folders (``/work/...``, ``/home/...``, ``/tmp/...``).
MACHINE_PATH = re.compile(r"(?:^|[^\w.~-])/(?:work|home|tmp|root|Users|opt|mnt|var)/[^\s\"']*")


def _committed(*roots: str) -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", *roots], cwd=REPO, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / name for name in out.decode().split("\0") if name]


def test_machine_paths_are_found():
    assert MACHINE_PATH.search('"python (/work/main/.venv-vllm/bin/python -u)"')
    assert MACHINE_PATH.search("base_model_dir: /tmp/pytest-1/x")
    assert not MACHINE_PATH.search('"vllm/v1/worker/gpu_worker.py:1328" models/base/generator')


def test_committed_results_hold_no_machine_paths():
    files = _committed(
        "metrics", "results", "dvc.lock", "dvc.yaml", "params.yaml", "params.smoke.yaml"
    )
    assert files
    found = {}
    for path in files:
        if path.suffix in {".json", ".md", ".csv", ".yaml", ".lock"} and path.is_file():
            hits = MACHINE_PATH.findall(path.read_text(encoding="utf-8", errors="replace"))
            if hits:
                found[str(path.relative_to(REPO))] = hits[:3]
    assert found == {}
