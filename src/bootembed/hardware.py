"""One hardware probe for every stage: the device, whether bf16 is native, and the dtype each step runs in.

Every stage that computes asks this module, so ``auto`` means the same thing everywhere:

* **Native bf16** is a CUDA device with bf16 support, or a CPU with ``avx512_bf16`` or AMX (``amx_bf16``) in its
  ``/proc/cpuinfo`` flags. Elsewhere bf16 is emulated (on an AVX2 CPU a bf16 matmul ran 600x slower than float32)
  and ``auto`` is float32 without further work.
* **Decided by measurement, not by flag name.** Where bf16 is native, ``auto`` picks bf16 for a step only when a
  side-by-side run of that step in float32 and bf16 shows bf16 at least :data:`MIN_SPEEDUP` times faster *and*
  safe for it: SFT loss curves comparable (:data:`SFT_MAX_LOSS_DIFF`), greedy synthesis agreeing with float32 on
  at least :data:`SYNTHESIS_MIN_AGREEMENT` of the prompts, encoder scores within :data:`ENCODER_MAX_SCORE_DIFF` of
  float32 (the thresholds of the project's issue 9). The step's own stage supplies the measurement
  (:class:`Measurement`), and its metrics JSON records the :class:`DtypeDecision` (dtype, why, the numbers).
* Training on a CPU passes ``use_cpu=True`` to the HF trainers (:func:`trainer_precision`); without it
  ``bf16=True`` fails on a CPU ("Your setup doesn't support bf16/gpu").

Example:
    >>> from bootembed.hardware import probe, resolve_dtype
    >>> resolve_dtype("synthesis", "auto", hardware=probe()).dtype  # doctest: +SKIP
    'float32'
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DTYPES",
    "ENCODER_MAX_SCORE_DIFF",
    "MIN_SPEEDUP",
    "REQUESTS",
    "STEPS",
    "SFT_MAX_LOSS_DIFF",
    "SYNTHESIS_MIN_AGREEMENT",
    "DtypeDecision",
    "Hardware",
    "Measurement",
    "greedy_agreement",
    "loss_curve_difference",
    "probe",
    "resolve_dtype",
    "torch_dtype",
    "trainer_precision",
]

logger = logging.getLogger(__name__)

#: The computing steps whose dtype is resolved here.
STEPS: tuple[str, ...] = ("generator_training", "synthesis", "encoder_training", "encoding")
#: Concrete dtypes.
DTYPES: tuple[str, ...] = ("float32", "bfloat16")
#: What params may ask for.
REQUESTS: tuple[str, ...] = ("auto", *DTYPES)
#: bf16 must be at least this many times faster than float32, measured side by side, for ``auto`` to pick it.
MIN_SPEEDUP = 1.15
#: Greedy synthesis in bf16 must equal float32 on at least this share of prompts.
SYNTHESIS_MIN_AGREEMENT = 0.90
#: Encoder scores in bf16 must be within this of float32 (absolute, on the score's own scale).
ENCODER_MAX_SCORE_DIFF = 0.005
#: SFT loss curves are comparable when the mean relative difference of the per-step losses is at most this.
SFT_MAX_LOSS_DIFF = 0.02

Step = Literal["generator_training", "synthesis", "encoder_training", "encoding"]

_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class Hardware:
    """What this machine computes on.

    Attributes:
        device: ``"cuda"`` or ``"cpu"``.
        cpu_model: the CPU's ``model name``.
        cpu_flags: the CPU's ``/proc/cpuinfo`` flags (empty where that file does not exist).
        cpu_capability: torch's ATen CPU capability (``"AVX2"``, ``"AVX512"``, ...; empty without torch).
        cuda_device: name of CUDA device 0, or ``None``.
        cuda_bf16: whether that device supports bf16.
        cpus: CPUs this process may run on.
    """

    device: str
    cpu_model: str
    cpu_flags: frozenset[str] = field(default_factory=frozenset)
    cpu_capability: str = ""
    cuda_device: str | None = None
    cuda_bf16: bool = False
    cpus: int = 1

    @property
    def cpu_kind(self) -> str:
        """``"amx"``, ``"avx512_bf16"``, ``"avx512"``, ``"avx2"`` or ``"other"`` (the best bf16-relevant ISA)."""
        if "amx_bf16" in self.cpu_flags:
            return "amx"
        if "avx512_bf16" in self.cpu_flags:
            return "avx512_bf16"
        if "avx512f" in self.cpu_flags:
            return "avx512"
        if "avx2" in self.cpu_flags:
            return "avx2"
        return "other"

    @property
    def native_bf16(self) -> bool:
        """bf16 runs natively: CUDA with bf16, or a CPU with ``avx512_bf16`` / AMX (when no CUDA device is used)."""
        if self.device == "cuda":
            return self.cuda_bf16
        return any(flag in self.cpu_flags for flag in _NATIVE_BF16_FLAGS)

    @property
    def native_dtypes(self) -> tuple[str, ...]:
        """Dtypes this machine runs natively: float32, plus bfloat16 where :attr:`native_bf16`."""
        return DTYPES if self.native_bf16 else ("float32",)

    def describe(self) -> str:
        """One line: ``cpu (AMD EPYC, avx2, 2 CPUs)`` or ``cuda (NVIDIA H200, bf16)``."""
        if self.device == "cuda":
            return f"cuda ({self.cuda_device}, {'bf16' if self.cuda_bf16 else 'no bf16'})"
        return f"cpu ({self.cpu_model}, {self.cpu_kind}, {self.cpus} CPUs)"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record (flags relevant to the dtype choice only, sorted)."""
        data = asdict(self)
        relevant = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "f16c")
        data["cpu_flags"] = sorted(f for f in self.cpu_flags if f in relevant)
        data.update(
            cpu_kind=self.cpu_kind,
            native_bf16=self.native_bf16,
            native_dtypes=list(self.native_dtypes),
        )
        return data


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model in ("", platform.machine(), platform.processor()):
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return model, flags


@functools.cache
def probe() -> Hardware:
    """Probe this machine once per process: CUDA device and bf16 support, CPU model, flags and capability.

    Returns:
        The :class:`Hardware` of this process (``device="cuda"`` when torch sees a CUDA device).
    """
    import torch

    model, flags = _cpuinfo()
    cuda = torch.cuda.is_available()
    hardware = Hardware(
        device="cuda" if cuda else "cpu",
        cpu_model=model,
        cpu_flags=flags,
        cpu_capability=str(torch.backends.cpu.get_cpu_capability()),
        cuda_device=torch.cuda.get_device_name(0) if cuda else None,
        cuda_bf16=bool(torch.cuda.is_bf16_supported()) if cuda else False,
        cpus=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1,
    )
    logger.info("hardware: %s, native bf16: %s", hardware.describe(), hardware.native_bf16)
    return hardware


@dataclass(frozen=True)
class Measurement:
    """A side-by-side run of one step in float32 and in bf16.

    Attributes:
        float32_seconds: wall time of the float32 run (same work as the bf16 run).
        bfloat16_seconds: wall time of the bf16 run.
        check: what the safety check compares (``"greedy agreement"``, ``"loss curve difference"``,
            ``"score difference"``).
        value: the measured value of that check.
        threshold: the limit it must meet.
        safe: whether it meets the limit.
        details: anything else worth recording (sizes, per-step losses, ...).
    """

    float32_seconds: float
    bfloat16_seconds: float
    check: str
    value: float
    threshold: float
    safe: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """float32 time / bf16 time (above 1: bf16 is faster)."""
        return self.float32_seconds / self.bfloat16_seconds if self.bfloat16_seconds > 0 else 0.0


@dataclass(frozen=True)
class DtypeDecision:
    """The dtype one step runs in, and why.

    Attributes:
        step: one of :data:`STEPS`.
        requested: what params asked for (``auto``, ``float32`` or ``bfloat16``).
        dtype: what the step uses (``float32`` or ``bfloat16``).
        reason: one sentence saying why.
        hardware: :meth:`Hardware.describe` of the machine.
        native_bf16: whether bf16 is native there.
        measurement: the side-by-side run, when one was made.
    """

    step: str
    requested: str
    dtype: str
    reason: str
    hardware: str
    native_bf16: bool
    measurement: Measurement | None = None

    @property
    def torch_dtype(self) -> Any:
        """The torch dtype (``torch.float32`` / ``torch.bfloat16``)."""
        return torch_dtype(self.dtype)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record for a stage's metrics (``measurement`` with its speedup)."""
        data = asdict(self)
        if self.measurement is not None:
            data["measurement"]["speedup"] = round(self.measurement.speedup, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DtypeDecision:
        """The decision of an :meth:`as_dict` record (the inverse, ``speedup`` recomputed from the seconds).

        Raises:
            KeyError / TypeError: not such a record.
        """
        fields = dict(data)
        measured = fields.pop("measurement", None)
        if measured is not None:
            measured = {k: v for k, v in measured.items() if k != "speedup"}
            fields["measurement"] = Measurement(**measured)
        return cls(**fields)


def torch_dtype(name: str) -> Any:
    """``"float32"`` / ``"bfloat16"`` -> the torch dtype.

    Raises:
        ValueError: another name.
    """
    import torch

    if name not in DTYPES:
        raise ValueError(f"dtype: expected one of {list(DTYPES)}, got {name!r}")
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def resolve_dtype(
    step: str,
    requested: str,
    *,
    hardware: Hardware | None = None,
    measure: Callable[[], Measurement] | None = None,
    field_name: str = "dtype",
) -> DtypeDecision:
    """Resolve the dtype of one step (``auto`` = the same rule for every step and backend).

    ``float32`` / ``bfloat16`` are taken as given (bf16 without native support is allowed but logged as slow).
    ``auto`` is float32 where bf16 is not native; where it is, ``measure`` runs the step side by side in both
    dtypes and bf16 is chosen only if it is at least :data:`MIN_SPEEDUP` times faster and its
    :class:`Measurement` is ``safe``. Without a ``measure`` callable, ``auto`` stays float32 and says so.

    Args:
        step: one of :data:`STEPS`.
        requested: ``"auto"``, ``"float32"`` or ``"bfloat16"``.
        hardware: the machine (default: :func:`probe`).
        measure: runs the side-by-side measurement (called only where bf16 is native and ``requested`` is auto).
        field_name: the params field, for the reason text (``"synthesize.dtype"``).

    Returns:
        The :class:`DtypeDecision`.

    Raises:
        ValueError: unknown ``step`` or ``requested``.
    """
    if step not in STEPS:
        raise ValueError(f"step: expected one of {list(STEPS)}, got {step!r}")
    if requested not in REQUESTS:
        raise ValueError(f"{field_name}: expected one of {list(REQUESTS)}, got {requested!r}")
    hw = hardware or probe()
    common = {
        "step": step,
        "requested": requested,
        "hardware": hw.describe(),
        "native_bf16": hw.native_bf16,
    }
    if requested != "auto":
        reason = f"{field_name}: {requested} set in params"
        if requested == "bfloat16" and not hw.native_bf16:
            reason += " (bf16 is emulated on this machine and runs far slower than float32)"
            logger.warning("%s: %s", step, reason)
        return DtypeDecision(dtype=requested, reason=reason, **common)
    if not hw.native_bf16:
        where = (
            f"CUDA device {hw.cuda_device} without bf16"
            if hw.device == "cuda"
            else f"CPU without avx512_bf16 / AMX ({hw.cpu_kind})"
        )
        return DtypeDecision(
            dtype="float32", reason=f"auto: no native bf16 on this {where}", **common
        )
    if measure is None:
        return DtypeDecision(
            dtype="float32",
            reason="auto: bf16 is native here, but this step has no side-by-side measurement: float32",
            **common,
        )
    measured = measure()
    fast = measured.speedup >= MIN_SPEEDUP
    pick = "bfloat16" if (fast and measured.safe) else "float32"
    why = []
    why.append(
        f"bf16 {measured.speedup:.2f}x float32 speed ({'>=' if fast else '<'} {MIN_SPEEDUP}x)"
    )
    why.append(
        f"{measured.check} {measured.value:.4g} "
        f"({'meets' if measured.safe else 'fails'} the limit {measured.threshold:g})"
    )
    reason = f"auto: native bf16, measured side by side: {'; '.join(why)}: {pick}"
    decision = DtypeDecision(dtype=pick, reason=reason, measurement=measured, **common)
    logger.info("%s dtype: %s", step, reason)
    return decision


def trainer_precision(decision: DtypeDecision, hardware: Hardware | None = None) -> dict[str, bool]:
    """HF ``TrainingArguments`` precision keywords for a decision: ``bf16`` and ``use_cpu``.

    ``use_cpu=True`` on a CPU machine: transformers refuses ``bf16=True`` on a CPU without it, and it keeps the
    trainer off any accelerator the process might see.

    Returns:
        ``{"bf16": bool, "use_cpu": bool}`` (``fp16`` is never used).
    """
    hw = hardware or probe()
    return {"bf16": decision.dtype == "bfloat16", "use_cpu": hw.device == "cpu"}


def greedy_agreement(first: Sequence[str], second: Sequence[str]) -> float:
    """Share of positions where two runs' outputs are identical.

    Raises:
        ValueError: different lengths or empty.
    """
    if len(first) != len(second) or not first:
        raise ValueError(
            f"greedy_agreement: expected two equally long non-empty lists, got {len(first)} and {len(second)}"
        )
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)


def loss_curve_difference(float32_losses: Sequence[float], bf16_losses: Sequence[float]) -> float:
    """Mean relative difference ``|l_bf16 - l_fp32| / |l_fp32|`` of two per-step loss curves.

    Raises:
        ValueError: different lengths or empty.
    """
    if len(float32_losses) != len(bf16_losses) or not float32_losses:
        raise ValueError(
            "loss_curve_difference: expected two equally long non-empty curves, "
            f"got {len(float32_losses)} and {len(bf16_losses)}"
        )
    diffs = [
        abs(b - a) / max(abs(a), 1e-8) for a, b in zip(float32_losses, bf16_losses, strict=True)
    ]
    return sum(diffs) / len(diffs)
