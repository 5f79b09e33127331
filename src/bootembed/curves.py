"""Training curves through dvclive: the loss, learning rate and gradient norm of every trainer run.

Both trainers (the LoRA SFT of the generators, :mod:`bootembed.generator_training`, and the contrastive training of
the encoder, :mod:`bootembed.encoder_training`) get a :class:`LiveCurves` callback. It logs through
``dvclive.Live`` into one folder per run (``metrics/dvclive/<stage>/...``): ``plots/metrics/train/<name>.tsv`` (a
row per logging step: ``step`` = the trainer's optimizer step, and the value) and ``metrics.json`` (the last values).
``dvc.yaml`` declares each ``plots`` folder as a DVC plot (``x: step``) and each ``metrics.json`` as a plain output;
the report reads the loss curves back (:func:`read_loss_curves`).

Why not ``report_to="dvclive"`` (transformers' ``DVCLiveCallback``), measured with dvclive 3.49.1 and transformers
5.19: its ``Live()`` writes to ``./dvclive`` and rewrites the project's ``dvc.yaml`` (generated here, one folder per
run is needed), saves a DVC experiment after a plain run, logs every ``TrainingArguments`` field (the work folder's
path among them) as params, and counts steps by log call, not by optimizer step, so a run resumed from a checkpoint
logs from step 0 again. :class:`LiveCurves` logs the trainer's own ``log_history`` instead:

* the step is ``state.global_step``; only the curve keys are logged (no run time), with no timestamp column, so
  the same training gives the same files (DVC hashes them);
* a run resumed from a checkpoint starts the folder afresh from the checkpoint's ``log_history`` and goes on, and a
  finished checkpoint that is restored without training (:func:`bootembed.training.resume_training`) writes its
  history in :meth:`LiveCurves.finish`: a killed-and-resumed run writes what an uninterrupted one does;
* offline: no DVC Studio calls (``DVC_STUDIO_OFFLINE`` while the logger starts, which is when dvclive reads its
  Studio settings), no report, no browser (``DVCLIVE_OPEN`` only acts on reports), no experiment saved, and
  dvclive's repository hook is not run (:class:`_ProjectLive`).

Example:
    >>> curves = LiveCurves("metrics/dvclive/train_encoder/hau_Latn/xllora/seed42")  # doctest: +SKIP
    >>> trainer.add_callback(curves.callback())  # doctest: +SKIP
    >>> resume_training(trainer, checkpoint); curves.finish(trainer.state)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CURVE_KEYS", "LOSS", "LiveCurves", "loss_file", "read_loss_curves"]

logger = logging.getLogger(__name__)

#: trainer log key -> dvclive metric name (``train/`` split prefix, as dvclive's own integrations name them).
CURVE_KEYS: Mapping[str, str] = {
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
}
#: The dvclive metric of the training loss.
LOSS = CURVE_KEYS["loss"]


def _live_class() -> type:
    from dvclive import Live

    class _ProjectLive(Live):
        """``dvclive.Live`` without its repository hook.

        ``Live._init_dvc`` opens the DVC repository around the working directory (1.7 s per run here) to save
        experiments, write ``dvc.yaml`` and read Studio settings, and where the working directory is a Git
        repository without a DVC project it runs ``dvc init`` there (``dvclive.dvc.get_dvc_repo``, 3.49.1). None of
        it is wanted: ``dvc.yaml`` is generated and declares every dvclive folder, experiments are ``dvc exp run``'s
        and Studio is off. The VS Code progress signal of ``next_step`` does not depend on it.
        """

        def _init_dvc(self) -> None:
            # the one attribute the rest of Live reads from it, and only where dvc.yaml writing is on (it is off)
            self._dvc_file = "dvc.yaml"

    return _ProjectLive


@contextlib.contextmanager
def _studio_offline() -> Iterator[None]:
    """``DVC_STUDIO_OFFLINE=true`` for the block (dvclive reads its Studio settings once, when a logger starts)."""
    before = os.environ.get("DVC_STUDIO_OFFLINE")
    os.environ["DVC_STUDIO_OFFLINE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DVC_STUDIO_OFFLINE", None)
        else:
            os.environ["DVC_STUDIO_OFFLINE"] = before


class LiveCurves:
    """The training curves of one trainer run, logged through dvclive (module docstring).

    :meth:`callback` is the HF ``TrainerCallback`` to add to the trainer; :meth:`finish` ends the logging after
    :func:`bootembed.training.resume_training`.

    Args:
        folder: the run's dvclive folder; emptied of dvclive's files when the run starts.
        keys: trainer log keys -> dvclive metric names (default :data:`CURVE_KEYS`).
    """

    def __init__(self, folder: str | Path, keys: Mapping[str, str] = CURVE_KEYS) -> None:
        self.folder = Path(folder)
        self.keys = dict(keys)
        self.live: Any = None

    def start(self, history: Sequence[Mapping[str, Any]] = ()) -> None:
        """Start the folder afresh (dvclive removes its earlier files) and log ``history`` (trainer log entries)."""
        with _studio_offline():
            self.live = _live_class()(
                dir=str(self.folder),
                resume=False,
                report=None,
                save_dvc_exp=False,
                dvcyaml=False,
                monitor_system=False,
            )
        for entry in history:
            self.log(entry)

    def log(self, entry: Mapping[str, Any]) -> None:
        """Log the curve keys of one trainer log entry (with its ``step``) at that step; other entries are skipped."""
        # in the order of ``keys``: a checkpoint's history comes back with its keys sorted
        values = {name: entry[key] for key, name in self.keys.items() if key in entry}
        if not values or "step" not in entry:
            return
        self.live.step = int(entry["step"])
        for name, value in values.items():
            self.live.log_metric(name, float(value))
        self.live.next_step()

    def callback(self) -> Any:
        """The ``transformers.TrainerCallback``: starts at ``on_train_begin`` (a run resumed from a checkpoint first
        logs the checkpoint's ``log_history``) and logs every ``on_log`` at ``state.global_step``."""
        from transformers import TrainerCallback

        curves = self

        class _LiveCurvesCallback(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                curves.start(state.log_history if state.global_step > 0 else ())

            def on_log(
                self,
                args: Any,
                state: Any,
                control: Any,
                logs: Mapping[str, Any] | None = None,
                **kwargs: Any,
            ) -> None:
                if curves.live is not None and logs:
                    curves.log({**logs, "step": state.global_step})

        return _LiveCurvesCallback()

    def finish(self, state: Any) -> Path:
        """End the run's logging; a run that never trained (a finished checkpoint restored) logs its history now.

        Args:
            state: the trainer's ``TrainerState`` after :func:`bootembed.training.resume_training`.

        Returns:
            The dvclive folder.
        """
        if self.live is None:
            self.start(state.log_history)
        self.live.end()
        return self.folder


def loss_file(folder: str | Path) -> Path:
    """The dvclive history file of the training loss in a run's folder (``plots/metrics/train/loss.tsv``)."""
    return Path(folder) / "plots" / "metrics" / f"{LOSS}.tsv"


def read_loss_curves(root: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every training loss curve under a dvclive root folder, ``{run: [(step, loss), ...]}``.

    Args:
        root: ``metrics/dvclive``; a run is any folder below it with a :func:`loss_file`.

    Returns:
        ``run`` is the run folder's path below ``root`` (``train_encoder/hau_Latn/xllora/seed42``,
        ``train_generator/task/positive``), sorted; ``{}`` when ``root`` does not exist.

    Raises:
        ValueError: a history file lacks the ``step`` or ``loss`` column (names the file).
    """
    root = Path(root)
    curves: dict[str, list[tuple[int, float]]] = {}
    if not root.is_dir():
        return curves
    for path in sorted(root.rglob(Path(LOSS).name + ".tsv")):
        run = path.parents[3] if len(path.relative_to(root).parts) >= 4 else None
        if run is None or loss_file(run) != path:
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        name = Path(LOSS).name
        if rows and ("step" not in rows[0] or name not in rows[0]):
            raise ValueError(f"{path}: expected columns 'step' and {name!r}, got {list(rows[0])}")
        curves[run.relative_to(root).as_posix()] = [(int(r["step"]), float(r[name])) for r in rows]
    return curves
