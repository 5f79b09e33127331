"""What every stage shares: the data sources of the params, the checks of a stage's language and strategy, the dtype
of its computing step, the ``run`` of the stages that work on one ``--language`` and write a metrics file, and that
of the stages that build a strategy's files from ``--input`` files.

What is imported here is loaded by :mod:`bootembed.cli` (the entry point of every stage) or by every stage that
imports this module anyway, so it adds no code dependency to a stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bootembed.config import ConfigError, check_language
from bootembed.data.sources import DataSources
from bootembed.hardware import DtypeDecision, Measurement, resolve_dtype
from bootembed.io import write_json
from bootembed.strategies import STRATEGIES

__all__ = [
    "DTYPE_SECTIONS",
    "LanguageRequest",
    "StrategyRequest",
    "data_sources",
    "language_stage",
    "stage_dtype",
    "stage_language",
    "stage_strategy",
    "strategy_stage",
]

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])

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

    Where that is ``auto`` and bf16 is native, ``measure`` runs the step side by side in both dtypes first
    (:func:`bootembed.hardware.resolve_dtype`).

    Raises:
        KeyError: ``step`` is not in :data:`DTYPE_SECTIONS`.
        ValueError: the section asks for an unknown dtype.
    """
    section = DTYPE_SECTIONS[step]
    return resolve_dtype(
        step, getattr(params, section).dtype, field_name=f"{section}.dtype", measure=measure
    )


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
