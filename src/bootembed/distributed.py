"""Training on several processes (``accelerate launch``): which process writes, and where the others wait.

Generator SFT and encoder training run unchanged on one process; under ``accelerate launch`` (DDP or FSDP, one
process per GPU, or gloo processes on a CPU) every process runs the same stage command, the HF trainer shards the
batches and all-reduces the gradients, and this module keeps the stage's guarantees:

* **one writer**: only the main process (rank 0) writes outputs, metrics and training logs, each atomically
  (:mod:`bootembed.io`) as on one process; the others wait at a barrier until it is done;
* **one work folder**: the main process opens (and, for changed settings, empties) the resumable work folder before
  the others look at it (:func:`main_first`), so every process resumes from the same checkpoint;
* **one dtype**: a side-by-side float32 / bf16 measurement would time each process on its own and could decide
  differently per process, so ``auto`` that needs a measurement is refused under several processes
  (:func:`refuse_measurement`); set the dtype in params (the paper preset sets ``bfloat16``).

The process layout comes from the launcher's environment (``WORLD_SIZE``, ``RANK``); the process group is the
trainer's own (:class:`accelerate.PartialState`, gloo on a CPU, NCCL on GPUs), created here first when a barrier is
needed before the trainer exists. Nothing is imported from accelerate on one process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = [
    "barrier",
    "is_main",
    "kbit_device_map",
    "main_first",
    "rank",
    "refuse_measurement",
    "world_size",
]


def world_size() -> int:
    """Processes of this launch (``WORLD_SIZE`` set by ``accelerate launch`` / torchrun; 1 otherwise)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def rank() -> int:
    """This process's global rank (``RANK``; 0 on one process)."""
    return int(os.environ.get("RANK", "0") or 0)


def is_main() -> bool:
    """Whether this process writes the outputs (rank 0)."""
    return rank() == 0


def _state(cpu: bool | None = None):  # noqa: ANN202 - accelerate.PartialState
    """The launch's :class:`accelerate.PartialState` (creates the process group on first use).

    ``cpu`` defaults to "no CUDA device": gloo on a CPU, as the HF trainer's ``use_cpu=True`` does.
    """
    from accelerate import PartialState

    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    return PartialState(cpu=cpu)


def barrier() -> None:
    """Wait until every process of the launch gets here (no-op on one process)."""
    if world_size() > 1:
        _state().wait_for_everyone()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Run the block on the main process first, then on the others (no-op on one process).

    Used to open a work folder: the main process discards a stale one and writes its manifest; the others then find
    the same manifest and resume from the same checkpoint.
    """
    if world_size() == 1:
        yield
        return
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def refuse_measurement(field_name: str) -> None:
    """Refuse the side-by-side dtype measurement under several processes (see the module docstring).

    Raises:
        ValueError: ``world_size() > 1``, naming the params field to set.
    """
    if world_size() > 1:
        raise ValueError(
            f"{field_name}: auto needs a side-by-side float32 / bf16 measurement, which cannot run under "
            f"{world_size()} processes; set float32 or bfloat16 in params"
        )


def kbit_device_map(use_cpu: bool) -> str | dict[str, str | int]:
    """Where a k-bit (bitsandbytes) base model goes when params give no ``device_map``.

    bitsandbytes quantises while loading, so the model must be placed then: on the CPU for CPU training, on this
    process's own GPU (``LOCAL_RANK``) under several processes (DDP keeps one replica per GPU), else ``"auto"``
    (transformers spreads the layers over the visible GPUs).
    """
    if use_cpu:
        return {"": "cpu"}
    if world_size() > 1:
        return {"": int(os.environ.get("LOCAL_RANK", "0") or 0)}
    return "auto"
