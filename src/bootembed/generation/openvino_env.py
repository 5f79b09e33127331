"""The separate virtual environment that exports models to OpenVINO IR (``.venv-openvino``), and the export itself.

Running a model needs only the OpenVINO runtime (``openvino-genai``, ``openvino``, ``openvino-tokenizers``: small
wheels that fit the project environment). Converting a transformers folder to OpenVINO IR needs ``optimum-intel``,
whose 2.2.0 release pins ``transformers<5.6`` and caps its Gemma exporters (Gemma-3 included) at transformers 5.0, and
requires the CUDA-built ``torchvision`` wheel from PyPI: none of that fits the project environment (transformers 5.19,
CPU torch). The exporter lives in its own venv, built on first use, and runs as a subprocess (``optimum-cli export
openvino``); the IR it writes is read by the runtime in the project environment.

Recipe (what :func:`ensure_openvino_env` runs)::

    python -m venv .venv-openvino
    .venv-openvino/bin/python -m pip install torch==2.13.0+cpu     # the CPU wheel first: pip then keeps it
    .venv-openvino/bin/python -m pip install --no-deps optimum-intel==2.2.0
    .venv-openvino/bin/python -m pip install <optimum-intel requirements except torch, torchvision> \\
        torch==2.13.0+cpu optimum==2.3.0 transformers==5.0.0 nncf==3.4.0 \\
        openvino==2026.4.1 openvino-tokenizers==2026.4.1.0

About 2 minutes and 1.5 GB. ``nncf`` is only used for ``int8`` / ``int4`` weight compression; ``optimum-intel``
requires it anyway. The runtime in the project environment must be the same OpenVINO release
(:data:`RUNTIME_REQUIREMENTS`): the tokenizer IR uses the custom operations of ``openvino-tokenizers`` of that
release.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bootembed.generation.venvs import (
    TORCH_SPEC,
    VenvRecipe,
    ensure_venv,
    locked,
    read_json,
    venv_python,
    write_json_atomic,
)

__all__ = [
    "EXCLUDED_REQUIREMENTS",
    "EXPORT_MARKER",
    "OPENVINO_VERSION",
    "PINNED_REQUIREMENTS",
    "RECIPE",
    "RUNTIME_REQUIREMENTS",
    "WEIGHT_FORMATS",
    "cached_export",
    "ensure_openvino_env",
    "export_info",
    "export_model",
    "is_openvino_ir",
    "model_fingerprint",
    "venv_python",
]

logger = logging.getLogger(__name__)

#: The OpenVINO release of both environments (runtime here, exporter in the venv).
OPENVINO_VERSION = "2026.4.1"
#: The OpenVINO packages both environments pin (the tokenizer IR needs the custom operations of that release).
_OPENVINO_PINS: tuple[str, ...] = (
    f"openvino=={OPENVINO_VERSION}",
    f"openvino-tokenizers=={OPENVINO_VERSION}.0",
)
#: What the project environment needs to *run* OpenVINO models (``pip install --no-deps`` is enough: their other
#: requirements, numpy and packaging, are already there; ``openvino-telemetry`` is not needed at run time).
RUNTIME_REQUIREMENTS: tuple[str, ...] = (*_OPENVINO_PINS, f"openvino-genai=={OPENVINO_VERSION}.0")
OPTIMUM_INTEL_SPEC = "optimum-intel==2.2.0"
#: Pins of the export venv besides torch and optimum-intel (transformers 5.0.0: the newest that optimum-intel
#: 2.2.0 exports Gemma / Gemma-2 / Gemma-3 with).
PINNED_REQUIREMENTS: tuple[str, ...] = (
    "optimum==2.3.0",
    "transformers==5.0.0",
    "nncf==3.4.0",
    *_OPENVINO_PINS,
)
#: ``optimum-intel`` requirements that are skipped: torch is installed first from the CPU wheel; torchvision's PyPI
#: wheels are CUDA builds (and only optimum-intel's vision-language models import it).
EXCLUDED_REQUIREMENTS: frozenset[str] = frozenset({"torch", "torchvision"})
#: ``optimum-cli --weight-format`` values accepted by :func:`export_model`.
WEIGHT_FORMATS: tuple[str, ...] = ("fp32", "fp16", "int8", "int4")
#: Written into an export folder as its last file; records the source fingerprint and the recipe.
EXPORT_MARKER = "bootembed-openvino-export.json"
#: Files an exported folder must hold for ``openvino_genai`` (model, tokenizer, detokenizer).
IR_FILES: tuple[str, ...] = (
    "openvino_model.xml",
    "openvino_model.bin",
    "openvino_tokenizer.xml",
    "openvino_detokenizer.xml",
)
#: Default venv location (``BOOTEMBED_OPENVINO_VENV`` overrides), relative to the working directory.
DEFAULT_VENV = os.environ.get("BOOTEMBED_OPENVINO_VENV") or ".venv-openvino"

_IMPORT_CHECK = (
    "import torch, transformers, openvino, openvino_tokenizers, optimum.intel; "
    "print(torch.__version__, transformers.__version__, openvino.__version__)"
)


def _venv_script(root: Path, name: str) -> Path:
    if os.name == "nt":  # pragma: no cover - Windows
        return root / "Scripts" / f"{name}.exe"
    return root / "bin" / name


def _recipe() -> dict[str, object]:
    return {
        "torch": TORCH_SPEC,
        "optimum-intel": OPTIMUM_INTEL_SPEC,
        "pinned": list(PINNED_REQUIREMENTS),
        "excluded": sorted(EXCLUDED_REQUIREMENTS),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


#: The export venv (:func:`ensure_openvino_env`).
RECIPE = VenvRecipe.for_engine(
    "openvino",
    package=OPTIMUM_INTEL_SPEC,
    pins=PINNED_REQUIREMENTS,
    excluded=EXCLUDED_REQUIREMENTS,
    import_check=_IMPORT_CHECK,
    recipe=_recipe(),
)
#: Written into the venv once it is complete; its content identifies the recipe.
MARKER = RECIPE.marker
#: Present while a venv build is in progress (an interrupted build is recognised by it).
BUILDING = RECIPE.building
#: Runs a build or export step (tests replace it).
_run = RECIPE.run


def ensure_openvino_env(path: str | Path = DEFAULT_VENV, **options: Any) -> Path:
    """Create (once) and return the separate export venv; idempotent and safe to call from several processes.

    A complete venv carries a marker file, written atomically as the last step, that records the recipe (pins and
    Python version); when it matches, this returns at once. Otherwise the venv is built (see the module docstring),
    then checked by importing ``optimum.intel``. A folder left by an interrupted build (it holds a ``.building``
    flag), or a venv built by this module for another recipe, is wiped and rebuilt. Concurrent callers serialise on a
    lock of the venv's parent folder. Takes about 2 minutes and 1.5 GB of disk.

    ``path`` is the venv folder; ``options`` (``torch_index_url``, default ``BOOTEMBED_TORCH_INDEX_URL``,
    ``base_python``, ``timeout``), the return value (the venv's Python) and the errors are those of
    :func:`bootembed.generation.venvs.ensure_venv`.
    """
    return ensure_venv(RECIPE, path, run=lambda cmd, what, limit: _run(cmd, what, limit), **options)


def model_fingerprint(model_dir: str | Path) -> str:
    """Content hash of a model folder: SHA-256 over every file's relative path and bytes (about 1 s per GB).

    Files written by this module (export markers, lock files) and hidden files are ignored, so the fingerprint of a
    transformers folder depends only on its configuration, tokenizer and weights.

    Args:
        model_dir: a folder (searched recursively).

    Returns:
        64 hex digits.

    Raises:
        FileNotFoundError: ``model_dir`` is not a folder.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: model folder not found")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == EXPORT_MARKER or any(part.startswith(".") for part in Path(rel).parts):
            continue
        digest.update(rel.encode("utf-8") + b"\0" + str(path.stat().st_size).encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                digest.update(block)
    return digest.hexdigest()


def is_openvino_ir(path: str | Path) -> bool:
    """Whether ``path`` holds an OpenVINO GenAI model folder (model, tokenizer and detokenizer IR)."""
    root = Path(path)
    return all((root / name).is_file() for name in IR_FILES)


def export_info(path: str | Path) -> dict[str, object]:
    """The export marker of an exported folder (source fingerprint, weight format, recipe, seconds).

    Returns:
        The parsed marker, or ``{}`` for a folder this module did not export.
    """
    return read_json(Path(path) / EXPORT_MARKER) or {}


def _export_matches(out: Path, fingerprint: str, weight_format: str) -> bool:
    marker = read_json(out / EXPORT_MARKER)
    return (
        marker is not None
        and is_openvino_ir(out)
        and marker.get("source_fingerprint") == fingerprint
        and marker.get("weight_format") == weight_format
        and marker.get("recipe") == _recipe()
    )


def export_model(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    weight_format: str = "fp32",
    venv: str | Path | None = None,
    fingerprint: str | None = None,
    timeout: float = 3600.0,
) -> Path:
    """Export a transformers causal LM folder to OpenVINO IR with its tokenizer; skipped when already done.

    Runs ``optimum-cli export openvino --model MODEL_DIR --task text-generation-with-past --weight-format FORMAT``
    in the export venv (built by :func:`ensure_openvino_env` on first use), offline (``HF_HUB_OFFLINE=1``), into a
    temporary sibling of ``out_dir`` that is renamed into place once complete, so ``out_dir`` is either absent, a
    complete earlier export, or a complete new one. The export marker (written last) records the content
    fingerprint of ``model_dir`` (:func:`model_fingerprint`), the weight format and the venv recipe; when they all
    match, nothing is done. The fp32 export of Gemma-3-270M takes about 1.5 min and 2.7 GB of memory on 2 cores
    and writes 1.1 GB.

    Args:
        model_dir: transformers folder (``config.json``, safetensors weights, tokenizer).
        out_dir: destination folder (replaced when stale).
        weight_format: ``"fp32"`` (exact), ``"fp16"``, ``"int8"`` or ``"int4"`` (NNCF weight compression; the
            activations stay in the inference precision).
        venv: export venv folder (default :data:`DEFAULT_VENV`).
        fingerprint: precomputed :func:`model_fingerprint` of ``model_dir`` (computed when ``None``).
        timeout: seconds allowed for the venv build steps and for the export.

    Returns:
        ``out_dir`` (absolute), holding ``openvino_model.xml/.bin``, ``openvino_tokenizer.xml/.bin``,
        ``openvino_detokenizer.xml/.bin``, the configuration and the tokenizer files.

    Raises:
        FileNotFoundError: ``model_dir`` has no ``config.json``.
        ValueError: unknown ``weight_format``.
        RuntimeError: the venv cannot be built, or the export failed or wrote no tokenizer IR (the message ends with
            the exporter's output).
    """
    if weight_format not in WEIGHT_FORMATS:
        raise ValueError(f"weight_format: expected one of {WEIGHT_FORMATS}, got {weight_format!r}")
    source = Path(model_dir).absolute()
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source / 'config.json'}: model config not found")
    out = Path(out_dir).absolute()
    fingerprint = fingerprint or model_fingerprint(source)
    if _export_matches(out, fingerprint, weight_format):
        return out
    venv_root = Path(venv or DEFAULT_VENV).absolute()
    ensure_openvino_env(venv_root, timeout=timeout)
    out.parent.mkdir(parents=True, exist_ok=True)
    with locked(out.parent):
        # Exported by another process while we waited?
        if _export_matches(out, fingerprint, weight_format):
            return out
        tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        cli = _venv_script(venv_root, "optimum-cli")
        cmd = [
            str(cli),
            "export",
            "openvino",
            "--model",
            str(source),
            "--task",
            "text-generation-with-past",
            "--weight-format",
            weight_format,
            str(tmp),
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)  # the venv must not see the project environment's packages
        start = time.perf_counter()
        try:
            _run(cmd, f"export {source.name} ({weight_format})", timeout, env=env)
            if not is_openvino_ir(tmp):
                raise RuntimeError(
                    f"openvino env: the export wrote no complete OpenVINO GenAI folder "
                    f"(expected {IR_FILES} in {tmp}; is openvino-tokenizers installed in {venv_root}?)"
                )
            seconds = time.perf_counter() - start
            venv_marker = read_json(venv_root / MARKER) or {}
            write_json_atomic(
                tmp / EXPORT_MARKER,
                {
                    "source": str(source),
                    "source_fingerprint": fingerprint,
                    "weight_format": weight_format,
                    "recipe": _recipe(),
                    "versions": venv_marker.get("versions"),
                    "export_seconds": round(seconds, 1),
                },
            )
            old = out.with_name(f".{out.name}.old{os.getpid()}")
            if out.exists():
                os.replace(out, old)
            os.replace(tmp, out)
            if old.exists():
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    logger.info(
        "openvino env: exported %s to %s (%s) in %.0f s", source, out, weight_format, seconds
    )
    return out


def cached_export(
    model_dir: str | Path,
    cache_dir: str | Path,
    *,
    weight_format: str = "fp32",
    venv: str | Path | None = None,
    timeout: float = 3600.0,
) -> Path:
    """Export ``model_dir`` into a content-addressed subfolder of ``cache_dir`` (see :func:`export_model`).

    The subfolder is named ``<first 16 hex digits of the fingerprint>-<weight_format>``: the same weights exported
    from any path reuse one export, and changed weights get a new one (old ones are left for the caller to prune).

    Returns:
        The export folder.

    Raises:
        Same as :func:`export_model`.
    """
    fingerprint = model_fingerprint(model_dir)
    out = Path(cache_dir) / f"{fingerprint[:16]}-{weight_format}"
    return export_model(
        model_dir,
        out,
        weight_format=weight_format,
        venv=venv,
        fingerprint=fingerprint,
        timeout=timeout,
    )
