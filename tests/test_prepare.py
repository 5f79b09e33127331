"""The ``prepare`` stage on the real mirror: anchors never include an evaluation sentence."""

from __future__ import annotations

import pytest

from bootembed.data.flores import load_flores
from bootembed.data.semrel import load_semrel
from bootembed.data.sib200 import load_sib200
from bootembed.prepare import (
    ANCHOR_SCHEMA,
    build_anchors,
    build_augment_pairs,
    build_lm_text,
    build_task_sft,
    build_xllora_sft,
)
from bootembed.prompts import parse_generation
from bootembed.text import normalize_sentence

pytestmark = pytest.mark.integration


def _evaluation_sentences(sources, lang: str) -> set[str]:  # noqa: ANN001
    """Every evaluation sentence for ``lang``, collected independently of the guard."""
    texts = list(load_flores(sources, lang, "devtest"))
    texts += [ex.text for split in ("dev", "test") for ex in load_sib200(sources, lang, split)]
    for pair in load_semrel(sources, lang, "test"):
        texts += [pair.sentence1, pair.sentence2]
    return {normalize_sentence(t) for t in texts}


@pytest.mark.parametrize("anchor_source", ["flores_dev", "semrel_train"])
def test_no_evaluation_sentence_becomes_an_anchor(real_sources, anchor_source: str):
    frame, counts = build_anchors(
        real_sources, "hau_Latn", anchor_source=anchor_source, max_anchors=10_000, seed=1
    )
    assert dict(frame.schema) == ANCHOR_SCHEMA
    anchors = {normalize_sentence(a) for a in frame["anchor"]}
    assert not anchors & _evaluation_sentences(real_sources, "hau_Latn")
    assert frame["anchor"].n_unique() == frame.height == counts["anchors"]
    if anchor_source == "flores_dev":
        # FLORES dev lines that SIB-200 dev/test reuse are exactly the ones removed.
        assert counts["contaminated"] > 0
        assert counts["candidates"] == 997


def test_anchor_sample_is_seeded_and_bounded(real_sources):
    a, _ = build_anchors(real_sources, "hau_Latn", max_anchors=50, seed=7)
    b, _ = build_anchors(real_sources, "hau_Latn", max_anchors=50, seed=7)
    c, _ = build_anchors(real_sources, "hau_Latn", max_anchors=50, seed=8)
    assert a.equals(b) and not a.equals(c) and a.height == 50
    assert a["anchor_id"].to_list() == list(range(50))


def test_xllora_sft_examples_round_trip(real_sources):
    sets = build_xllora_sft(real_sources, num_examples=20, max_chars=200, seed=3)
    assert set(sets) == {"positive", "negative"}
    for polarity, examples in sets.items():
        assert len(examples) == 20
        for ex in examples:
            assert ex.prompt.endswith("English sentence:")
            assert ("entailment" if polarity == "positive" else "contradiction") in ex.prompt
            # What the generator learns to write is what synthesis parses back (at most the quotes that
            # enclose a whole sentence are dropped).
            target, parsed = ex.completion.strip(), parse_generation(ex.completion)
            assert parsed == target or parsed == target[1:-1].strip(), (target, parsed)


def test_anchor_source_index_points_at_the_flores_line(real_sources):
    frame, _ = build_anchors(real_sources, "afr_Latn", max_anchors=30, seed=2)
    dev = [" ".join(s.split()) for s in load_flores(real_sources, "afr_Latn", "dev")]
    assert [dev[i] for i in frame["source_index"]] == frame["anchor"].to_list()


def test_augment_pairs_are_parallel_clean_and_disjoint_from_anchors(real_sources):
    anchors, _ = build_anchors(real_sources, "hau_Latn", max_anchors=100, seed=4)
    pairs = build_augment_pairs(
        real_sources,
        "hau_Latn",
        num_pairs=10_000,
        exclude_indices=anchors["source_index"].to_list(),
        seed=4,
    )
    assert not set(pairs["source_index"]) & set(anchors["source_index"])
    english = [" ".join(s.split()) for s in load_flores(real_sources, "eng_Latn", "dev")]
    assert [english[i] for i in pairs["source_index"]] == pairs["english"].to_list()
    evaluation = _evaluation_sentences(real_sources, "hau_Latn")
    assert not {normalize_sentence(p) for p in pairs["premise"]} & evaluation
    assert 600 < pairs.height < 997 - 100  # SIB-200 dev/test lines and the anchors are left out


def test_language_text_and_sick_task_sets(real_sources):
    text = build_lm_text(real_sources, "hau_Latn", max_sentences=25, seed=1)
    assert len(text) == 25 and all(ex.prompt == "" and ex.completion for ex in text)
    assert not {normalize_sentence(ex.completion) for ex in text} & _evaluation_sentences(
        real_sources, "hau_Latn"
    )
    task = build_task_sft(real_sources, num_examples=15, seed=1)
    for polarity, examples in task.items():
        assert len(examples) == 15
        assert all(ex.prompt.endswith("\nSentence:") for ex in examples)
        label = "entailment" if polarity == "positive" else "contradiction"
        assert all(label in ex.prompt for ex in examples)
