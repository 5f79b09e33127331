"""Tests for the evaluation-set contamination guard (bootembed.data.contamination)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bootembed.data import (
    ContaminationError,
    ContaminationGuard,
    DataSourceConfig,
    DataSources,
    load_flores,
    load_semrel,
    load_sib200,
    load_tatoeba,
    normalize_sentence,
    sib_flores_position,
)
from bootembed.data.contamination import normalize_sentence as contamination_normalize
from bootembed.text import normalize_sentence as text_normalize

logger = logging.getLogger(__name__)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")


@pytest.fixture
def toy_sources(tmp_path: Path) -> DataSources:
    """Synthetic mirror: hau_Latn + eng_Latn FLORES/SIB, hau SemRel test, ara Tatoeba."""
    for lang in ("hau_Latn", "eng_Latn", "arb_Arab"):
        for split, n in (("dev", 997), ("devtest", 1012)):
            text = "".join(f"{lang} {split} {i}\n" for i in range(n))
            _write(tmp_path, f"flores200/{split}/{lang}.{split}", text)
        for split, ids in (("train", [3]), ("dev", [4, 998]), ("test", [5])):
            # SIB texts deliberately differ from the FLORES lines their ids point at, so the
            # tests can tell "SIB text blocked" from "FLORES line at index_id blocked".
            body = "".join(f"{i}\thealth\tsib {lang} {i}\n" for i in ids)
            _write(
                tmp_path,
                f"sib200/annotated/{lang}/{split}.tsv",
                "index_id\tcategory\ttext\n" + body,
            )
    _write(tmp_path, "semrel2024/hau/test.csv", 'PairID,Text,Score\np1,"Semrel A\nSemrel B",0.5\n')
    _write(tmp_path, "semrel2024/hau/train.csv", 'PairID,Text,Score\np1,"Train A\nTrain B",0.5\n')
    _write(tmp_path, "tatoeba/tatoeba.ara-eng.ara", "tatoeba ara\n")
    _write(tmp_path, "tatoeba/tatoeba.ara-eng.eng", "Tatoeba eng\n")
    return DataSources(DataSourceConfig(mode="local", root=str(tmp_path)))


def test_normalize_sentence() -> None:
    # one implementation, in bootembed.text, re-exported where it used to live
    assert normalize_sentence is text_normalize is contamination_normalize
    assert normalize_sentence("  Hello\u00a0\tWORLD \n") == "hello world"
    assert normalize_sentence("ﬁne Straße") == normalize_sentence("FINE STRASSE")  # NFKC + casefold
    assert normalize_sentence("café") == normalize_sentence("cafe\u0301")


def test_guard_blocks_evaluation_sentences(toy_sources: DataSources) -> None:
    guard = ContaminationGuard.for_language(toy_sources, "hau_Latn")
    for lang in ("hau_Latn", "eng_Latn"):
        assert guard.is_blocked(f"{lang} devtest 0")
        assert guard.is_blocked(f"{lang} devtest 1011")
        assert guard.is_blocked(f"{lang} dev 4")  # SIB dev id 4 -> FLORES dev line 4
        assert guard.is_blocked(f"{lang} dev 5")  # SIB test id 5 -> FLORES dev line 5
        assert guard.is_blocked(f"sib {lang} 998") and guard.is_blocked(f"SIB {lang} 5")
        assert not guard.is_blocked(f"{lang} dev 3")  # SIB train only: usable
        assert not guard.is_blocked(f"sib {lang} 3")
        assert not guard.is_blocked(f"{lang} dev 6")
    assert guard.is_blocked("  SEMREL   a ") and guard.is_blocked("semrel b")
    assert not guard.is_blocked("Train A")  # SemRel train is not an evaluation set
    assert not guard.is_blocked("arb_Arab devtest 0")  # other languages are not involved
    assert guard.sizes["semrel_test"] == 2
    assert "tatoeba" not in guard.sizes  # no Tatoeba set for Hausa


def test_guard_tatoeba_and_flores_only_language(toy_sources: DataSources) -> None:
    guard = ContaminationGuard.for_language(toy_sources, "arb_Arab")
    assert guard.is_blocked("Tatoeba ENG") and guard.is_blocked("tatoeba ara")
    assert guard.is_blocked("arb_Arab devtest 7") and not guard.is_blocked("Semrel A")


def test_filter_and_check(toy_sources: DataSources) -> None:
    guard = ContaminationGuard.for_language(toy_sources, "hau_Latn")
    candidates = ["hau_Latn dev 3", "HAU_LATN devtest 9", "fresh sentence", "eng_Latn dev 4"]
    kept, dropped = guard.filter(candidates)
    assert kept == ["hau_Latn dev 3", "fresh sentence"]
    assert dropped == [1, 3]
    guard.check(kept, what="anchor pool")
    with pytest.raises(ContaminationError) as err:
        guard.check(candidates, what="anchor pool")
    msg = str(err.value)
    assert "anchor pool" in msg and "2 of 4" in msg and "HAU_LATN devtest 9" in msg


def test_guard_missing_evaluation_file_is_an_error(tmp_path: Path) -> None:
    src = DataSources(DataSourceConfig(mode="local", root=str(tmp_path)))
    with pytest.raises(ValueError, match="hau_Latn"):
        ContaminationGuard.for_language(src, "hau_Latn")


# --- integration: the real mirror ----------------------------------------------------------


@pytest.mark.integration
def test_real_hau_guard(real_sources: DataSources) -> None:
    lang = "hau_Latn"
    guard = ContaminationGuard.for_language(real_sources, lang)
    eval_sentences: list[str] = []
    for code in (lang, "eng_Latn"):
        eval_sentences += load_flores(real_sources, code, "devtest")
        for split in ("dev", "test"):
            eval_sentences += [ex.text for ex in load_sib200(real_sources, code, split)]
    for pair in load_semrel(real_sources, lang, "test"):
        eval_sentences += [pair.sentence1, pair.sentence2]
    assert load_tatoeba(real_sources, lang) is None
    kept, _ = guard.filter(eval_sentences)
    assert kept == []

    # FLORES dev lines that SIB dev/test do not use stay usable, in Hausa and in English.
    sib_eval_dev_ids = {
        ex.index_id
        for split in ("dev", "test")
        for ex in load_sib200(real_sources, lang, split)
        if sib_flores_position(ex.index_id)[0] == "dev"
    }
    for code in (lang, "eng_Latn"):
        dev = load_flores(real_sources, code, "dev")
        kept, dropped = guard.filter(dev)
        assert set(dropped) == sib_eval_dev_ids
        assert len(kept) == 997 - len(sib_eval_dev_ids)
    logger.info("usable FLORES dev anchors for %s: %d of 997", lang, 997 - len(sib_eval_dev_ids))
    assert 997 - len(sib_eval_dev_ids) == 860


@pytest.mark.integration
def test_real_afr_guard_blocks_tatoeba(real_sources: DataSources) -> None:
    guard = ContaminationGuard.for_language(real_sources, "afr_Latn")
    tgt, eng = load_tatoeba(real_sources, "afr_Latn")  # type: ignore[misc]
    assert guard.filter(tgt + eng)[0] == []
    assert guard.sizes["tatoeba"] > 0 and guard.sizes["semrel_test"] > 0
