"""What the generating stages (``augment``, ``synthesize``) share: decoding settings, the backend, its dtype, and
the resumable generation run itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.generation.base import GenerationBackend, SamplingConfig, make_backend
from bootembed.hardware import DtypeDecision
from bootembed.prompts import POLARITIES
from bootembed.provenance import WEIGHTS_ONLY, dir_digest
from bootembed.stages.common import stage_dtype
from bootembed.synthesize import measure_dtypes as measure_synthesis
from bootembed.synthesize import synthesize_triplets
from bootembed.work import WorkDir

__all__ = ["backend", "engines", "generate", "sampling", "synthesis_dtype", "weight_digests"]


def sampling(params: Any) -> SamplingConfig:
    """Decoding settings of ``params.synthesize`` with the global seed."""
    s = params.synthesize
    return SamplingConfig(
        max_new_tokens=s.max_new_tokens,
        do_sample=s.do_sample,
        temperature=s.temperature,
        top_p=s.top_p,
        seed=params.seed,
    )


def backend(
    params: Any, base: Path, adapters: Mapping[str, Path] | None, dtype: str
) -> GenerationBackend:
    """The generation backend of ``params.synthesize`` with the resolved ``dtype``."""
    return _factory(params, base, adapters, dtype)()


def _factory(
    params: Any, base: Path, adapters: Mapping[str, Path] | None, dtype: str
) -> Callable[[], GenerationBackend]:
    """A picklable ``() -> backend`` of ``params.synthesize`` (plain arguments: Ray ships it to its actors)."""
    s = params.synthesize
    return functools.partial(
        make_backend,
        s.backend,
        base,
        adapters=dict(adapters) if adapters is not None else None,
        dtype=dtype,
        batch_size=s.batch_size,
        merge_lora=s.merge_lora,
        tensor_parallel_size=s.tensor_parallel_size,
    )


def engines(params: Any, base: Path, adapters: Mapping[str, Path] | None, dtype: str) -> Any:
    """The engine(s) of a generating stage: one backend, or ``synthesize.replicas`` of them on Ray
    (:class:`bootembed.generation.ray_pool.RayReplicas`, each on ``tensor_parallel_size`` GPUs where CUDA is here)."""
    s = params.synthesize
    if s.replicas == 1:
        return backend(params, base, adapters, dtype)
    import torch

    from bootembed.generation.ray_pool import RayReplicas

    return RayReplicas(
        _factory(params, base, adapters, dtype),
        replicas=s.replicas,
        gpus_per_replica=s.tensor_parallel_size if torch.cuda.is_available() else 0,
    )


def synthesis_dtype(
    params: Any,
    base: Path,
    adapters: Mapping[str, Path] | None,
    prompts: Sequence[str],
    adapter: str | None,
) -> DtypeDecision:
    """The ``synthesis`` dtype of ``params``; where bf16 is native, measured side by side on ``prompts`` first."""
    return stage_dtype(
        params,
        "synthesis",
        lambda: measure_synthesis(
            lambda dtype: backend(params, base, adapters, dtype),
            prompts,
            adapter=adapter,
            max_new_tokens=params.synthesize.max_new_tokens,
        ),
    )


def weight_digests(base: Path, adapters: Mapping[str, Path] | None) -> dict[str, object]:
    """Content digests of the base weights and of each adapter, for the synthesis resume manifest."""
    return {
        "base_weights": dir_digest(base),
        "adapter_weights": {
            name: dir_digest(path, exclude=WEIGHTS_ONLY) for name, path in (adapters or {}).items()
        },
    }


def generate(
    params: Any,
    base: Path,
    adapter_dirs: Mapping[str, Path] | None,
    anchors: pl.DataFrame,
    build: Callable[[Mapping[str, object], str], str],
    *,
    adapter: str | None,
    generator_id: str,
    strategy: str,
    work_dir: Path | None,
    output: Path,
    **options: Any,
) -> tuple[pl.DataFrame, dict[str, float], WorkDir, DtypeDecision]:
    """Generate for every anchor with the backend of ``params.synthesize``, resumably, in the resolved dtype.

    The ``synthesis`` dtype is resolved on the ``adapter`` prompts of the first chunk (:func:`synthesis_dtype`);
    the chunk parts are kept (the caller removes the work folder once its outputs are written) and keyed by the
    weight digests of the base and ``adapter_dirs``.

    Args:
        params: the validated params (``synthesize`` section, ``seed``).
        base: the base generator folder.
        adapter_dirs: adapter name -> folder for the backend, or ``None`` for the base model only.
        anchors: the anchor rows (``anchor_id``, ``anchor``, ``language``).
        build: ``(anchor row, polarity) -> prompt``.
        adapter: the adapter of the first polarity, measured for the dtype (``None``: the base model).
        generator_id: identity of base + adapters, recorded in every row.
        strategy: the strategy name recorded in every row.
        work_dir: root of the work folders (``None``: the default).
        output: the stage's output, which keys the work folder.
        options: further :func:`bootembed.synthesize.synthesize_triplets` arguments (``adapters``, ``parse``,
            ``shard``).

    Returns:
        ``(rows, generation stats, work folder, dtype decision)``.
    """
    first = anchors.head(params.synthesize.chunk_size).to_dicts()
    dtype = synthesis_dtype(
        params, base, adapter_dirs, [build(row, POLARITIES[0]) for row in first], adapter=adapter
    )
    with engines(params, base, adapter_dirs, dtype.dtype) as engine:
        rows, stats, work = synthesize_triplets(
            engine,
            anchors,
            work_dir=work_dir,
            sampling=sampling(params),
            generator_id=generator_id,
            chunk_size=params.synthesize.chunk_size,
            strategy=strategy,
            build_prompt=build,
            keep_parts=True,
            output=output,
            manifest=weight_digests(base, adapter_dirs),
            **options,
        )
    return rows, stats, work, dtype
