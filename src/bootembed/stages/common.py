"""What every stage shares: the data sources of the params, the checks of a stage's language and strategy, the dtype
of its computing step, the ``run`` of the stages that work on one ``--language`` and write a metrics file, and that
of the stages that build a strategy's files from ``--input`` files.

What is imported here is loaded by :mod:`bootembed.cli` (the entry point of every stage) or by every stage that
imports this module anyway, so it adds no code dependency to a stage.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from bootembed.config import ConfigError, check_language
from bootembed.data.sources import DataSources
from bootembed.hardware import DtypeDecision, Hardware, Measurement, probe, resolve_dtype
from bootembed.io import write_json
from bootembed.provenance import package_versions, settings_digest
from bootembed.strategies import STRATEGIES
from bootembed.work import DEFAULT_ROOT

__all__ = [
    "DTYPE_SECTIONS",
    "LanguageRequest",
    "StrategyRequest",
    "data_sources",
    "dtype_cache_file",
    "language_stage",
    "stage_dtype",
    "stage_language",
    "stage_strategy",
    "strategy_stage",
]

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger(__name__)

#: Steps that compute with the base generator (the others with the base encoder).
_GENERATOR_STEPS = ("generator_training", "synthesis")

#: Computing step of :mod:`bootembed.hardware` -> the params section whose ``dtype`` field asks for its dtype.
DTYPE_SECTIONS: dict[str, str] = {
    "generator_training": "train_generator",
    "synthesis": "synthesize",
    "encoder_training": "train_encoder",
    "encoding": "evaluate",
}


def data_sources(params: Any, params_path: str | Path) -> DataSources:
    """The :class:`DataSources` of ``params.data``, a relative root resolved against the params file's folder."""
    return DataSources(params.data, base_dir=Path(params_path).resolve().parent)


def stage_language(params: Any, language: str, params_path: str | Path = "params.yaml") -> str:
    """Check a stage's ``--language``: a target FLORES-200 code listed in the params' ``languages``.

    Raises:
        ConfigError: not a target code, or not one of ``languages`` (naming the params file).
    """
    check_language(language, "--language")
    if language not in params.languages:
        raise ConfigError(
            f"--language: {language!r} is not in {params_path}: languages {list(params.languages)}"
        )
    return language


def stage_strategy(name: str, kind: type[S], what: str) -> S:
    """The registered strategy of a stage's ``--strategy``, which must be a ``kind``.

    Args:
        name: the ``--strategy`` value.
        kind: the strategy class the stage runs (``BaselineStrategy``, ``SyntheticStrategy``).
        what: ``kind`` in words, for the message (``"a baseline"``).

    Raises:
        ValueError: no such strategy, or not a ``kind``.
    """
    strategy = STRATEGIES.get(name)
    if not isinstance(strategy, kind):
        raise ValueError(f"--strategy: {name!r} is not {what}")
    return strategy


def stage_dtype(params: Any, step: str, measure: Callable[[], Measurement]) -> DtypeDecision:
    """The dtype of computing ``step``, as ``<section>.dtype`` of :data:`DTYPE_SECTIONS` asks.

    Where that is ``auto`` and bf16 is native, ``measure`` runs the step side by side in both dtypes
    (:func:`bootembed.hardware.resolve_dtype`) once per machine: the decision is kept in
    ``<work root>/dtype/<step>-<key>.json`` (:func:`dtype_cache_file`) and every later stage of that step reuses it.
    A speed measurement differs from run to run, so deciding again in every stage could train one seed in bf16 and
    the next in float32, or resume a killed run in another dtype; with the kept decision every model of a step is
    computed in the same dtype on a machine, and a rerun computes the same outputs.

    Args:
        params: the validated params.
        step: one of :data:`DTYPE_SECTIONS`.
        measure: the side-by-side measurement of the step (called at most once per machine and key).

    Raises:
        KeyError: ``step`` is not in :data:`DTYPE_SECTIONS`.
        ValueError: the section asks for an unknown dtype.
    """
    section = DTYPE_SECTIONS[step]
    requested = getattr(params, section).dtype
    field_name = f"{section}.dtype"
    hardware = probe()
    if requested != "auto" or not hardware.native_bf16:
        return resolve_dtype(step, requested, field_name=field_name, hardware=hardware)
    cache = dtype_cache_file(step, params, hardware)
    if cache.is_file():
        try:
            kept = DtypeDecision.from_dict(json.loads(cache.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: unreadable kept dtype decision (%s): measuring again", cache, exc)
        else:
            logger.info("%s dtype: %s (kept in %s)", step, kept.dtype, cache)
            return replace(
                kept, reason=f"{kept.reason} (measured once on this machine, kept in {cache.name})"
            )
    decision = resolve_dtype(
        step, requested, field_name=field_name, hardware=hardware, measure=measure
    )
    write_json(cache, decision.as_dict())
    return decision


def dtype_cache_file(step: str, params: Any, hardware: Hardware) -> Path:
    """Where :func:`stage_dtype` keeps the ``auto`` decision of ``step`` on this machine.

    The key covers the machine (:meth:`bootembed.hardware.Hardware.describe`), the torch, transformers and
    OpenVINO versions, the base model the step computes with (``models.generator`` for generator training and
    synthesis, ``models.encoder`` for encoder training and encoding: a fine-tuned encoder is encoded in the dtype
    of its base, so every encoder of a comparison is scored the same way) and the step's params section (the sizes
    the measurement runs with; its ``dtype`` and the ``seeds`` / ``save_steps`` of single runs left out).

    Returns:
        ``<BOOTEMBED_WORK_DIR or .bootembed-work>/dtype/<step>-<12 hex digits>.json``.
    """
    section = getattr(params, DTYPE_SECTIONS[step])
    fields = section.model_dump(mode="json")
    for name in ("dtype", "seeds", "save_steps"):
        fields.pop(name, None)
    model = params.models.generator if step in _GENERATOR_STEPS else params.models.encoder
    key = settings_digest(
        {
            "step": step,
            "hardware": hardware.describe(),
            "versions": package_versions(("torch", "transformers", "openvino")),
            "section": fields,
            "model": model.model_dump(mode="json"),
        }
    )[:12]
    root = Path(os.environ.get("BOOTEMBED_WORK_DIR") or DEFAULT_ROOT)
    return root / "dtype" / f"{step}-{key}.json"


def _documented_as(run: F, build: Callable[..., Any]) -> F:
    """``run`` with the docstring and module of ``build``, the stage's own work."""
    run.__doc__ = build.__doc__
    run.__module__ = build.__module__
    return run


@dataclass(frozen=True)
class LanguageRequest:
    """What a :func:`language_stage` command gives its stage.

    Attributes:
        params: the validated params.
        params_path: the params file.
        language: the checked ``--language``.
    """

    params: Any
    params_path: Path
    language: str


def language_stage(build: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """The ``run`` function of a stage that works on one ``--language`` and writes its metrics to ``--metrics``.

    The returned ``run(params, *, params_path, language, metrics_path, **options)`` (the command's options by name)
    checks ``--language`` (:func:`stage_language`), calls ``build`` with the :class:`LanguageRequest` and the other
    options by name, and writes the metrics dict it returns to ``metrics_path`` (JSON).

    Args:
        build: the stage's own work, ``build(request, **options) -> metrics``; its docstring becomes ``run``'s.

    Returns:
        The stage's ``run`` function, returning the metrics dict.
    """

    def run(
        params: Any, *, params_path: Path, language: str, metrics_path: Path, **options: Any
    ) -> dict[str, Any]:
        checked = stage_language(params, language, params_path)
        metrics = build(LanguageRequest(params, Path(params_path), checked), **options)
        write_json(metrics_path, metrics)
        return metrics

    return _documented_as(run, build)


@dataclass(frozen=True)
class StrategyRequest:
    """What a :func:`strategy_stage` command asks of its strategy.

    Attributes:
        params: the validated params.
        params_path: the params file.
        strategy: the checked ``--strategy`` object.
        language: the checked ``--language``.
        inputs: the ``--input NAME=PATH`` files.
        out: the ``--out`` path.
    """

    params: Any
    params_path: Path
    strategy: Any
    language: str
    inputs: Mapping[str, Path]
    out: Path


def strategy_stage(
    kind: type, what: str, build: Callable[[StrategyRequest], dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """The ``run`` function of a stage in which one strategy builds ``--out`` from ``--input NAME=PATH`` files.

    The returned ``run(params, *, params_path, strategy, language, inputs, out, metrics_path)`` (the command's
    options by name) checks ``--strategy`` (:func:`stage_strategy`), then is a :func:`language_stage` run: it
    checks ``--language`` (:func:`stage_language`), calls ``build`` with the :class:`StrategyRequest` and writes
    the metrics dict it returns to ``metrics_path`` (JSON).

    Args:
        kind: the strategy class the stage runs.
        what: ``kind`` in words (``"a baseline"``), for the error message.
        build: the stage's own work; its docstring becomes ``run``'s.

    Returns:
        The stage's ``run`` function, returning the metrics dict.
    """

    def build_language(
        request: LanguageRequest, *, strategy: Any, inputs: Mapping[str, Path], out: Path
    ) -> dict[str, Any]:
        return build(
            StrategyRequest(
                request.params, request.params_path, strategy, request.language, inputs, out
            )
        )

    run_language = language_stage(build_language)

    def run(params: Any, *, strategy: str, **options: Any) -> dict[str, Any]:
        return run_language(params, strategy=stage_strategy(strategy, kind, what), **options)

    return _documented_as(run, build)
