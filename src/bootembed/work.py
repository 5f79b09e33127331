"""Resumable work folders: where long stages keep partial work across a kill, and never mix settings.

A stage's work folder is ``<root>/<kind>/<output slug>/`` (default root ``.bootembed-work`` in the working
directory, i.e. the repository for DVC stages; ``BOOTEMBED_WORK_DIR`` overrides). It holds a ``manifest.json``:
every resolved setting that can change the output, including content digests of the weights read. When a stage
starts, a folder whose manifest differs is emptied, with a log line naming the settings that changed; a folder whose
manifest matches is resumed (synthesis chunk parts, training checkpoints). The stage removes the folder only after
its outputs and metrics are written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bootembed.io import write_json

__all__ = ["DEFAULT_ROOT", "MANIFEST", "WorkDir"]

logger = logging.getLogger(__name__)

#: Root of every work folder, relative to the working directory (``BOOTEMBED_WORK_DIR`` overrides).
DEFAULT_ROOT = ".bootembed-work"
#: The manifest file of a work folder.
MANIFEST = "manifest.json"


def _slug(path: str | Path) -> str:
    text = str(Path(path)).strip("/")
    return re.sub(r"[^A-Za-z0-9._-]+", "__", text) or "root"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class WorkDir:
    """The work folder of one output, opened against a manifest.

    Args:
        kind: what the work is (``"synthesize"``, ``"train_generator"``, ``"train_encoder"``).
        output: the stage output the work is for (names the folder).
        manifest: every setting that can change the output (JSON-able).
        root: root of the work folders (default ``BOOTEMBED_WORK_DIR`` or :data:`DEFAULT_ROOT`).

    Attributes:
        path: the folder (exists after construction).
        resumed: whether an earlier folder with the same manifest was found (its contents are kept).
        discarded: the manifest keys that differed when an earlier folder was emptied (empty otherwise).
    """

    def __init__(
        self,
        kind: str,
        output: str | Path,
        manifest: Mapping[str, Any],
        *,
        root: str | Path | None = None,
    ) -> None:
        base = Path(root or os.environ.get("BOOTEMBED_WORK_DIR") or DEFAULT_ROOT)
        self.path = base / kind / _slug(output)
        self.manifest = _jsonable(dict(manifest))
        self.resumed = False
        self.discarded: list[str] = []
        file = self.path / MANIFEST
        if self.path.exists():
            old: dict[str, Any] | None
            try:
                old = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                old = None
            if old == self.manifest:
                self.resumed = True
                logger.info("%s: resuming the work in %s", kind, self.path)
            else:
                keys = sorted(
                    k
                    for k in set(old or {}) | set(self.manifest)
                    if (old or {}).get(k) != self.manifest.get(k)
                )
                self.discarded = keys if old is not None else ["<no readable manifest>"]
                logger.warning(
                    "%s: discarding the earlier work in %s: settings changed (%s)",
                    kind,
                    self.path,
                    ", ".join(self.discarded),
                )
                shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.resumed:
            write_json(file, self.manifest)

    def last_checkpoint(self) -> Path | None:
        """The newest complete HF trainer checkpoint (``checkpoint-<step>`` with its ``trainer_state.json``) of a
        resumed folder, or ``None`` (also when the folder was new or discarded)."""
        if not self.resumed:
            return None
        found = []
        for path in self.path.glob("checkpoint-*"):
            step = path.name.removeprefix("checkpoint-")
            if step.isdigit() and (path / "trainer_state.json").is_file():
                found.append((int(step), path))
        return max(found)[1] if found else None

    def remove(self) -> None:
        """Delete the folder (call once the stage's outputs and metrics are written)."""
        shutil.rmtree(self.path, ignore_errors=True)
        for parent in (self.path.parent, self.path.parent.parent):
            try:
                parent.rmdir()
            except OSError:
                break
