"""Tests for ``bootembed.diagnostics``: Dice overlap, code-switching with the packaged CLD3 model,
failure rates."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from bootembed.diagnostics import (
    LANGID_MODEL,
    code_switching_rate,
    detect_languages,
    langid_supports,
    triplet_diagnostics,
)
from bootembed.text import dice

ENGLISH = [
    "A man is playing a guitar on the street.",
    "The government announced new measures to support farmers this year.",
]
AFRIKAANS = [
    "Ek hou daarvan om elke dag boeke te lees.",
    "Die regering het nuwe maatreëls aangekondig om boere te ondersteun.",
]
HAUSA = [
    "Ina son karanta littattafai a kowace rana.",
    "Gwamnati ta sanar da sababbin matakai don tallafa wa manoma a wannan shekara.",
]
MARATHI = ["मला दररोज पुस्तके वाचायला आवडतात."]


def test_langid_model_is_recorded() -> None:
    assert LANGID_MODEL.startswith("cld3-py==")
    assert "not-installed" not in LANGID_MODEL


def test_langid_supports_target_languages() -> None:
    for code in ("hau_Latn", "afr_Latn", "mar_Deva", "eng_Latn", "hau"):
        assert langid_supports(code), code
    assert not langid_supports("wol_Latn")
    assert not langid_supports("kin_Latn")
    with pytest.raises(ValueError, match="FLORES-200"):
        langid_supports("")


def test_detect_languages_hand_written() -> None:
    texts = [*ENGLISH, *AFRIKAANS, *HAUSA, *MARATHI, None, "   ", "123 ... 456"]
    detected = detect_languages(texts)
    assert len(detected) == len(texts)
    codes = [code for code, _ in detected]
    assert codes[:7] == ["eng_Latn"] * 2 + ["afr_Latn"] * 2 + ["hau_Latn"] * 2 + ["mar_Deva"]
    assert detected[7:] == [(None, 0.0)] * 3
    for _, prob in detected[:7]:
        assert 0.5 < prob <= 1.0


def test_code_switching_rate() -> None:
    texts = [*HAUSA, ENGLISH[0], None, ""]
    out = code_switching_rate(texts, "hau_Latn")
    assert out == {"rate": round(1 / 3, 4), "n": 3, "supported": 1.0}
    # the script part is ignored: only ISO 639-3 is compared
    assert code_switching_rate(HAUSA, "hau_Arab")["rate"] == 0.0
    assert code_switching_rate([None], "eng_Latn") == {"rate": 0.0, "n": 0, "supported": 1.0}
    with pytest.raises(ValueError, match="min_confidence"):
        code_switching_rate(HAUSA, "hau_Latn", min_confidence=1.5)


def test_low_confidence_guess_is_not_code_switching() -> None:
    # CLD3 takes this short English sentence for Hawaiian, with low confidence (p ~ 0.55)
    text = "She does not like coffee."
    [(code, prob)] = detect_languages([text])
    assert code != "eng_Latn" and prob < 0.7
    assert code_switching_rate([text], "eng_Latn")["rate"] == 0.0
    assert code_switching_rate([text], "eng_Latn", min_confidence=0.0)["rate"] == 1.0


def test_code_switching_rate_unsupported_language() -> None:
    # Wolof is unknown to CLD3: only confident detections of another language count.
    out = code_switching_rate([ENGLISH[1], "Jàng naa téere bi ci suba."], "wol_Latn")
    assert out["supported"] == 0.0
    assert out["n"] == 2
    assert out["rate"] == 0.5  # English (p ~ 1.0) flagged; the Wolof sentence (p < 0.99) not


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "anchor": [HAUSA[0], HAUSA[1], AFRIKAANS[0], AFRIKAANS[1]],
            "positive": [ENGLISH[0], ENGLISH[1], None, HAUSA[0]],
            "negative": [None, None, ENGLISH[1], ENGLISH[0]],
        },
        schema={"anchor": pl.String, "positive": pl.String, "negative": pl.String},
    )


def test_triplet_diagnostics_rates() -> None:
    frame = _frame()
    out = triplet_diagnostics(frame, positive_language="eng_Latn", negative_language="eng_Latn")
    assert list(out) == [
        "rows",
        "failure_rate_positive",
        "failure_rate_negative",
        "dice_anchor_positive",
        "dice_anchor_negative",
        "code_switch_rate_positive",
        "code_switch_rate_negative",
        "langid_supported_positive",
        "langid_supported_negative",
    ]
    assert out["rows"] == 4
    assert out["failure_rate_positive"] == 0.25
    assert out["failure_rate_negative"] == 0.5
    expected_pos = [
        dice(HAUSA[0], ENGLISH[0]),
        dice(HAUSA[1], ENGLISH[1]),
        dice(AFRIKAANS[1], HAUSA[0]),
    ]
    assert out["dice_anchor_positive"] == round(sum(expected_pos) / 3, 4)
    expected_neg = [dice(AFRIKAANS[0], ENGLISH[1]), dice(AFRIKAANS[1], ENGLISH[0])]
    assert out["dice_anchor_negative"] == round(sum(expected_neg) / 2, 4)
    # one of the three non-null positives is Hausa, not the requested English
    assert out["code_switch_rate_positive"] == round(1 / 3, 4)
    assert out["code_switch_rate_negative"] == 0.0
    assert out["langid_supported_positive"] == out["langid_supported_negative"] == 1.0


def test_triplet_diagnostics_copying_generator_has_high_overlap() -> None:
    frame = pl.DataFrame(
        {"anchor": HAUSA, "positive": HAUSA, "negative": [HAUSA[0] + " ba", "Wani abu dabam."]}
    )
    out = triplet_diagnostics(frame, positive_language="eng_Latn", negative_language="hau_Latn")
    assert out["dice_anchor_positive"] == 1.0
    assert 0.0 < out["dice_anchor_negative"] < 1.0
    assert out["code_switch_rate_positive"] == 1.0  # Hausa copied where English was requested
    assert out["failure_rate_positive"] == out["failure_rate_negative"] == 0.0


def test_triplet_diagnostics_missing_column() -> None:
    frame = pl.DataFrame({"anchor": ["a"], "positive": ["b"]})
    with pytest.raises(ValueError, match="negative"):
        triplet_diagnostics(frame, positive_language="eng_Latn", negative_language="eng_Latn")


@pytest.mark.integration
@pytest.mark.parametrize("language", ["hau_Latn", "afr_Latn", "mar_Deva", "eng_Latn"])
def test_langid_accuracy_on_flores_dev(data_root: Path, language: str) -> None:
    path = data_root / "flores200" / "dev" / f"{language}.dev"
    if not path.is_file():
        pytest.skip(f"{path} not found in the data mirror")
    lines = path.read_text(encoding="utf-8").splitlines()[:50]
    assert len(lines) == 50
    correct = sum(code == language for code, _ in detect_languages(lines))
    assert correct / 50 >= 0.9, f"{language}: {correct}/50 detected correctly"
    assert code_switching_rate(lines, language)["rate"] <= 0.1
