"""Tests for bootembed.baselines: the translation (mined hard negative) and English-only SICK baselines."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from helpers import build_tiny_encoder, default_section, torch_threads
from sentence_transformers import SentenceTransformer

from bootembed import synthesize
from bootembed.baselines import sick_triplets, translation_triplets
from bootembed.data.sick import SickPair
from bootembed.triplets import TRIPLET_SCHEMA

WORDS = [f"w{i}" for i in range(40)]


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init BERT sentence-transformers model (mean pooling + normalise), no prompts."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"), ["query", ":", *WORDS])


def _sentence(rng: random.Random, k: int = 6) -> str:
    return " ".join(rng.sample(WORDS, k))


def _anchors(n: int, texts: list[str] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "anchor_id": list(range(10, 10 + n)),
            "anchor": texts if texts is not None else [f"hausa sentence {i}" for i in range(n)],
            "language": ["hau_Latn"] * n,
        }
    )


def _mining(**overrides: object):  # noqa: ANN202 - MiningParams
    """``mining`` of params.yaml (NV-Retriever TopK-PercPos 95 %: relative_margin 0.05, top, 1 negative)."""
    return default_section("mining", **overrides)


def _brute_force(
    model_dir: Path, anchor: str, positive: str, pool: list[str], prompt: str | None, margin: float
) -> str | None:
    """The pool sentence nearest to the anchor that scores at most (1 - margin) x the anchor-positive score."""
    model = SentenceTransformer(str(model_dir), device="cpu")
    emb = model.encode([anchor, positive, *pool], prompt=prompt or "", normalize_embeddings=True)
    limit = float(emb[0] @ emb[1]) * (1 - margin)
    sims = emb[2:] @ emb[0]
    sims[[p == positive or s > limit for p, s in zip(pool, sims, strict=True)]] = -np.inf
    return pool[int(np.argmax(sims))] if np.isfinite(sims.max()) else None


def test_triplet_schema_is_shared() -> None:
    # one schema for every producer of triplets, still importable where it used to live
    assert synthesize.TRIPLET_SCHEMA is TRIPLET_SCHEMA
    assert list(TRIPLET_SCHEMA)[:3] == ["anchor_id", "anchor", "positive"]


def test_translation_schema_and_negatives_follow_the_mining_rule(tiny_encoder_dir: Path) -> None:
    rng = random.Random(0)
    translations = [_sentence(rng) for _ in range(8)]
    anchors = _anchors(8, [_sentence(rng) for _ in range(8)])
    # the pool holds every translation but the last (which exercises the "not in pool" path),
    # a duplicate of the first, and some distractors
    pool = [*translations[:-1], translations[0], *(_sentence(rng) for _ in range(6))]
    out = translation_triplets(
        anchors, translations, pool, tiny_encoder_dir, mining=_mining(), batch_size=3, seed=7
    )
    assert out.schema == pl.Schema(TRIPLET_SCHEMA)
    expected = [
        _brute_force(tiny_encoder_dir, a, t, pool, "query: ", 0.05)
        for a, t in zip(anchors["anchor"], translations, strict=True)
    ]
    kept = [i for i, e in enumerate(expected) if e is not None]
    assert kept, "no anchor got a negative: the test would check nothing"
    assert out["anchor_id"].to_list() == [anchors["anchor_id"][i] for i in kept]
    assert out["anchor"].to_list() == [anchors["anchor"][i] for i in kept]
    assert out["positive"].to_list() == [translations[i] for i in kept]
    assert out["negative"].to_list() == [expected[i] for i in kept]
    assert out["positive_raw"].to_list() == out["positive"].to_list()
    assert out["negative_raw"].to_list() == out["negative"].to_list()
    assert set(out["strategy"]) == {"translation"}
    assert set(out["generator_id"]) == {"flores200-dev"}
    assert set(out["backend"]) == {"none"}
    assert set(out["seed"]) == {7}
    assert set(out["language"]) == {"hau_Latn"}
    for row in out.iter_rows(named=True):
        assert row["negative"] != row["positive"] and row["negative"] in pool


def test_translation_count_and_random_sampling_are_params(tiny_encoder_dir: Path) -> None:
    rng = random.Random(3)
    translations = [_sentence(rng) for _ in range(3)]
    anchors = _anchors(3, list(translations))
    pool = [*translations, *(_sentence(rng) for _ in range(30))]
    three = translation_triplets(
        anchors, translations, pool, tiny_encoder_dir, mining=_mining(num_negatives=3)
    )
    assert three["anchor_id"].to_list() == [10, 10, 10, 11, 11, 11, 12, 12, 12]
    for _, group in three.group_by("anchor_id"):
        assert group["negative"].n_unique() == 3
    sampled = [
        translation_triplets(
            anchors,
            translations,
            pool,
            tiny_encoder_dir,
            mining=_mining(sampling_strategy="random", num_negatives=3),
            seed=seed,
        )["negative"].to_list()
        for seed in (1, 1, 2)
    ]
    assert sampled[0] == sampled[1]  # seeded
    assert sampled[0] != sampled[2]  # another seed draws others among the qualifying candidates


def test_translation_bfloat16_encoding_mines_valid_negatives(tiny_encoder_dir: Path) -> None:
    rng = random.Random(2)
    translations = [_sentence(rng) for _ in range(4)]
    pool = [*translations, *(_sentence(rng) for _ in range(8))]
    out = translation_triplets(
        _anchors(4, list(translations)),
        translations,
        pool,
        tiny_encoder_dir,
        mining=_mining(),
        seed=3,
        dtype="bfloat16",
    )
    assert out.schema == pl.Schema(TRIPLET_SCHEMA)
    assert set(out["positive"].to_list()) <= set(translations)
    for row in out.iter_rows(named=True):
        assert row["negative"] in pool and row["negative"] != row["positive"]
    with pytest.raises(ValueError, match="dtype"):
        translation_triplets(
            _anchors(4), translations, pool, tiny_encoder_dir, mining=_mining(), dtype="float16"
        )


def test_translation_never_mines_a_near_duplicate_of_the_positive(tiny_encoder_dir: Path) -> None:
    """The false negative of the nearest-neighbour rule: a pool sentence that nearly repeats the translation.

    It is the pool's nearest sentence to both the positive and the anchor (checked below, so the old rule would
    pick it), but it scores above 95 % of the anchor-positive score, so TopK-PercPos skips it."""
    rng = random.Random(1)
    positive = "w1 w2 w3 w4 w5 w6 w7 w8"
    near_duplicate = "w1 w2 w3 w4 w5 w6 w7 w9"
    anchor = "w1 w2 w3 w4 w5 w6 w8 w7"
    distractors = [" ".join(rng.sample(WORDS[10:], 8)) for _ in range(20)]
    pool = [*distractors[:10], positive, near_duplicate, *distractors[10:]]
    model = SentenceTransformer(str(tiny_encoder_dir), device="cpu")
    emb = model.encode([anchor, positive, *pool], normalize_embeddings=True)
    others = [i for i, p in enumerate(pool) if p != positive]
    assert pool[max(others, key=lambda i: emb[1] @ emb[2 + i])] == near_duplicate  # old rule's pick
    assert emb[0] @ emb[2 + pool.index(near_duplicate)] > 0.95 * (emb[0] @ emb[1])
    out = translation_triplets(
        _anchors(1, [anchor]), [positive], pool, tiny_encoder_dir, mining=_mining(), prompt=None
    )
    assert out["negative"].to_list() != [near_duplicate]
    assert out["negative"].to_list() == [
        _brute_force(tiny_encoder_dir, anchor, positive, pool, None, 0.05)
    ]
    assert out["negative"][0] in distractors
    # without the margin the near-duplicate is mined again: the margin is what fixes it
    plain = translation_triplets(
        _anchors(1, [anchor]),
        [positive],
        pool,
        tiny_encoder_dir,
        mining=_mining(relative_margin=None),
        prompt=None,
    )
    assert plain["negative"].to_list() == [near_duplicate]


def test_translation_errors(tiny_encoder_dir: Path) -> None:
    m = _mining()
    with pytest.raises(ValueError, match="translations: expected 2"):
        translation_triplets(_anchors(2), ["w1"], ["w1", "w2"], tiny_encoder_dir, mining=m)
    with pytest.raises(ValueError, match="empty frame"):
        translation_triplets(_anchors(0), [], ["w1", "w2"], tiny_encoder_dir, mining=m)
    with pytest.raises(ValueError, match="no sentence other than"):
        translation_triplets(_anchors(1), ["w1 w2"], ["w1 w2", "w1 w2"], tiny_encoder_dir, mining=m)
    with pytest.raises(ValueError, match="no sentence other than"):
        translation_triplets(_anchors(1), ["w1 w2"], [], tiny_encoder_dir, mining=m)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['language'\]"):
        translation_triplets(
            _anchors(1).drop("language"), ["w1"], ["w2"], tiny_encoder_dir, mining=m
        )
    with pytest.raises(ValueError, match=r"pool\[1\]"):
        translation_triplets(_anchors(1), ["w1"], ["w2", "  "], tiny_encoder_dir, mining=m)


def _pair(i: int, a: str, b: str, ab: str, split: str = "TRAIN") -> SickPair:
    label = {"A_entails_B": "ENTAILMENT", "A_contradicts_B": "CONTRADICTION"}.get(ab, "NEUTRAL")
    return SickPair(i, a, b, label, ab, 3.0, split)


def _hand_made() -> list[SickPair]:
    return [
        _pair(1, "P1", "P1 ent a", "A_entails_B"),
        _pair(2, "P1", "P1 con a", "A_contradicts_B"),
        _pair(3, "P1", "P1 neu", "A_neutral_B"),
        _pair(4, "P2", "P2 ent", "A_entails_B"),  # no contradiction: skipped
        _pair(5, "P3", "P3 con", "A_contradicts_B"),  # no entailment: skipped
        _pair(6, "P4", "P4 ent a", "A_entails_B"),
        _pair(7, "P4", "P4 ent b", "A_entails_B"),
        _pair(8, "P4", "P4 ent c", "A_entails_B"),
        _pair(9, "P4", "P4 con a", "A_contradicts_B"),
        _pair(10, "P4", "P4 con b", "A_contradicts_B"),
        _pair(11, "P5", "P5 ent", "A_entails_B", "TEST"),
        _pair(12, "P5", "P5 con", "A_contradicts_B", "TEST"),
        _pair(13, "P6", "P6 ent", "A_entails_B"),
        _pair(14, "P6", "P6 con", "A_contradicts_B", "TRIAL"),  # other split: not combined
        _pair(15, "P1", "P1 ent b", "A_entails_B"),
    ]


def test_sick_triplets_hand_made() -> None:
    out = sick_triplets(_hand_made(), max_triplets=10, seed=3)
    assert out.schema == pl.Schema(TRIPLET_SCHEMA)
    assert out["anchor"].to_list() == ["P1", "P4"]
    assert out["anchor_id"].to_list() == [0, 1]
    assert set(out["language"]) == {"eng_Latn"}
    assert set(out["strategy"]) == {"english"}
    assert set(out["backend"]) == {"none"}
    assert set(out["seed"]) == {3}
    for row in out.iter_rows(named=True):
        premise = row["anchor"]
        assert row["positive"].startswith(f"{premise} ent")
        assert row["negative"].startswith(f"{premise} con")
        assert row["positive_raw"] == row["positive"]
        assert row["negative_raw"] == row["negative"]
    # other splits
    both = sick_triplets(_hand_made(), max_triplets=10, splits=("TRAIN", "TEST"))
    assert both["anchor"].to_list() == ["P1", "P4", "P5"]


def test_sick_triplets_seeded_choice_and_sample() -> None:
    pairs = _hand_made()
    first = sick_triplets(pairs, max_triplets=10, seed=0)
    assert first.equals(sick_triplets(pairs, max_triplets=10, seed=0))
    # several candidates for P1 / P4: over many seeds every candidate gets chosen
    seen_pos, seen_neg = set(), set()
    for seed in range(40):
        out = sick_triplets(pairs, max_triplets=10, seed=seed)
        seen_pos.update(out["positive"].to_list())
        seen_neg.update(out["negative"].to_list())
    assert seen_pos == {"P1 ent a", "P1 ent b", "P4 ent a", "P4 ent b", "P4 ent c"}
    assert seen_neg == {"P1 con a", "P4 con a", "P4 con b"}
    # max_triplets: a seeded sample, kept in premise order, ids re-numbered
    many = [
        _pair(2 * i + j, f"premise {i:03d}", f"{i} {ab}", ab)
        for i in range(50)
        for j, ab in enumerate(("A_entails_B", "A_contradicts_B"))
    ]
    samples = {tuple(sick_triplets(many, max_triplets=5, seed=s)["anchor"]) for s in range(5)}
    assert len(samples) > 1
    for sample in samples:
        assert len(sample) == 5 and list(sample) == sorted(sample)
    out = sick_triplets(many, max_triplets=5, seed=1)
    assert out["anchor_id"].to_list() == [0, 1, 2, 3, 4]
    assert out.equals(sick_triplets(many, max_triplets=5, seed=1))


def test_sick_triplets_errors() -> None:
    with pytest.raises(ValueError, match="max_triplets"):
        sick_triplets(_hand_made(), max_triplets=0)
    with pytest.raises(ValueError, match="splits"):
        sick_triplets(_hand_made(), max_triplets=5, splits=("DEV",))
    with pytest.raises(ValueError, match="no premise"):
        sick_triplets(_hand_made()[2:5], max_triplets=5)


@pytest.mark.integration
def test_sick_triplets_real(real_sources) -> None:  # noqa: ANN001 - bootembed.data.DataSources
    from bootembed.data import load_sick

    pairs = load_sick(real_sources)
    out = sick_triplets(pairs, max_triplets=100_000, seed=42)
    # measured on the SICK release: 117 TRAIN premises have both an entailed and a contradicted B
    assert out.height == 117
    assert out["anchor"].n_unique() == out.height
    by_key = {(p.sentence_a, p.sentence_b): p for p in pairs if p.split == "TRAIN"}
    for row in out.iter_rows(named=True):
        assert by_key[(row["anchor"], row["positive"])].entailment_ab == "A_entails_B"
        assert by_key[(row["anchor"], row["negative"])].entailment_ab == "A_contradicts_B"
    capped = sick_triplets(pairs, max_triplets=50, seed=42)
    assert capped.height == 50
    assert set(capped["anchor"]) <= set(out["anchor"])
