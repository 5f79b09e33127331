"""Atomic file and directory writes, in one place: a stage either leaves its complete output or none at all.

Every write goes to a temporary sibling first and is renamed into place (``os.replace``), so a kill or a full disk
never leaves a partial output that DVC or the next stage would accept.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sources import DataError

__all__ = [
    "atomic_dir",
    "atomic_file",
    "read_json",
    "read_jsonl",
    "replace_dir",
    "write_json",
    "write_jsonl",
    "write_parquet",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` (``os.replace``), else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory next to ``path``; on success it replaces ``path`` as a whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; give the usual directory mode
        replace_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(src: str | Path, dst: str | Path) -> None:
    """Move the finished directory ``src`` to ``dst`` (same filesystem), replacing an existing ``dst``.

    The old ``dst`` is moved aside first and removed only after ``src`` is in place; if the final rename fails,
    the old ``dst`` is put back.
    """
    src, dst = Path(src), Path(dst)
    if not dst.exists():
        os.replace(src, dst)
        return
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted UTF-8 JSON, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(
            json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )


def read_json(path: str | Path) -> Any:
    """Read a JSON file; raises ``ValueError`` naming the file if it is not valid JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def write_parquet(path: str | Path, frame: pl.DataFrame) -> None:
    """Write a polars frame to Parquet atomically."""
    with atomic_file(path) as tmp:
        frame.write_parquet(tmp)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write one JSON object per line (UTF-8, non-ASCII kept), atomically."""
    with atomic_file(path) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(dict(row), ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path, *, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Read a JSON-lines file whose lines are objects holding at least the ``required`` keys.

    Raises:
        DataError: the file is missing, a line is not JSON, or an object lacks a required key (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "a JSON-lines file")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"a JSON object per line ({exc.msg})", line=number) from None
            missing = [key for key in required if not isinstance(row, dict) or key not in row]
            if missing:
                raise DataError(
                    path,
                    f"an object with {', '.join(map(repr, required))}",
                    field=missing[0],
                    line=number,
                )
            rows.append(row)
    return rows
