"""Passages from FLORES-200 for retrieval (SWIM-IR, Thakur et al., NAACL 2024, on FLORES data).

FLORES-200 sentences come from ~280 articles per split (Wikinews, Wikivoyage, Wikibooks); ``metadata_<split>.tsv``
gives every line's article URL, and consecutive lines of one article are consecutive in the file. A passage here is
a run of consecutive sentences of one article, joined with a space. Because FLORES is multi-way parallel, every
passage exists in English and in the target language (the same lines).

* **Training passages** (:func:`training_passages`) come from ``dev`` only. A line whose target or English sentence
  is an evaluation sentence (:class:`bootembed.data.contamination.ContaminationGuard`: FLORES-200 ``devtest``,
  SIB-200 ``dev``/``test``, SemRel ``test``, Tatoeba) splits its article there and is left out, so every passage
  stays a run of consecutive sentences; passages of one sentence are dropped, and the rest are checked against the
  guard again before they are returned.
* **Evaluation passages** (:func:`evaluation_passages`) come from ``devtest`` only. From each passage of at least two
  sentences one sentence (seeded) is held out as the query; the corpus passage is the other sentences, so a query is
  never a substring of its relevant passage.

Articles longer than ``max_sentences`` are cut into ``ceil(n / max_sentences)`` runs of near-equal length (5
sentences with ``max_sentences=4``: 3 + 2, never 4 + 1).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence

import polars as pl

from bootembed.data.contamination import ContaminationError, ContaminationGuard
from bootembed.data.flores import load_flores, load_flores_urls
from bootembed.data.sources import DataSources
from bootembed.text import collapse_whitespace

__all__ = [
    "ENGLISH",
    "EVAL_MAX_SENTENCES",
    "EVAL_PASSAGE_SCHEMA",
    "MIN_SENTENCES",
    "PASSAGE_SCHEMA",
    "article_runs",
    "build_passages",
    "evaluation_passages",
    "split_run",
    "training_passages",
]

logger = logging.getLogger(__name__)

ENGLISH = "eng_Latn"

#: Sentences per evaluation passage before the query sentence is held out (whole FLORES articles have 1-6).
EVAL_MAX_SENTENCES = 5
#: Fewest sentences of a passage: a single sentence is a sentence, not a passage (training), and leaves nothing once
#: its query is held out (evaluation).
MIN_SENTENCES = 2

#: Columns of a passage table (:func:`build_passages`).
PASSAGE_SCHEMA = {
    "passage_id": pl.Int64,
    "url": pl.String,
    "lines": pl.List(pl.Int64),
    "target": pl.String,
    "english": pl.String,
    "language": pl.String,
    "split": pl.String,
}

#: Columns of the evaluation passages (:func:`evaluation_passages`): the passage without its query line, and the query.
EVAL_PASSAGE_SCHEMA = {
    **PASSAGE_SCHEMA,
    "query_line": pl.Int64,
    "query_target": pl.String,
    "query_english": pl.String,
}


def article_runs(
    urls: Sequence[str], *, blocked: Callable[[int], bool] | None = None
) -> list[list[int]]:
    """Runs of consecutive lines of one article (same URL), cut at blocked lines (which are left out).

    Args:
        urls: the URL of every line (``metadata_<split>.tsv``).
        blocked: line -> whether it must not be used; ``None`` blocks nothing.

    Returns:
        The runs as lists of line indices, in file order; no run is empty.
    """
    runs: list[list[int]] = []
    current: list[int] = []
    previous = None
    for line, url in enumerate(urls):
        if url != previous or (blocked is not None and blocked(line)):
            if current:
                runs.append(current)
            current = []
        previous = url
        if blocked is None or not blocked(line):
            current.append(line)
    if current:
        runs.append(current)
    return runs


def split_run(lines: Sequence[int], max_sentences: int) -> list[list[int]]:
    """Cut a run into ``ceil(len / max_sentences)`` consecutive parts of near-equal length (longer parts first).

    Raises:
        ValueError: ``max_sentences`` < 1.
    """
    if max_sentences < 1:
        raise ValueError(f"max_sentences: expected >= 1, got {max_sentences}")
    parts = math.ceil(len(lines) / max_sentences) if lines else 0
    out, start = [], 0
    for index in range(parts):
        size = len(lines) // parts + (1 if index < len(lines) % parts else 0)
        out.append(list(lines[start : start + size]))
        start += size
    return out


def _join(sentences: Sequence[str], lines: Sequence[int]) -> str:
    return " ".join(collapse_whitespace(sentences[i]) for i in lines)


def build_passages(
    target: Sequence[str],
    english: Sequence[str],
    urls: Sequence[str],
    *,
    language: str,
    split: str,
    max_sentences: int,
    blocked: Callable[[int], bool] | None = None,
) -> pl.DataFrame:
    """Passages of consecutive sentences of one article, in the target language and in English.

    Args:
        target: the split's target-language sentences (N lines).
        english: the split's English sentences, line-parallel with ``target``.
        urls: the article URL of every line (N).
        language: FLORES-200 code of ``target``.
        split: ``"dev"`` or ``"devtest"`` (recorded).
        max_sentences: most sentences per passage (:func:`split_run`).
        blocked: line -> whether the line must be left out (it also ends its run).

    Returns:
        A :data:`PASSAGE_SCHEMA` frame, one row per passage in file order; ``passage_id`` = its first line.

    Raises:
        ValueError: the three sequences differ in length, or ``max_sentences`` < 1.
    """
    if not len(target) == len(english) == len(urls):
        raise ValueError(
            f"passages: expected line-parallel inputs, got {len(target)} target, {len(english)} English "
            f"sentences and {len(urls)} URLs"
        )
    rows = [
        {
            "passage_id": part[0],
            "url": urls[part[0]],
            "lines": part,
            "target": _join(target, part),
            "english": _join(english, part),
            "language": language,
            "split": split,
        }
        for run in article_runs(urls, blocked=blocked)
        for part in split_run(run, max_sentences)
    ]
    return pl.DataFrame(rows, schema=PASSAGE_SCHEMA)


def training_passages(
    sources: DataSources,
    language: str,
    *,
    max_sentences: int,
    max_passages: int | None,
    seed: int,
    guard: ContaminationGuard | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The training passages of ``language``: FLORES-200 ``dev`` only, no evaluation sentence in them.

    Args:
        sources: the data mirror.
        language: FLORES-200 code of the target language.
        max_sentences: most sentences per passage.
        max_passages: keep a seeded sample of this many (in file order); ``None`` keeps all.
        seed: sampling seed.
        guard: the contamination guard of ``language`` (built if omitted).

    Returns:
        ``(passages, counts)``: a :data:`PASSAGE_SCHEMA` frame and ``articles``, ``lines``, ``blocked_lines``,
        ``candidates`` (passages of >= :data:`MIN_SENTENCES` sentences before sampling) and ``passages``.

    Raises:
        ContaminationError: a passage sentence is an evaluation sentence (never expected: a hard stop).
        ValueError: no passage is left.
        DataError: a FLORES-200 file is missing or malformed.
    """
    guard = guard or ContaminationGuard.for_language(sources, language)
    target = load_flores(sources, language, "dev")
    english = load_flores(sources, ENGLISH, "dev")
    urls = load_flores_urls(sources, "dev")
    blocked_lines = {
        i for i in range(len(target)) if guard.is_blocked(target[i]) or guard.is_blocked(english[i])
    }
    frame = build_passages(
        target,
        english,
        urls,
        language=language,
        split="dev",
        max_sentences=max_sentences,
        blocked=blocked_lines.__contains__,
    ).filter(pl.col("lines").list.len() >= MIN_SENTENCES)
    if frame.height == 0:
        raise ValueError(
            f"swim_ir: no training passage of >= {MIN_SENTENCES} sentences left for {language}"
        )
    candidates = frame.height
    if max_passages is not None and max_passages < frame.height:
        keep = sorted(random.Random(seed).sample(range(frame.height), max_passages))
        frame = frame[keep]
    used = [i for lines in frame["lines"].to_list() for i in lines]
    guard.check([target[i] for i in used], what=f"swim_ir training passages ({language})")
    guard.check([english[i] for i in used], what="swim_ir training passages (eng_Latn)")
    counts = {
        "articles": len(set(urls)),
        "lines": len(target),
        "blocked_lines": len(blocked_lines),
        "candidates": candidates,
        "passages": frame.height,
    }
    logger.info("swim_ir training passages (%s): %s", language, counts)
    return frame, counts


def evaluation_passages(
    sources: DataSources, language: str, *, seed: int, max_sentences: int = EVAL_MAX_SENTENCES
) -> pl.DataFrame:
    """The evaluation passages of ``language``: FLORES-200 ``devtest``, one held-out query sentence per passage.

    Passages of consecutive sentences of one article (:func:`build_passages`); of each with at least two sentences,
    the line ``random.Random(seed * 1_000_003 + passage_id)`` picks is the query and the rest is the passage.

    Args:
        sources: the data mirror.
        language: FLORES-200 code of the target language.
        seed: seed of the query-sentence choice.
        max_sentences: most sentences per passage before the query is held out.

    Returns:
        An :data:`EVAL_PASSAGE_SCHEMA` frame (``lines``, ``target`` and ``english`` without the query line).

    Raises:
        DataError: a FLORES-200 file is missing or malformed.
        ContaminationError: never expected: a query sentence is also in its own passage text.
    """
    target = load_flores(sources, language, "devtest")
    english = load_flores(sources, ENGLISH, "devtest")
    urls = load_flores_urls(sources, "devtest")
    passages = build_passages(
        target, english, urls, language=language, split="devtest", max_sentences=max_sentences
    )
    rows = []
    for row in passages.filter(pl.col("lines").list.len() >= MIN_SENTENCES).to_dicts():
        lines = row["lines"]
        query = random.Random(seed * 1_000_003 + row["passage_id"]).choice(lines)
        rest = [i for i in lines if i != query]
        rows.append(
            {
                **row,
                "lines": rest,
                "target": _join(target, rest),
                "english": _join(english, rest),
                "query_line": query,
                "query_target": collapse_whitespace(target[query]),
                "query_english": collapse_whitespace(english[query]),
            }
        )
    frame = pl.DataFrame(rows, schema=EVAL_PASSAGE_SCHEMA)
    for query, passage in zip(frame["query_target"], frame["target"], strict=True):
        if query in passage:
            raise ContaminationError(
                f"swim_ir evaluation: query {query[:80]!r} is inside its passage"
            )
    return frame
