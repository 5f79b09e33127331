"""bootembed.langid: the filter's language-ID model (CLD3) measured on FLORES-200 dev; the committed numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

from bootembed.langid import LID_LANGUAGES, langid_accuracy

ENG = ["A man is playing a guitar on the street.", "The children are playing outside today."]
HAU = ["Mutumin yana kaɗa garaya a kan titi.", "Yara suna wasa a waje yau."]
AFR = ["'n Man speel kitaar op straat.", "Die kinders speel vandag buite."]


def test_rates_on_hand_written_sentences() -> None:
    result = langid_accuracy(
        {"eng_Latn": ENG, "hau_Latn": HAU, "afr_Latn": AFR}, min_confidence=0.9, short_words=3
    )
    assert result["model"].startswith("cld3-py==") and result["short_words"] == 3
    hau = result["languages"]["hau_Latn"]
    assert hau["n"] == 2 and hau["supported"] and hau["cutoff"] == 0.9
    assert hau["accuracy"] == 1.0 and hau["false_drop_rate"] == 0.0
    assert hau["english_caught"] == 1.0  # both English sentences would be dropped as not Hausa
    assert set(hau["short"]) == {"accuracy", "false_drop_rate", "english_caught"}
    assert "english_caught" not in result["languages"]["eng_Latn"]
    # an unsupported language is judged at the 0.99 cut-off
    wol = langid_accuracy({"eng_Latn": ENG, "wol_Latn": HAU}, min_confidence=0.9)
    assert wol["languages"]["wol_Latn"]["cutoff"] == 0.99
    assert wol["languages"]["wol_Latn"]["accuracy"] == 0.0
    with pytest.raises(ValueError, match="eng_Latn"):
        langid_accuracy({"hau_Latn": HAU}, min_confidence=0.9)
    with pytest.raises(ValueError, match="aligned"):
        langid_accuracy({"eng_Latn": ENG, "hau_Latn": HAU[:1]}, min_confidence=0.9)


def test_committed_measurement_is_what_the_code_measures(real_sources, default_params) -> None:  # noqa: ANN001
    """``metrics/langid/flores200_dev.json`` (the ``langid`` stage's output) recomputed from the mirror."""
    from bootembed.data.flores import load_flores

    committed = json.loads((REPO / "metrics/langid/flores200_dev.json").read_text())
    languages = list(dict.fromkeys([*LID_LANGUAGES, *default_params.languages]))
    sentences = {lang: load_flores(real_sources, lang, "dev") for lang in languages}
    fresh = langid_accuracy(sentences, min_confidence=default_params.filter.language.min_confidence)
    assert committed["languages"] == fresh["languages"]
    assert committed["min_confidence"] == default_params.filter.language.min_confidence
    for lang in ("hau_Latn", "afr_Latn", "eng_Latn"):
        entry = fresh["languages"][lang]
        assert entry["accuracy"] >= 0.99 and entry["false_drop_rate"] <= 0.01, lang
    assert Path(REPO / "dvc.yaml").read_text().count("metrics/langid/flores200_dev.json") >= 1
