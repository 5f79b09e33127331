"""Query synthesis for retrieval (SWIM-IR, Thakur et al., NAACL 2024, Sec. 3): a query per passage, resumably.

One SAP variant (:mod:`bootembed.sap`) for one target language: every passage is prompted (summary first, then the
query; or the query directly under plain prompting), the outputs are parsed, and the usable (query, passage) pairs
become the retriever's training data (:func:`training_pairs`; the passage of a pair is the variant's training
passage, e.g. the target-language translation of the English passage the ``swapped`` generator read).

Resumption works as in triplet synthesis (:mod:`bootembed.synthesize`): passages go in fixed chunks; each finished
chunk is written atomically as a Parquet part into a :class:`bootembed.work.WorkDir` whose manifest holds every
setting that can change a generated token (passages, prompts, decoding, generator identity, backend settings); a
rerun skips finished chunks and a changed setting discards the parts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from bootembed.diagnostics import code_switching_rate, detect_languages, langid_supports
from bootembed.generation.base import GenerationBackend, SamplingConfig
from bootembed.io import write_parquet
from bootembed.provenance import settings_digest
from bootembed.sap import MALFORMED_REASONS, SapPrompts, parse_query, parse_summary
from bootembed.text import dice
from bootembed.work import WorkDir

__all__ = [
    "GENERATION_SCHEMA",
    "PAIR_SCHEMA",
    "query_diagnostics",
    "query_languages",
    "synthesize_queries",
    "training_pairs",
]

logger = logging.getLogger(__name__)

#: Columns of a variant's generations: one row per passage, usable or not.
GENERATION_SCHEMA = {
    "passage_id": pl.Int64,
    "variant": pl.String,
    "language": pl.String,
    "read_text": pl.String,
    "summary": pl.String,
    "summary_raw": pl.String,
    "query": pl.String,
    "query_raw": pl.String,
    "malformed": pl.String,
    "query_language": pl.String,
    "passage": pl.String,
    "passage_language": pl.String,
    "generator_id": pl.String,
    "backend": pl.String,
    "seed": pl.Int64,
}

#: Columns of the training pairs (``anchor`` = query, ``positive`` = passage, as the encoder stage reads them).
PAIR_SCHEMA = {
    "anchor": pl.String,
    "positive": pl.String,
    "passage_id": pl.Int64,
    "variant": pl.String,
    "language": pl.String,
}


def _side(row: Mapping[str, Any], language: str, target: str) -> str:
    return str(row["target"] if language == target else row["english"])


def _generate(
    backend: GenerationBackend, prompts: list[str], sampling: SamplingConfig
) -> list[str]:
    """``backend.generate`` of ``prompts``, the first one alone: every prompt of a variant starts with the same long
    instruction and exemplars, and an engine with prefix caching (OpenVINO, vLLM) reuses that head only for requests
    scheduled after one that computed it; prompt ``k`` keeps the sampling seed ``seed + k`` of a single call."""
    if len(prompts) < 2:
        return backend.generate(prompts, adapter=None, sampling=sampling) if prompts else []
    head = backend.generate(prompts[:1], adapter=None, sampling=sampling)
    rest = dataclasses.replace(sampling, seed=sampling.seed + 1)
    return head + backend.generate(prompts[1:], adapter=None, sampling=rest)


def _read_part(path: Path, ids: list[int]) -> pl.DataFrame | None:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # a torn or foreign file: regenerate the chunk
        logger.warning("ignoring unreadable part %s (%s)", path, exc)
        return None
    if frame["passage_id"].to_list() != ids or list(frame.columns) != list(GENERATION_SCHEMA):
        logger.warning("ignoring part %s: it does not match this chunk", path)
        return None
    return frame


def synthesize_queries(
    backend: GenerationBackend,
    passages: pl.DataFrame,
    prompts: SapPrompts,
    *,
    language: str,
    summary_sampling: SamplingConfig,
    query_sampling: SamplingConfig,
    generator_id: str,
    work_dir: str | Path | None,
    output: str | Path,
    chunk_size: int = 64,
    manifest: Mapping[str, object] | None = None,
) -> tuple[pl.DataFrame, dict[str, float], WorkDir]:
    """Generate a summary (SAP) and a query for every passage with one variant's prompts, resumably.

    Method: SWIM-IR's summarize-then-ask prompting (Thakur et al., NAACL 2024, Sec. 3), as two generation calls
    (:mod:`bootembed.sap`); plain prompting is the query call alone. A passage whose summary is malformed gets no
    query (``malformed = "no_summary"``). Nothing malformed is dropped here: the raw outputs stay in the rows.

    Args:
        backend: a loaded generation backend (base model; SAP uses no adapter).
        passages: :data:`bootembed.passages.PASSAGE_SCHEMA` frame (``passage_id`` unique; ``target``, ``english``).
        prompts: the variant's prompts for ``language``.
        language: FLORES-200 code of the target language.
        summary_sampling: decoding of the summary step.
        query_sampling: decoding of the query step.
        generator_id: identity of the generator, recorded in every row.
        work_dir: root of the resumable work folders.
        output: the stage output the work is for (names the work folder).
        chunk_size: passages per resumable chunk.
        manifest: more settings that can change the output (weight digests).

    Returns:
        ``(rows, stats, work)``: :data:`GENERATION_SCHEMA` rows in passage order; stats: ``passages``, ``chunks``,
        ``chunks_resumed``, ``parts_discarded``, ``generations`` and ``generated_tokens`` (this call, resumed chunks
        excluded), ``summary_seconds``, ``query_seconds``, ``seconds``, ``seconds_per_passage`` (of the passages
        generated in this call); and the work folder (the caller removes it once its outputs are written).

    Raises:
        ValueError: missing columns, duplicate ``passage_id``, or ``chunk_size`` < 1.
    """
    missing = {"passage_id", "target", "english"} - set(passages.columns)
    if missing:
        raise ValueError(f"passages: missing column(s) {sorted(missing)}")
    if passages["passage_id"].n_unique() != passages.height:
        raise ValueError("passages: column 'passage_id' must be unique")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected >= 1, got {chunk_size}")
    variant = prompts.variant
    read_language = variant.read_language(language)
    passage_language = variant.passage_language(language)
    rows = passages.select("passage_id", "target", "english").to_dicts()
    reads = [_side(r, read_language, language) for r in rows]
    firsts = [prompts.first(text) for text in reads]
    digest = hashlib.sha256(
        "\n".join(f"{r['passage_id']}\t{t}" for r, t in zip(rows, reads, strict=True)).encode()
    )
    settings = {
        "passages": digest.hexdigest()[:16],
        "prompts": settings_digest({"first": firsts, "cue": prompts.question_cue}),
        "variant": variant.name,
        "summary_sampling": asdict(summary_sampling),
        "query_sampling": asdict(query_sampling),
        "generator_id": generator_id,
        "chunk_size": chunk_size,
        "backend": backend.settings(),
        **dict(manifest or {}),
    }
    work = WorkDir("swim_ir", output, settings, root=work_dir)
    starts = list(range(0, len(rows), chunk_size))
    frames: list[pl.DataFrame] = []
    resumed = fresh = 0
    seconds = {"summary": 0.0, "query": 0.0}
    tokens_before = backend.generated_tokens
    generations = 0
    for index, first_row in enumerate(tqdm(starts, desc=f"swim_ir[{variant.name}]", unit="chunk")):
        chunk = range(first_row, min(first_row + chunk_size, len(rows)))
        ids = [rows[i]["passage_id"] for i in chunk]
        part = work.path / f"part-{index:05d}.parquet"
        if part.exists() and (frame := _read_part(part, ids)) is not None:
            frames.append(frame)
            resumed += 1
            continue
        summaries: list[tuple[str | None, str | None]] = [(None, None)] * len(chunk)
        summary_raw: list[str | None] = [None] * len(chunk)
        query_raw: list[str | None] = [None] * len(chunk)
        if variant.summarize:
            begin = time.perf_counter()
            raw = _generate(backend, [firsts[i] for i in chunk], summary_sampling)
            seconds["summary"] += time.perf_counter() - begin
            generations += len(raw)
            summary_raw = list(raw)
            summaries = [parse_summary(text) for text in raw]
            ask = [k for k, (summary, _) in enumerate(summaries) if summary is not None]
            query_prompts = [prompts.second(firsts[chunk[k]], str(summaries[k][0])) for k in ask]
        else:
            ask = list(range(len(chunk)))
            query_prompts = [firsts[i] for i in chunk]
        begin = time.perf_counter()
        answers = _generate(backend, query_prompts, query_sampling)
        seconds["query"] += time.perf_counter() - begin
        generations += len(answers)
        for k, text in zip(ask, answers, strict=True):
            query_raw[k] = text
        records = []
        for k, i in enumerate(chunk):
            summary, reason = summaries[k]
            query: str | None = None
            if variant.summarize and summary is None:
                reason = "no_summary"
            else:
                query, reason = parse_query(str(query_raw[k]), passage=reads[i])
            records.append(
                {
                    "passage_id": rows[i]["passage_id"],
                    "variant": variant.name,
                    "language": language,
                    "read_text": reads[i],
                    "summary": summary,
                    "summary_raw": summary_raw[k],
                    "query": query,
                    "query_raw": query_raw[k],
                    "malformed": reason,
                    "query_language": prompts.query_language,
                    "passage": _side(rows[i], passage_language, language),
                    "passage_language": passage_language,
                    "generator_id": generator_id,
                    "backend": backend.name,
                    "seed": query_sampling.seed,
                }
            )
        frame = pl.DataFrame(records, schema=GENERATION_SCHEMA)
        write_parquet(part, frame)
        frames.append(frame)
        fresh += frame.height
    out = pl.concat(frames) if frames else pl.DataFrame(schema=GENERATION_SCHEMA)
    total = seconds["summary"] + seconds["query"]
    stats = {
        "passages": float(out.height),
        "chunks": float(len(starts)),
        "chunks_resumed": float(resumed),
        "parts_discarded": float(bool(work.discarded)),
        "generations": float(generations),
        "generated_tokens": float(backend.generated_tokens - tokens_before),
        "summary_seconds": round(seconds["summary"], 2),
        "query_seconds": round(seconds["query"], 2),
        "seconds": round(total, 2),
        "seconds_per_passage": round(total / fresh, 3) if fresh else 0.0,
    }
    logger.info("swim_ir %s (%s): %s", variant.name, language, stats)
    return out, stats, work


def training_pairs(rows: pl.DataFrame) -> pl.DataFrame:
    """The usable (query, passage) pairs of a variant's generations, duplicates dropped.

    Args:
        rows: :data:`GENERATION_SCHEMA` rows.

    Returns:
        A :data:`PAIR_SCHEMA` frame: ``anchor`` = query, ``positive`` = the training passage, in passage order.
    """
    usable = rows.filter(pl.col("query").is_not_null() & pl.col("malformed").is_null())
    pairs = usable.select(
        pl.col("query").alias("anchor"),
        pl.col("passage").alias("positive"),
        "passage_id",
        "variant",
        "language",
    ).unique(subset=["anchor", "positive"], keep="first", maintain_order=True)
    return pairs.cast(PAIR_SCHEMA)


def query_languages(rows: pl.DataFrame, top: int = 5) -> dict[str, float]:
    """The ``top`` languages CLD3 finds most often among the usable queries, with their shares (4 decimals)."""
    queries = [q for q in rows.filter(pl.col("malformed").is_null())["query"].to_list() if q]
    counted = [code for code, _ in detect_languages(queries) if code is not None]
    return {
        code: round(count / len(counted), 4) for code, count in Counter(counted).most_common(top)
    }


def query_diagnostics(rows: pl.DataFrame, *, summarize: bool) -> dict[str, Any]:
    """Data diagnostics of a variant's generations: parse rates, malformed outputs by reason, query language.

    The query language is identified with CLD3 (:func:`bootembed.diagnostics.detect_languages`): the share of parsed
    queries whose most likely language is the requested one (any confidence), and the code-switching rate (another
    language with CLD3 probability >= 0.7; :func:`bootembed.diagnostics.code_switching_rate`).

    Args:
        rows: :data:`GENERATION_SCHEMA` rows of one variant and language (``query_language`` the same in all).
        summarize: whether the variant writes summaries (SAP).

    Returns:
        ``rows``, ``summary_parse_rate`` (SAP only), ``query_parse_rate`` (usable queries / passages),
        ``malformed_<reason>`` counts, ``query_language_share``, ``code_switch_rate_query``,
        ``langid_supported_query``, ``mean_query_chars``, ``mean_summary_chars`` (SAP) and ``dice_query_passage`` (mean word-set Dice of query
        and the passage read). Rates rounded to 4 decimals.

    Raises:
        ValueError: ``rows`` holds several requested query languages.
    """
    n = rows.height
    wanted = rows["query_language"].unique().to_list()
    if len(wanted) > 1:
        raise ValueError(f"query diagnostics: expected one query language, got {wanted}")
    queries = [q for q in rows.filter(pl.col("malformed").is_null())["query"].to_list() if q]
    reasons = Counter(r for r in rows["malformed"].to_list() if r is not None)
    out: dict[str, Any] = {"rows": n}
    if summarize:
        out["summary_parse_rate"] = round(rows["summary"].is_not_null().sum() / n, 4) if n else 0.0
    out["query_parse_rate"] = round(len(queries) / n, 4) if n else 0.0
    out.update({f"malformed_{reason}": reasons.get(reason, 0) for reason in MALFORMED_REASONS})
    if wanted:
        target = wanted[0]
        detected = [code for code, _ in detect_languages(queries)]
        counted = [code for code in detected if code is not None]
        same = sum(code.split("_")[0] == target.split("_")[0] for code in counted)
        out["query_language_share"] = round(same / len(counted), 4) if counted else 0.0
        out["code_switch_rate_query"] = code_switching_rate(queries, target)["rate"]
        out["langid_supported_query"] = 1.0 if langid_supports(target) else 0.0
    out["mean_query_chars"] = round(sum(map(len, queries)) / len(queries), 1) if queries else 0.0
    if summarize:
        summaries = [s for s in rows["summary"].to_list() if s]
        out["mean_summary_chars"] = (
            round(sum(map(len, summaries)) / len(summaries), 1) if summaries else 0.0
        )
    usable = rows.filter(pl.col("malformed").is_null())
    scores = [dice(q, p) for q, p in zip(usable["query"], usable["read_text"], strict=True)]
    out["dice_query_passage"] = round(sum(scores) / len(scores), 4) if scores else 0.0
    return out
