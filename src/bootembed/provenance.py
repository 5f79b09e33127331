"""Provenance in one place: library versions, content digests of models and adapters, and the stage record.

Every stage's metrics JSON carries :func:`record` (seed, library versions, and the dtype decisions of
:mod:`bootembed.hardware`); resumable work is keyed by :func:`settings_digest` over every setting that can change
an output, including the content digest (:func:`dir_digest`) of the weights it reads.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PACKAGES",
    "WEIGHTS_ONLY",
    "canonical_model_files",
    "dir_digest",
    "file_digest",
    "generator_base_id",
    "package_versions",
    "record",
    "settings_digest",
]

#: Packages whose versions are recorded with every stage.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "datasets",
    "sentence-transformers",
    "mteb",
    "polars",
)

_CHUNK = 1 << 20

#: File names left out of a digest that should identify weights only (training logs hold timings).
WEIGHTS_ONLY: tuple[str, ...] = ("training_log.json",)


def package_versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """``{"python": ..., package: version}`` for the installed ``packages`` (missing ones are left out)."""
    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def file_digest(path: str | Path) -> str:
    """sha256 hex digest of one file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dir_digest(path: str | Path, *, length: int = 12, exclude: Iterable[str] = ()) -> str:
    """sha256 over the relative names and bytes of every file under ``path`` (sorted), first ``length`` hex digits.

    A file's digest does not depend on where the folder lives, so identical adapters give identical digests on
    every machine.

    Args:
        path: the folder.
        length: hex digits kept.
        exclude: file names left out (``training_log.json``: its timings differ on every run, the weights don't).

    Raises:
        FileNotFoundError: ``path`` is not a folder.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: expected a folder")
    skip = set(exclude)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in skip):
        digest.update(str(file.relative_to(root)).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:length]


def generator_base_id(base_dir: str | Path) -> str:
    """The base generator's id from its ``source.json`` (written by the ``models`` stage), else the folder name."""
    source = Path(base_dir) / "source.json"
    if source.is_file():
        try:
            return str(json.loads(source.read_text(encoding="utf-8")).get("id", str(base_dir)))
        except json.JSONDecodeError:
            pass
    return str(base_dir)


def settings_digest(settings: Mapping[str, Any], *, length: int = 16) -> str:
    """Stable digest of a JSON-able mapping (sorted keys): the identity of a piece of resumable work."""
    text = json.dumps(settings, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def record(*, seed: int | None = None, dtypes: Iterable[Any] = (), **extra: Any) -> dict[str, Any]:
    """What every stage's metrics JSON says about how it ran.

    Args:
        seed: the global seed.
        dtypes: :class:`bootembed.hardware.DtypeDecision` objects of the steps the stage ran.
        extra: more fields to record.

    Returns:
        ``{"seed", "versions", "dtype": {step: decision}, ...}``.
    """
    out: dict[str, Any] = {"versions": package_versions()}
    if seed is not None:
        out["seed"] = seed
    decisions = {d.step: d.as_dict() for d in dtypes}
    if decisions:
        out["dtype"] = decisions
    out.update(extra)
    return out


def canonical_model_files(folder: str | Path) -> list[str]:
    """Rewrite what transformers / peft save differently for the same model, so equal models are equal files.

    DVC hashes every output byte, so two runs of a stage on the same inputs must write the same files. Two fields
    broke that:

    * ``adapter_config.json`` ``target_modules``: peft keeps it as a Python ``set``, so its saved order follows the
      process's string-hash seed (``PYTHONHASHSEED``), which differs from run to run. It is sorted.
    * ``tokenizer_config.json`` ``local_files_only``: transformers records it from the ``HF_HUB_OFFLINE`` environment
      of the process that loaded the tokenizer. It is a loading option, not part of the tokenizer; it is removed.

    Args:
        folder: a saved model folder; every ``adapter_config.json`` / ``tokenizer_config.json`` below it is checked.

    Returns:
        The files rewritten, relative to ``folder`` (sorted).

    Raises:
        json.JSONDecodeError: if one of those files is not JSON.
    """
    root = Path(folder)
    changed = []
    for path in sorted([*root.rglob("adapter_config.json"), *root.rglob("tokenizer_config.json")]):
        data = json.loads(path.read_text(encoding="utf-8"))
        before = json.dumps(data)
        if isinstance(data.get("target_modules"), list):
            data["target_modules"] = sorted(data["target_modules"])
        data.pop("local_files_only", None)
        if json.dumps(data) != before:
            path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            changed.append(str(path.relative_to(root)))
    return changed
