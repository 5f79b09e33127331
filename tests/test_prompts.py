from __future__ import annotations

import pytest

from bootembed.prompts import parse_generation, xllora_example, xllora_prompt


def test_prompt_contains_premise_and_differs_by_polarity():
    pos = xllora_prompt("Ina  son\nruwa.", "positive")
    neg = xllora_prompt("Ina son ruwa.", "negative")
    assert "Premise: Ina son ruwa." in pos
    assert pos != neg
    assert pos.endswith("English sentence:")


def test_example_completion_ends_with_newline_and_parses_back():
    ex = xllora_example("Ina son ruwa.", "I like water.", "positive")
    assert ex.completion == " I like water.\n"
    assert parse_generation(ex.completion) == "I like water."
    assert ex.as_dict() == {"prompt": ex.prompt, "completion": ex.completion}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" The man is happy.\nPremise: more text", "The man is happy."),
        ('  "A dog runs."  ', "A dog runs."),
        ('"We have finished it".', '"We have finished it".'),
        ("“Quoted.”", "Quoted."),
        ("English sentence: It rains.", "It rains."),
        ("\n\nSecond line only", "Second line only"),
        ("", None),
        ("   \n", None),
        (' ... "" ', None),
    ],
)
def test_parse_generation(raw, expected):
    assert parse_generation(raw) == expected


def test_bad_arguments():
    with pytest.raises(ValueError, match="polarity"):
        xllora_prompt("x", "neutral")
    with pytest.raises(ValueError, match="premise"):
        xllora_prompt("   ", "positive")
    with pytest.raises(ValueError, match="hypothesis"):
        xllora_example("x", " ", "negative")
