"""Hard-negative mining with the base encoder: ``sentence_transformers.util.mine_hard_negatives``, seeded.

For each (anchor, positive) pair the candidates are the corpus texts ranked by cosine similarity to the anchor under
the base encoder; a candidate is kept as a hard negative when it lies between ranks ``range_min`` and ``range_max``,
scores at most ``max_score`` and, with ``relative_margin`` m, at most ``(1 - m)`` times the anchor-positive score
(for a positive score). ``num_negatives`` of them are taken, the best first (``sampling_strategy: top``) or drawn at
random (``random``, seeded with the params ``seed``). The pair's own positive and any exact copy of it are never
candidates. The default params (``relative_margin`` 0.05, ``top``, ``max_score`` null) are the "TopK-PercPos (95 %)"
method of NV-Retriever (Moreira et al. 2024, arXiv 2407.15831, Sec. 4), which the function's docstring
recommends: a candidate scoring above 95 % of the positive is more likely a false negative (another
translation or paraphrase of the positive) than a hard one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MinedNegatives", "mine_negatives"]

logger = logging.getLogger(__name__)


@dataclass
class MinedNegatives:
    """What :func:`mine_negatives` found.

    Attributes:
        negatives: N tuples, the mined negatives of each input pair, hardest first (empty where none qualified).
        scores: N tuples of their cosine similarities to the anchor.
        positive_scores: N cosine similarities of anchor and positive (``nan`` where no negative was found).
        stats: ``pairs``, ``with_negative`` (pairs with at least one), ``negatives`` (total) and the means of the
            anchor-positive and anchor-negative scores over the mined triplets.
    """

    negatives: list[tuple[str, ...]]
    scores: list[tuple[float, ...]]
    positive_scores: list[float]
    stats: dict[str, Any] = field(default_factory=dict)


def mine_negatives(
    anchors: Sequence[str],
    positives: Sequence[str],
    model: Any,  # noqa: ANN401 - a SentenceTransformer
    params: Any,  # noqa: ANN401 - bootembed.config.MiningParams
    *,
    corpus: Sequence[str] | None = None,
    prompt: str | None = None,
    batch_size: int = 32,
    seed: int = 42,
) -> MinedNegatives:
    """Mine hard negatives for N (anchor, positive) pairs with ``sentence_transformers.util.mine_hard_negatives``.

    Method: NV-Retriever's positive-aware mining (Moreira et al. 2024, arXiv 2407.15831, Sec. 4) as implemented by
    sentence-transformers; see the module docstring for the rules.

    Args:
        anchors: N anchors (the queries).
        positives: N positives, aligned with ``anchors``.
        model: the base encoder (a loaded ``SentenceTransformer``).
        params: ``range_min``, ``range_max``, ``relative_margin``, ``max_score``, ``sampling_strategy``,
            ``num_negatives`` (:class:`bootembed.config.MiningParams`).
        corpus: candidate negatives besides the positives (``None``: the positives of the other pairs only).
        prompt: text prepended to every anchor and candidate (the encoder's training prompt); ``None`` for none.
        batch_size: encoding batch size.
        seed: seed of the ``random`` sampling strategy (Python's ``random``, whose state is restored afterwards).

    Returns:
        :class:`MinedNegatives`, aligned with the input pairs (a repeated pair gets the same negatives).

    Raises:
        ValueError: ``anchors`` and ``positives`` differ in length.
    """
    if len(anchors) != len(positives):
        raise ValueError(
            f"positives: expected {len(anchors)} entries (one per anchor), got {len(positives)}"
        )
    n = len(anchors)
    if n == 0:
        return MinedNegatives([], [], [], {"pairs": 0, "with_negative": 0, "negatives": 0})
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    dataset = Dataset.from_dict({"anchor": list(anchors), "positive": list(positives)})
    state = random.getstate()
    random.seed(seed)
    try:
        mined = mine_hard_negatives(
            dataset,
            model,
            anchor_column_name="anchor",
            positive_column_name="positive",
            corpus=list(corpus) if corpus is not None else None,
            range_min=params.range_min,
            range_max=params.range_max,
            max_score=params.max_score,
            relative_margin=params.relative_margin,
            num_negatives=params.num_negatives,
            sampling_strategy=params.sampling_strategy,
            query_prompt=prompt or "",
            corpus_prompt=prompt or "",
            output_format="labeled-list",
            output_scores=True,
            batch_size=batch_size,
            verbose=False,
        )
    finally:
        random.setstate(state)
    found: dict[tuple[str, str], tuple[tuple[str, ...], tuple[float, ...], float]] = {}
    for row in mined:
        documents, scores = row["positive"], row["scores"]
        found[(row["anchor"], documents[0])] = (
            tuple(documents[1:]),
            tuple(float(s) for s in scores[1:]),
            float(scores[0]),
        )
    empty: tuple[tuple[str, ...], tuple[float, ...], float] = ((), (), float("nan"))
    picked = [found.get((a, p), empty) for a, p in zip(anchors, positives, strict=True)]
    negatives = [p[0] for p in picked]
    neg_scores = [s for p in picked for s in p[1]]
    pos_scores = [p[2] for p in picked if p[0]]
    stats = {
        "pairs": n,
        "with_negative": sum(bool(x) for x in negatives),
        "negatives": sum(len(x) for x in negatives),
        "mean_positive_score": round(sum(pos_scores) / len(pos_scores), 4) if pos_scores else None,
        "mean_negative_score": round(sum(neg_scores) / len(neg_scores), 4) if neg_scores else None,
    }
    logger.info("mined hard negatives: %s", stats)
    return MinedNegatives(negatives, [p[1] for p in picked], [p[2] for p in picked], stats)
