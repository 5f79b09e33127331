"""bootembed.mining: sentence-transformers' mine_hard_negatives wrapped, seeded and mapped back to the input rows."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from helpers import build_tiny_encoder, default_section, torch_threads

from bootembed.mining import mine_negatives

WORDS = [f"w{i}" for i in range(30)]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from sentence_transformers import SentenceTransformer

    path = build_tiny_encoder(tmp_path_factory.mktemp("enc"), ["query", ":", *WORDS])
    with torch_threads(1):
        yield SentenceTransformer(str(path), device="cpu")


def _text(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 5))


def test_rows_map_back_in_input_order_with_scores(model) -> None:  # noqa: ANN001
    rng = random.Random(0)
    anchors = [_text(rng) for _ in range(6)]
    positives = [_text(rng) for _ in range(6)]
    corpus = [_text(rng) for _ in range(20)]
    # a repeated (anchor, positive) pair gets the same negatives
    anchors.append(anchors[0])
    positives.append(positives[0])
    params = default_section("mining", num_negatives=2)
    mined = mine_negatives(anchors, positives, model, params, corpus=corpus, prompt="query: ")
    assert len(mined.negatives) == len(mined.scores) == len(mined.positive_scores) == 7
    assert mined.negatives[6] == mined.negatives[0]
    for positive, negatives, scores, pos_score in zip(
        positives, mined.negatives, mined.scores, mined.positive_scores, strict=True
    ):
        assert positive not in negatives and len(negatives) <= 2
        assert list(scores) == sorted(scores, reverse=True)  # hardest first
        for score in scores:  # TopK-PercPos 95 %
            assert score <= pos_score - abs(pos_score) * 0.05 + 1e-6
    assert mined.stats["pairs"] == 7 and mined.stats["negatives"] == sum(
        len(n) for n in mined.negatives
    )


def test_random_sampling_is_seeded_and_leaves_the_global_state(model) -> None:  # noqa: ANN001
    rng = random.Random(1)
    anchors, positives = [_text(rng) for _ in range(4)], [_text(rng) for _ in range(4)]
    corpus = [_text(rng) for _ in range(40)]
    params = default_section("mining", sampling_strategy="random", num_negatives=2)
    random.seed(123)
    before = random.random()
    random.seed(123)
    first = mine_negatives(anchors, positives, model, params, corpus=corpus, seed=5).negatives
    assert random.random() == before  # the caller's random state is untouched
    assert (
        first == mine_negatives(anchors, positives, model, params, corpus=corpus, seed=5).negatives
    )
    others = [
        mine_negatives(anchors, positives, model, params, corpus=corpus, seed=s).negatives
        for s in (6, 7)
    ]
    assert any(o != first for o in others)


def test_edge_cases(model) -> None:  # noqa: ANN001
    params = default_section("mining")
    empty = mine_negatives([], [], model, params)
    assert empty.negatives == [] and empty.stats["pairs"] == 0
    with pytest.raises(ValueError, match="positives: expected 2 entries"):
        mine_negatives(["w1", "w2"], ["w3"], model, params)
    # nothing but the positive in the corpus: no negative, not an error
    alone = mine_negatives(["w1 w2"], ["w3 w4"], model, params)
    assert alone.negatives == [()] and alone.stats["with_negative"] == 0
