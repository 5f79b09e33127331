"""The ``synthesize`` stages: generate a positive and a hard negative for every anchor, resumably.

One engine for all three strategies of arXiv 2603.01732; a strategy is a prompt builder plus the adapter used per
polarity (:mod:`bootembed.prompts`):

* XL-LoRA (Sec. 3.3): the positive adapter writes an English entailment and the negative adapter an English
  contradiction of each target-language anchor;
* adapter composition (Sec. 3.2): composed adapters write a target-language entailment / contradiction;
* ICL (Sec. 3.1): the base model, few-shot prompts, target-language entailment / contradiction.

Resumption: anchors are processed in fixed chunks; each finished chunk is written atomically as a Parquet part into
a work folder (:class:`bootembed.work.WorkDir`) whose manifest records everything that can change a generated
token (anchors, prompts, decoding, generator identity and weight digests, backend, dtype, batch size). A rerun
after an interruption skips finished chunks, so no anchor is generated twice and none is lost; a changed setting
discards the old parts (with a log line naming the change), so settings never mix. The parts are removed only
after the stage's outputs and metrics are written.

Data parallelism, two ways, both on whole chunks: every chunk is generated with exactly the prompts, batches and
seeds it gets in a one-engine run, so the output equals that run's row for row (same backend, same hardware):

* Ray (:class:`bootembed.generation.ray_pool.RayReplicas`, ``synthesize.replicas > 1``): N copies of the engine as
  Ray actors on the GPUs (and machines) of a Ray cluster; this process deals out the unfinished chunks and writes
  each part as it comes back, into the same work folder a one-engine run uses, so a run resumes in either mode;
* shards: the same chunks are dealt round-robin to N shards (chunk ``k`` goes to shard ``k mod N``), each run as
  its own process (DVC matrix stages or ``dvc queue`` workers, one engine each); :func:`merge_shards` of the N shard
  outputs equals the unsharded output.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from bootembed.generation.base import GenerationBackend, SamplingConfig
from bootembed.hardware import (
    DTYPES,
    SYNTHESIS_MIN_AGREEMENT,
    Measurement,
    greedy_agreement,
)
from bootembed.io import write_parquet
from bootembed.prompts import POLARITIES, parse_generation, xllora_prompt
from bootembed.provenance import settings_digest
from bootembed.triplets import TRIPLET_SCHEMA
from bootembed.work import WorkDir

__all__ = [
    "TRIPLET_SCHEMA",
    "ChunkJob",
    "fingerprint",
    "generate_chunk",
    "measure_dtypes",
    "merge_shards",
    "parse_shard",
    "synthesize_triplets",
]

logger = logging.getLogger(__name__)


def fingerprint(anchors: pl.DataFrame) -> str:
    """Stable 16-hex-digit digest of the anchors (ids and text, in order)."""
    digest = hashlib.sha256()
    for anchor_id, anchor in zip(
        anchors["anchor_id"].to_list(), anchors["anchor"].to_list(), strict=True
    ):
        digest.update(f"{anchor_id}\t{anchor}\n".encode())
    return digest.hexdigest()[:16]


def parse_shard(text: str) -> tuple[int, int]:
    """Parse a shard spec ``"I/N"`` (shard I of N, 0-based) into ``(I, N)``.

    Raises:
        ValueError: not of the form ``I/N`` with integers ``0 <= I < N``.
    """
    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise ValueError(f"shard: expected 'I/N' with integers 0 <= I < N, got {text!r}")
    return shard


def merge_shards(anchors: pl.DataFrame, shards: list[pl.DataFrame]) -> pl.DataFrame:
    """Merge the outputs of N shards of one synthesis run back into anchor order.

    Args:
        anchors: the anchors the shards were made from (``anchor_id`` column, N rows in output order).
        shards: shard outputs (:data:`TRIPLET_SCHEMA` frames), in any order.

    Returns:
        One frame with a row per anchor, in the order of ``anchors``.

    Raises:
        ValueError: a shard has other columns, an anchor is missing or appears twice, or a shard holds an
            ``anchor_id`` that is not among the anchors.
    """
    for index, frame in enumerate(shards):
        if list(frame.columns) != list(TRIPLET_SCHEMA):
            raise ValueError(
                f"shard {index}: expected columns {list(TRIPLET_SCHEMA)}, got {frame.columns}"
            )
    merged = (
        pl.concat([frame.cast(TRIPLET_SCHEMA) for frame in shards])
        if shards
        else pl.DataFrame(schema=TRIPLET_SCHEMA)
    )
    duplicated = merged.filter(pl.col("anchor_id").is_duplicated())["anchor_id"].unique()
    if duplicated.len():
        raise ValueError(
            f"shards: anchor_id(s) in more than one shard: {duplicated.to_list()[:10]}"
        )
    wanted = anchors["anchor_id"].to_list()
    have = set(merged["anchor_id"].to_list())
    missing = [i for i in wanted if i not in have]
    extra = sorted(have - set(wanted))
    if missing or extra:
        raise ValueError(
            f"shards: {len(missing)} anchor(s) missing (first: {missing[:10]}), "
            f"{len(extra)} unknown anchor_id(s) (first: {extra[:10]})"
        )
    order = pl.DataFrame({"anchor_id": wanted, "_order": range(len(wanted))}).cast(
        {"anchor_id": pl.Int64}
    )
    return merged.join(order, on="anchor_id").sort("_order").drop("_order")


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of a synthesis run: what an engine needs to generate it, and nothing else.

    Attributes:
        index: the chunk's position among all chunks of the run (``k``: anchors ``k * chunk_size ...``).
        prompts: polarity -> the chunk's prompts, in anchor order.
        adapters: polarity -> adapter name (``None``: the base model).
        sampling: the decoding settings.
    """

    index: int
    prompts: Mapping[str, Sequence[str]]
    adapters: Mapping[str, str | None]
    sampling: SamplingConfig


def generate_chunk(backend: GenerationBackend, job: ChunkJob) -> dict[str, list[str]]:
    """Generate one chunk: one ``backend.generate`` call per polarity, in :data:`POLARITIES` order.

    Returns:
        polarity -> the raw continuations, in prompt order.
    """
    return {
        polarity: backend.generate(
            list(job.prompts[polarity]), adapter=job.adapters[polarity], sampling=job.sampling
        )
        for polarity in POLARITIES
    }


def _run_chunks(engine: Any, jobs: list[ChunkJob]) -> Iterator[tuple[int, dict[str, list[str]]]]:
    """``(chunk index, raw continuations)`` for every job: by the engine's own ``generate_chunks`` (several
    replicas, in completion order) or one after another with :func:`generate_chunk`."""
    if hasattr(engine, "generate_chunks"):
        yield from engine.generate_chunks(jobs)
        return
    for job in jobs:
        yield job.index, generate_chunk(engine, job)


def _read_part(path: Path, expected_ids: list[int]) -> pl.DataFrame | None:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # a torn or foreign file: regenerate the chunk
        logger.warning("ignoring unreadable part %s (%s)", path, exc)
        return None
    if frame["anchor_id"].to_list() != expected_ids or list(frame.columns) != list(TRIPLET_SCHEMA):
        logger.warning("ignoring part %s: it does not match this chunk", path)
        return None
    return frame


def synthesize_triplets(
    backend: Any,
    anchors: pl.DataFrame,
    *,
    work_dir: str | Path | None,
    sampling: SamplingConfig,
    generator_id: str,
    chunk_size: int = 64,
    strategy: str = "xllora",
    adapters: Mapping[str, str | None] | None = None,
    build_prompt: Callable[[Mapping[str, object], str], str] | None = None,
    parse: Callable[[str], str | None] = parse_generation,
    keep_parts: bool = False,
    shard: tuple[int, int] = (0, 1),
    output: str | Path | None = None,
    manifest: Mapping[str, object] | None = None,
) -> tuple[pl.DataFrame, dict[str, float], WorkDir]:
    """Generate (positive, hard negative) for every anchor with the backend's adapters, resumably.

    Chunk parts go to a :class:`bootembed.work.WorkDir` under ``work_dir`` whose manifest holds everything that
    can change a generated token: the anchors, every prompt, the decoding settings, the generator identity, the
    backend's own settings (:meth:`GenerationBackend.settings`: engine, dtype, batch size, ...), the chunking and
    shard, plus ``manifest`` (content digests of the base weights and adapters). Parts of an earlier run with a
    different manifest are discarded with a log line naming what changed; parts with the same manifest are
    resumed.

    Args:
        backend: a loaded :class:`GenerationBackend`, or replicas of one that generate whole chunks in parallel
            (:class:`bootembed.generation.ray_pool.RayReplicas`: ``name``, ``settings()`` and
            ``generate_chunks(jobs)``); the manifest, rows and resumable parts are the same either way.
        anchors: frame with ``anchor_id`` (unique int), ``anchor`` and ``language`` columns (N rows).
        work_dir: root of the resumable work folders (outside the stage's DVC outputs).
        sampling: decoding settings (its seed is recorded in every row).
        generator_id: identifies base model + adapters; recorded in every row.
        chunk_size: anchors per resumable chunk.
        strategy: recorded in the ``strategy`` column.
        adapters: polarity -> adapter name (``None`` = base model); default ``{"positive": "positive",
            "negative": "negative"}``.
        build_prompt: ``(anchor row, polarity) -> prompt``; the row holds ``anchor_id``, ``anchor`` and
            ``language``. Default: :func:`~bootembed.prompts.xllora_prompt` of the anchor.
        parse: raw continuation -> sentence or ``None`` (the strategy's parser).
        keep_parts: keep the work folder after success; the synthesis stage keeps it until its outputs and
            metrics are written, then calls ``WorkDir.remove``.
        shard: ``(I, N)``: generate only chunks ``k`` with ``k mod N == I`` (see the module docstring);
            ``(0, 1)`` generates everything.
        output: the output this work is for (names the work folder); default ``<strategy>-shard<I>of<N>``.
        manifest: more settings that can change the output (weight digests).

    Returns:
        ``(triplets, stats, work)``: the shard's rows (all N rows unsharded) with :data:`TRIPLET_SCHEMA` columns
        in anchor order; stats give ``anchors``, ``chunks``, ``chunks_resumed``, ``parts_discarded``,
        ``generations`` (made in this call, resumed chunks excluded), ``seconds``, ``generations_per_second``,
        ``unparseable_positive``, ``unparseable_negative``; and the work folder.

    Raises:
        ValueError: missing columns, duplicate ``anchor_id``, ``chunk_size < 1`` or a bad ``shard``.
    """
    shard_index, shard_count = shard
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard: expected (I, N) with 0 <= I < N, got {shard}")
    missing = {"anchor_id", "anchor", "language"} - set(anchors.columns)
    if missing:
        raise ValueError(f"anchors: missing column(s) {sorted(missing)}")
    if anchors["anchor_id"].n_unique() != anchors.height:
        raise ValueError("anchors: column 'anchor_id' must be unique")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected >= 1, got {chunk_size}")
    adapters = dict(adapters or {p: p for p in POLARITIES})
    rows = anchors.select("anchor_id", "anchor", "language").to_dicts()
    if build_prompt is None:

        def build_prompt(row: Mapping[str, object], polarity: str) -> str:
            return xllora_prompt(str(row["anchor"]), polarity)

    prompts = {p: [build_prompt(r, p) for r in rows] for p in POLARITIES}
    settings = {
        "anchors": fingerprint(anchors),
        "prompts": settings_digest(prompts),
        "sampling": asdict(sampling),
        "generator_id": generator_id,
        "chunk_size": chunk_size,
        "strategy": strategy,
        "adapters": adapters,
        "shard": list(shard),
        "backend": backend.settings(),
        **dict(manifest or {}),
    }
    work = WorkDir(
        "synthesize",
        output or f"{strategy}-shard{shard_index}of{shard_count}",
        settings,
        root=work_dir,
    )
    parts_dir = work.path
    starts = list(range(0, len(rows), chunk_size))
    chunks = [rows[i : i + chunk_size] for i in starts]
    frames: dict[int, pl.DataFrame] = {}
    resumed = 0
    fresh_rows = 0
    start = time.perf_counter()
    mine = [k for k in range(len(chunks)) if k % shard_count == shard_index]
    jobs: list[ChunkJob] = []
    for index in mine:
        part = parts_dir / f"part-{index:05d}.parquet"
        ids = [r["anchor_id"] for r in chunks[index]]
        if part.exists() and (frame := _read_part(part, ids)) is not None:
            frames[index] = frame
            resumed += 1
            continue
        first, size = starts[index], len(chunks[index])
        jobs.append(
            ChunkJob(
                index=index,
                prompts={p: prompts[p][first : first + size] for p in POLARITIES},
                adapters=adapters,
                sampling=sampling,
            )
        )
    progress = tqdm(total=len(mine), initial=resumed, desc=f"synthesize[{strategy}]", unit="chunk")
    for index, raw in _run_chunks(backend, jobs):
        chunk = chunks[index]
        ids = [r["anchor_id"] for r in chunk]
        frame = pl.DataFrame(
            {
                "anchor_id": ids,
                "anchor": [r["anchor"] for r in chunk],
                "positive": [parse(t) for t in raw["positive"]],
                "negative": [parse(t) for t in raw["negative"]],
                "positive_raw": raw["positive"],
                "negative_raw": raw["negative"],
                "language": [r["language"] for r in chunk],
                "strategy": [strategy] * len(chunk),
                "generator_id": [generator_id] * len(chunk),
                "backend": [backend.name] * len(chunk),
                "seed": [sampling.seed] * len(chunk),
            },
            schema=TRIPLET_SCHEMA,
        )
        write_parquet(parts_dir / f"part-{index:05d}.parquet", frame)
        frames[index] = frame
        fresh_rows += frame.height
        progress.update(1)
    progress.close()
    seconds = time.perf_counter() - start
    if set(frames) != set(mine):
        raise RuntimeError(
            f"synthesize: chunks {sorted(set(mine) - set(frames))[:10]} were not generated"
        )
    triplets = (
        pl.concat([frames[k] for k in mine]) if frames else pl.DataFrame(schema=TRIPLET_SCHEMA)
    )
    stats = {
        "anchors": float(triplets.height),
        "chunks": float(len(mine)),
        "chunks_resumed": float(resumed),
        "parts_discarded": float(bool(work.discarded)),
        "generations": float(2 * fresh_rows),
        "seconds": round(seconds, 2),
        "unparseable_positive": float(triplets["positive"].null_count()),
        "unparseable_negative": float(triplets["negative"].null_count()),
    }
    stats["generations_per_second"] = (
        round(stats["generations"] / seconds, 3) if seconds > 0 else 0.0
    )
    if not keep_parts:
        work.remove()
    logger.info("synthesised %d triplets: %s", triplets.height, stats)
    return triplets, stats, work


def measure_dtypes(
    create: Callable[[str], GenerationBackend],
    prompts: Sequence[str],
    *,
    adapter: str | None,
    max_new_tokens: int,
) -> Measurement:
    """Side-by-side greedy synthesis in float32 and bf16, for :func:`bootembed.hardware.resolve_dtype`.

    Each dtype gets a fresh backend from ``create(dtype)``, one warm-up batch, then the same ``prompts`` (greedy,
    ``max_new_tokens``); the check is the share of identical outputs (:func:`bootembed.hardware.greedy_agreement`,
    limit :data:`bootembed.hardware.SYNTHESIS_MIN_AGREEMENT`).

    Args:
        create: ``dtype -> backend`` (the stage's backend settings with that dtype).
        prompts: the prompts (the stage's first chunk).
        adapter: the adapter to measure (``None``: the base model).
        max_new_tokens: generation budget.

    Returns:
        The :class:`bootembed.hardware.Measurement`.
    """
    greedy = SamplingConfig(max_new_tokens=max_new_tokens, do_sample=False)
    texts: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for dtype in DTYPES:
        with create(dtype) as backend:
            backend.generate(list(prompts[:4]), adapter=adapter, sampling=greedy)
            begin = time.perf_counter()
            texts[dtype] = backend.generate(list(prompts), adapter=adapter, sampling=greedy)
            seconds[dtype] = time.perf_counter() - begin
    agreement = greedy_agreement(texts["float32"], texts["bfloat16"])
    return Measurement(
        float32_seconds=seconds["float32"],
        bfloat16_seconds=seconds["bfloat16"],
        check="greedy agreement",
        value=agreement,
        threshold=SYNTHESIS_MIN_AGREEMENT,
        safe=agreement >= SYNTHESIS_MIN_AGREEMENT,
        details={"prompts": len(prompts), "adapter": adapter, "max_new_tokens": max_new_tokens},
    )
