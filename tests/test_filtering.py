from __future__ import annotations

import polars as pl
import pydantic
import pytest
from helpers import default_section

from bootembed.config import FilterParams
from bootembed.filtering import REASONS, dice, filter_triplets
from bootembed.text import dice as text_dice


def _params(**overrides: object) -> FilterParams:
    """``filter`` of params.yaml (min_chars 8, max_chars 400, min_words 2, max_anchor_overlap 0.5) + overrides."""
    return default_section("filter", **overrides)


def _frame(rows):
    return pl.DataFrame(
        rows,
        schema={"anchor": pl.String, "positive": pl.String, "negative": pl.String},
        orient="row",
    )


def test_each_reason_is_counted_and_good_rows_kept():
    rows = [
        ("Ina son ruwa.", "I like water.", "I hate water."),  # kept
        ("Ina son ruwa.", None, "I hate water."),  # unparseable
        ("Ina son ruwa.", "   ", "I hate water."),  # empty
        ("Ina son ruwa.", "Yes", "I hate water."),  # too_short
        ("Ina son ruwa.", "x " * 300, "I hate water."),  # too_long
        ("Ina son ruwa.", "ina SON   ruwa.", "I hate water."),  # copy_of_anchor (normalised)
        ("Yana gida a yau.", "He is at home.", "he is at home."),  # positive_equals_negative
        ("Ina son ruwa.", "I like water.", "I hate water."),  # duplicate
    ]
    kept, counts = filter_triplets(
        _frame(rows), _params(min_chars=8, max_chars=400, min_words=2, max_anchor_overlap=0.5)
    )
    assert kept.to_dicts() == [
        {"anchor": "Ina son ruwa.", "positive": "I like water.", "negative": "I hate water."}
    ]
    assert {k: counts[k] for k in REASONS} == dict.fromkeys(REASONS, 1)
    assert counts["input"] == 8 and counts["kept"] == 1


def test_extra_columns_survive_and_missing_columns_fail():
    frame = _frame([("a b", "c d e", "f g h")]).with_columns(pl.lit(7).alias("anchor_id"))
    kept, _ = filter_triplets(frame, _params(min_chars=1, min_words=1))
    assert kept["anchor_id"].to_list() == [7]
    with pytest.raises(ValueError, match="negative"):
        filter_triplets(frame.drop("negative"), _params())


def test_dice_and_near_copies():
    assert dice is text_dice  # re-exported from bootembed.text
    assert dice("a b c d", "a b c d") == 1.0
    assert dice("a b", "c d") == 0.0
    assert dice("A b c", "a B x y z") == 0.5
    row = [
        (
            "Tsohon Kakakin Majalisar Wakilai ta Amurka",
            "Tsohon Kakakin Majalisar Wakilai",
            "He was never a speaker.",
        )
    ]
    frame = _frame(row)
    _, counts = filter_triplets(frame, _params(max_anchor_overlap=0.5))
    assert counts["copy_of_anchor"] == 1
    kept, _ = filter_triplets(frame, _params(max_anchor_overlap=1.0))
    assert kept.height == 1


def test_params_need_every_field_and_check_bounds():
    fields = _params().model_dump()
    assert FilterParams(**fields) == _params()
    with pytest.raises(pydantic.ValidationError, match="max_anchor_overlap"):
        FilterParams(**{k: v for k, v in fields.items() if k != "max_anchor_overlap"})
    with pytest.raises(pydantic.ValidationError, match="max_chars"):
        _params(min_chars=50, max_chars=50)
    with pytest.raises(pydantic.ValidationError, match="min_words"):
        _params(min_words="2")  # strict: no silent str -> int
