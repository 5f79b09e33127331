"""Non-synthetic triplet baselines of "Bootstrapping Embeddings for Low Resource Languages".

Basoz, Horne, Opper, arXiv 2603.01732, Sec. 4 compares the synthetic-triplet strategies against two
baselines that need no generator:

* **translation** (:func:`translation_triplets`): the anchor is a target-language FLORES-200 dev
  sentence, the positive its English translation, and the hard negative an English pool sentence
  mined with the base encoder (``sentence_transformers.util.mine_hard_negatives``, NV-Retriever's
  TopK-PercPos 95 % by default: near-duplicates of the translation are not negatives);
* **english** (:func:`sick_triplets`): English-only SICK triplets (premise, entailed hypothesis,
  contradicted hypothesis of the same premise), i.e. training on English data alone.

Both return frames with the :data:`bootembed.triplets.TRIPLET_SCHEMA` columns, so they feed
:func:`bootembed.encoder_training.train_encoder` exactly like the synthetic triplets.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from bootembed.data.sick import SICK_SPLITS, SickPair
from bootembed.hardware import torch_dtype
from bootembed.mining import mine_negatives
from bootembed.text import copy_key
from bootembed.triplets import TRIPLET_SCHEMA

__all__ = [
    "ENGLISH_LANGUAGE",
    "SICK_GENERATOR_ID",
    "TRANSLATION_GENERATOR_ID",
    "sick_triplets",
    "translation_triplets",
]

logger = logging.getLogger(__name__)

#: ``generator_id`` of the translation baseline (the positives are FLORES-200 dev English lines).
TRANSLATION_GENERATOR_ID = "flores200-dev"
#: ``generator_id`` of the English-only baseline.
SICK_GENERATOR_ID = "sick"
#: FLORES-200 code recorded as ``language`` of English-only triplets.
ENGLISH_LANGUAGE = "eng_Latn"

_ENTAILS = "A_entails_B"
_CONTRADICTS = "A_contradicts_B"


def _frame(
    *,
    anchor_ids: list[int],
    anchors: list[str],
    positives: list[str],
    negatives: list[str],
    languages: list[str],
    strategy: str,
    generator_id: str,
    seed: int,
) -> pl.DataFrame:
    n = len(anchor_ids)
    return pl.DataFrame(
        {
            "anchor_id": anchor_ids,
            "anchor": anchors,
            "positive": positives,
            "negative": negatives,
            "positive_raw": positives,
            "negative_raw": negatives,
            "language": languages,
            "strategy": [strategy] * n,
            "generator_id": [generator_id] * n,
            "backend": ["none"] * n,
            "seed": [seed] * n,
        },
        schema=TRIPLET_SCHEMA,
    )


def _check_texts(name: str, texts: Sequence[object]) -> list[str]:
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name}[{i}]: expected a non-empty string, got {text!r}")
        out.append(text)
    return out


def translation_triplets(
    anchors: pl.DataFrame,
    translations: Sequence[str],
    pool: Sequence[str],
    encoder_dir: str | Path,
    *,
    mining: Any,  # noqa: ANN401 - bootembed.config.MiningParams
    prompt: str | None = "query: ",
    batch_size: int = 32,
    seed: int = 42,
    dtype: str = "float32",
) -> pl.DataFrame:
    """Translation baseline: (target sentence, its English translation, mined English hard negative).

    Method (arXiv 2603.01732, Sec. 4, "translation" baseline): the positive of anchor ``i`` is its English
    translation ``translations[i]``; its hard negatives are mined from ``pool`` by
    :func:`bootembed.mining.mine_negatives` (``sentence_transformers.util.mine_hard_negatives`` with the base
    encoder, the anchor as query): candidates ranked by cosine similarity to the anchor, kept only if they score at
    most ``(1 - mining.relative_margin)`` x the anchor-translation score and at most ``mining.max_score`` (the
    NV-Retriever "TopK-PercPos 95 %" setting by default, arXiv 2407.15831, Sec. 4). A pool sentence that nearly
    duplicates the translation scores like the translation itself, so the margin keeps it from becoming the
    negative (the false negative the nearest-neighbour rule chose before). The translation itself, and any pool
    sentence equal to it under :func:`bootembed.text.copy_key`, is never a negative. All texts are embedded with
    ``prompt`` prepended (multilingual-e5's ``"query: "``, as in encoder training).

    Args:
        anchors: Frame with ``anchor_id`` (int), ``anchor`` (target-language text) and ``language``
            columns; ``N >= 1`` rows.
        translations: ``N`` English translations, aligned row-by-row with ``anchors``.
        pool: English candidate sentences for hard negatives (e.g. the English side of all usable
            FLORES-200 dev lines; may include the translations themselves).
        encoder_dir: Local sentence-transformers model folder (the base encoder).
        mining: the ``mining`` params (range, relative margin, max score, sampling strategy, count).
        prompt: Text prepended to every text before embedding, or ``None``.
        batch_size: Encoding batch size.
        seed: Seed of the ``random`` sampling strategy; recorded in the ``seed`` column.
        dtype: Encoding dtype, ``"float32"`` or ``"bfloat16"`` (:func:`bootembed.hardware.resolve_dtype`).

    Returns:
        One row per mined negative (``mining.num_negatives`` per anchor at most) with the
        :data:`~bootembed.triplets.TRIPLET_SCHEMA` columns, in anchor order; ``strategy="translation"``,
        ``generator_id="flores200-dev"``, ``backend="none"``, ``positive_raw``/``negative_raw`` equal to
        ``positive``/``negative``. An anchor for which no candidate qualifies gets no row (logged as a warning).

    Raises:
        ValueError: Missing anchor columns, ``N == 0``, ``len(translations) != N``, an empty or
            non-string translation / pool entry, ``batch_size < 1``, an unknown ``dtype``, or a translation for
            which ``pool`` holds no other sentence.

    Example:
        >>> triplets = translation_triplets(
        ...     anchors, eng_lines, eng_lines, "models/multilingual-e5-small", mining=params.mining
        ... )  # doctest: +SKIP
    """
    missing = {"anchor_id", "anchor", "language"} - set(anchors.columns)
    if missing:
        raise ValueError(f"anchors: missing column(s) {sorted(missing)}")
    if anchors.height == 0:
        raise ValueError("anchors: expected at least one row, got an empty frame")
    if len(translations) != anchors.height:
        raise ValueError(
            f"translations: expected {anchors.height} entries (one per anchor row), "
            f"got {len(translations)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    positives = _check_texts("translations", translations)
    pool_texts = list(dict.fromkeys(_check_texts("pool", pool)))  # unique, first-occurrence order
    pool_set = set(pool_texts)
    for i, positive in enumerate(positives):
        if not pool_set - {positive}:
            raise ValueError(
                f"pool: holds no sentence other than translations[{i}] {positive!r}; "
                "a hard negative needs at least one different pool sentence"
            )
    torch_type = torch_dtype(dtype)  # an unknown dtype fails before the model loads

    from sentence_transformers import SentenceTransformer

    logger.info("Loading base encoder from %s for hard-negative mining", encoder_dir)
    model = SentenceTransformer(str(encoder_dir))
    if dtype != "float32":
        model = model.to(torch_type)
    anchor_texts = anchors["anchor"].to_list()
    mined = mine_negatives(
        anchor_texts,
        positives,
        model,
        mining,
        corpus=pool_texts,
        prompt=prompt,
        batch_size=batch_size,
        seed=seed,
    )
    rows: list[tuple[int, str, str, str, str]] = []
    ids, languages = anchors["anchor_id"].to_list(), anchors["language"].to_list()
    lost = 0
    for anchor_id, anchor, language, positive, found in zip(
        ids, anchor_texts, languages, positives, mined.negatives, strict=True
    ):
        chosen = [n for n in found if copy_key(n) != copy_key(positive)]
        lost += not chosen
        rows += [(int(anchor_id), anchor, language, positive, n) for n in chosen]
    if lost:
        logger.warning(
            "translation baseline: %d of %d anchors got no hard negative within mining.range_max = %d "
            "under the margin; they are left out",
            lost,
            len(positives),
            mining.range_max,
        )
    logger.info(
        "translation baseline: %d triplets from %d anchors, pool of %d unique sentences",
        len(rows),
        len(positives),
        len(pool_texts),
    )
    return _frame(
        anchor_ids=[r[0] for r in rows],
        anchors=[r[1] for r in rows],
        positives=[r[3] for r in rows],
        negatives=[r[4] for r in rows],
        languages=[r[2] for r in rows],
        strategy="translation",
        generator_id=TRANSLATION_GENERATOR_ID,
        seed=seed,
    )


def sick_triplets(
    pairs: Sequence[SickPair],
    *,
    max_triplets: int,
    seed: int = 42,
    splits: Sequence[str] = ("TRAIN",),
) -> pl.DataFrame:
    """English-only baseline: SICK (premise, entailed hypothesis, contradicted hypothesis) triplets.

    Method (arXiv 2603.01732, Sec. 4, "English" baseline; SICK, Marelli et al. 2014): for every
    premise ``sentence_a`` of the chosen splits that has at least one pair labelled
    ``A_entails_B`` and at least one labelled ``A_contradicts_B``, the positive is one entailed
    ``sentence_b`` and the hard negative one contradicted ``sentence_b`` of the same premise, each
    drawn with ``random.Random(seed)`` when there are several. If more than ``max_triplets`` premises
    qualify, a seeded sample of ``max_triplets`` is kept; rows stay in the order in which premises
    first occur in ``pairs``.

    Args:
        pairs: SICK pairs, e.g. :func:`bootembed.data.sick.load_sick` output.
        max_triplets: Upper bound on the number of triplets (``>= 1``).
        seed: Seed of the choices and of the sample; recorded in the ``seed`` column.
        splits: ``SemEval_set`` values to use (subset of ``TRAIN``, ``TRIAL``, ``TEST``).

    Returns:
        ``min(max_triplets, #qualifying premises)`` rows with the
        :data:`~bootembed.triplets.TRIPLET_SCHEMA` columns; ``anchor_id`` runs ``0..n-1``,
        ``language="eng_Latn"``, ``strategy="english"``, ``generator_id="sick"``,
        ``backend="none"``.

    Raises:
        ValueError: ``max_triplets < 1``, empty or unknown ``splits``, or no qualifying premise.
    """
    if max_triplets < 1:
        raise ValueError(f"max_triplets: must be >= 1, got {max_triplets}")
    wanted = set(splits)
    if not wanted or not wanted <= SICK_SPLITS:
        raise ValueError(
            f"splits: expected a non-empty subset of {sorted(SICK_SPLITS)}, got {list(splits)}"
        )
    entailed: dict[str, dict[str, None]] = {}
    contradicted: dict[str, dict[str, None]] = {}
    order: dict[str, None] = {}
    for pair in pairs:
        if pair.split not in wanted:
            continue
        premise = pair.sentence_a
        order.setdefault(premise)
        if pair.entailment_ab == _ENTAILS:
            entailed.setdefault(premise, {})[pair.sentence_b] = None
        elif pair.entailment_ab == _CONTRADICTS:
            contradicted.setdefault(premise, {})[pair.sentence_b] = None
    rng = random.Random(seed)
    rows: list[tuple[str, str, str]] = []
    for premise in order:
        positives = list(entailed.get(premise, ()))
        negatives = [s for s in contradicted.get(premise, ()) if s not in entailed.get(premise, ())]
        if positives and negatives:
            rows.append((premise, rng.choice(positives), rng.choice(negatives)))
    logger.info(
        "SICK %s: %d premises, %d with both an entailed and a contradicted hypothesis",
        "+".join(sorted(wanted)),
        len(order),
        len(rows),
    )
    if not rows:
        raise ValueError(
            f"pairs: no premise in split(s) {sorted(wanted)} has both an {_ENTAILS!r} and an "
            f"{_CONTRADICTS!r} hypothesis (field entailment_ab)"
        )
    if len(rows) > max_triplets:
        keep = sorted(rng.sample(range(len(rows)), max_triplets))
        rows = [rows[i] for i in keep]
    n = len(rows)
    return _frame(
        anchor_ids=list(range(n)),
        anchors=[r[0] for r in rows],
        positives=[r[1] for r in rows],
        negatives=[r[2] for r in rows],
        languages=[ENGLISH_LANGUAGE] * n,
        strategy="english",
        generator_id=SICK_GENERATOR_ID,
        seed=seed,
    )
