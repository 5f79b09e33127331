"""The ``prepare`` stage on the real mirror: anchors never include an evaluation sentence."""

from __future__ import annotations

import pytest

from bootembed.data.contamination import normalize_sentence
from bootembed.data.flores import load_flores
from bootembed.data.semrel import load_semrel
from bootembed.data.sib200 import load_sib200
from bootembed.prepare import ANCHOR_SCHEMA, build_anchors, build_xllora_sft
from bootembed.prompts import parse_generation

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
