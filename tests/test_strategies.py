"""Prompt building and output parsing of every strategy, and the XL-LoRA augmentation swap."""

from __future__ import annotations

import polars as pl
import pytest

from bootembed.augment import augmentation_examples
from bootembed.config import IclParams
from bootembed.prompts import (
    IclExemplar,
    icl_prompt,
    language_name,
    parse_generation,
    task_prompt,
    xllora_prompt,
)
from bootembed.strategies import output_language, prompt_builder

EXEMPLARS = pl.DataFrame(
    {
        "anchor": [f"A man number {i} plays a guitar." for i in range(6)],
        "positive": [f"Someone {i} plays music." for i in range(6)],
        "negative": [f"Nobody {i} is playing." for i in range(6)],
    }
)
ROW = {"anchor_id": 5, "anchor": "Ina son karanta littattafai.", "language": "hau_Latn"}


def test_icl_prompt_layout_and_label():
    shots = [IclExemplar("A dog runs.", "An animal moves.", "The dog sleeps.")]
    prompt = icl_prompt(
        ROW["anchor"],
        "negative",
        shots,
        language="hau_Latn",
        instruction="Write {label} in {language}.",
    )
    assert prompt == (
        "Write a contradiction in Hausa.\n\n"
        "Premise: A dog runs.\nContradiction: The dog sleeps.\n\n"
        "Premise: Ina son karanta littattafai.\nContradiction:"
    )
    positive = icl_prompt(
        ROW["anchor"], "positive", shots, language="hau_Latn", instruction="{label}"
    )
    assert "Entailment: An animal moves." in positive and positive.endswith("\nEntailment:")
    assert icl_prompt("x", "positive", [], language="afr_Latn", instruction="{language}") == (
        "Afrikaans\n\nPremise: x\nEntailment:"
    )
    with pytest.raises(ValueError, match="polarity"):
        icl_prompt("x", "neutral", shots, language="hau_Latn", instruction="")
    with pytest.raises(ValueError, match=r"exemplars\[0\]\.positive"):
        icl_prompt(
            "x", "positive", [IclExemplar("a", " ", "c")], language="hau_Latn", instruction=""
        )
    with pytest.raises(ValueError, match="instruction"):
        icl_prompt("x", "positive", shots, language="hau_Latn", instruction="{oops}")


def test_icl_builder_samples_exemplars_per_anchor_reproducibly():
    params = IclParams(num_shots=2, pool_size=6)
    build = prompt_builder("icl", language="hau_Latn", icl=params, exemplars=EXEMPLARS, seed=1)
    pos, neg = build(ROW, "positive"), build(ROW, "negative")
    # The positive and negative prompt of one anchor share their exemplars.
    premises = [line for line in pos.split("\n") if line.startswith("Premise: A man")]
    assert len(premises) == 2 and premises == [
        line for line in neg.split("\n") if line.startswith("Premise: A man")
    ]
    assert build(ROW, "positive") == pos  # deterministic
    others = {build({**ROW, "anchor_id": i}, "positive") for i in range(20)}
    assert len(others) > 1  # per-anchor sampling varies the shots
    fixed = prompt_builder(
        "icl",
        language="hau_Latn",
        icl=IclParams(num_shots=2, pool_size=6, exemplar_sampling="fixed"),
        exemplars=EXEMPLARS,
    )
    assert len({fixed({**ROW, "anchor_id": i}, "positive") for i in range(20)}) == 1
    with pytest.raises(ValueError, match="num_shots"):
        prompt_builder(
            "icl", language="hau_Latn", icl=IclParams(num_shots=8, pool_size=8), exemplars=EXEMPLARS
        )
    with pytest.raises(ValueError, match="exemplar pool"):
        prompt_builder("icl", language="hau_Latn")


def test_composition_and_xllora_builders():
    comp = prompt_builder("composition", language="hau_Latn")(ROW, "positive")
    assert comp == task_prompt(ROW["anchor"], "positive")
    assert "in the language of the premise" in comp and comp.endswith("\nSentence:")
    assert "(in English)" in prompt_builder("xllora", language="hau_Latn")(ROW, "negative")
    assert prompt_builder("xllora", language="x")(ROW, "negative") == xllora_prompt(
        ROW["anchor"], "negative"
    )
    with pytest.raises(ValueError, match="strategy"):
        prompt_builder("magic", language="hau_Latn")


def test_output_languages():
    assert output_language("icl", "hau_Latn") == "hau_Latn"
    assert output_language("composition", "afr_Latn") == "afr_Latn"
    assert output_language("xllora", "hau_Latn") == "eng_Latn"
    assert output_language("translation", "hau_Latn") == "eng_Latn"
    with pytest.raises(ValueError):
        output_language("nope", "hau_Latn")
    assert language_name("hau_Latn") == "Hausa" and language_name("xyz_Latn") == "xyz_Latn"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Contradiction: Babu wanda yake karatu.\nPremise: next", "Babu wanda yake karatu."),
        (' Entailment: "Mutum yana karatu."\n', "Mutum yana karatu."),
        (" Sentence: The man reads.", "The man reads."),
        ("\n\nThe man reads.", "The man reads."),
        ("   \n", None),
        (" ...", None),
        ("", None),
        (' "unbalanced quote.', '"unbalanced quote.'),
    ],
)
def test_parse_generation_of_every_strategy_and_malformed_outputs(raw, expected):
    assert parse_generation(raw) == expected


def test_augmentation_swaps_the_anchor_back_and_drops_failures():
    pairs = pl.DataFrame(
        {
            "source_index": [3, 7],
            "premise": ["Ruwa yana da kyau.", "Yara suna wasa."],
            "english": ["The water is good.", "Children are playing."],
        }
    )
    generated = pl.DataFrame(
        {
            "anchor_id": [3, 7],
            "positive": ["Water is fine.", "children are playing"],
            "negative": [None, "Nobody is playing."],
        }
    )
    examples, counts = augmentation_examples(pairs, generated)
    assert counts["positive"] == {"kept": 1, "unparseable": 0, "copy_of_premise": 1}
    assert counts["negative"] == {"kept": 1, "unparseable": 1, "copy_of_premise": 0}
    assert examples["positive"][0].prompt == xllora_prompt("Ruwa yana da kyau.", "positive")
    assert examples["positive"][0].completion == " Water is fine.\n"
    assert examples["negative"][0].prompt == xllora_prompt("Yara suna wasa.", "negative")
    with pytest.raises(ValueError, match="anchor_id 9"):
        augmentation_examples(pairs, generated.with_columns(pl.lit(9).alias("anchor_id")))
    with pytest.raises(ValueError, match="english"):
        augmentation_examples(pairs.drop("english"), generated)
