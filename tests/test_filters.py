"""Each step of the filter chain (bootembed.filters) on hand-written Hausa, Afrikaans and English triplets: it drops
what it should and keeps what it should. The language step runs the real packaged CLD3; the consistency step a
stand-in encoder whose vectors are set by hand; the mining step a tiny random-init sentence-transformers model."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pydantic
import pytest
from helpers import build_tiny_encoder, default_section, torch_threads

from bootembed.config import ConfigError, params_from_dict
from bootembed.filters import FILTERS
from bootembed.filters.base import FilterContext, Rows
from bootembed.filters.structure import is_truncated, repeated_share

HAU, AFR, ENG = "hau_Latn", "afr_Latn", "eng_Latn"


class KeyedEncoder:
    """A stand-in for ``SentenceTransformer.encode``: vectors from ``table`` (normalised), else a seeded random one
    per text (so every text has a fixed vector)."""

    def __init__(self, table: Mapping[str, Sequence[float]] | None = None, dim: int = 3) -> None:
        self.table = {k: np.asarray(v, dtype=float) for k, v in (table or {}).items()}
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        if text in self.table:
            v = self.table[text]
        else:
            v = np.random.default_rng(zlib.crc32(text.encode("utf-8"))).normal(size=self.dim)
        return v / np.linalg.norm(v)

    def encode(self, texts: Sequence[str], **_: object) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)


def _section(step: str, **overrides: object):  # noqa: ANN202 - the step's params section
    return default_section(f"filter.{step}", **overrides)


def _rows(triplets: Sequence[tuple[str, str, str | tuple[str, ...]]]) -> Rows:
    return Rows(
        anchor=tuple(a for a, _, _ in triplets),
        positive=tuple(p for _, p, _ in triplets),
        negatives=tuple((n,) if isinstance(n, str) else tuple(n) for _, _, n in triplets),
    )


def _apply(step: str, triplets, context: FilterContext | None = None, **overrides: object):  # noqa: ANN001, ANN202
    context = context or FilterContext(language=HAU, output_language=HAU)
    return FILTERS.get(step).apply(_rows(triplets), _section(step, **overrides), context)


def test_registry_declares_the_chain_order() -> None:
    assert [f.name for f in FILTERS.ordered()] == [
        "structure",
        "copying",
        "language",
        "duplicates",
        "negatives",
        "consistency",
        "judge",
    ]
    reasons = [r for f in FILTERS.ordered() for r in f.reasons]
    assert len(reasons) == len(set(reasons))  # one owner per reason


# --- structure ------------------------------------------------------------------------------------------------------


def test_structure_drops_truncated_short_long_and_repetitive_outputs() -> None:
    anchor = "Yara suna wasa a filin makaranta da safe."
    triplets = [
        (anchor, "Yara suna wasa a waje.", "Babu yaro da yake wasa a yau."),  # kept (Hausa)
        (
            "Die kinders speel op die skoolgrond.",
            "Die kinders speel buite in die son.",
            "Geen kind speel vandag nie.",
        ),  # kept (Afrikaans)
        (anchor, "The children are playing outside.", 'He said: "Nobody is playing."'),  # kept
        (anchor, "Yara suna wasa a", "Babu yaro da yake wasa a yau."),  # truncated (Hausa, cut off)
        (
            anchor,
            "Yara suna wasa a waje.",
            "Geen kind speel vandag",
        ),  # truncated (Afrikaans negative)
        (anchor, "Yes.", "Babu yaro da yake wasa a yau."),  # too_short (one word)
        (
            anchor,
            " ".join(["yara"] * 3 + [f"w{i}" for i in range(70)]) + ".",
            "Babu yaro.",
        ),  # too_long
        (
            anchor,
            "wani wani wani wani wani.",
            "Babu yaro da yake wasa a yau.",
        ),  # repetitive (Hausa)
        (anchor, "Yara suna wasa a waje.", "baie baie baie baie."),  # repetitive (Afrikaans)
        (
            anchor,
            "The the the children the the the children.",
            "No child is playing.",
        ),  # repetitive
    ]
    result = _apply("structure", triplets)
    assert result.reasons == [
        None,
        None,
        None,
        "truncated",
        "truncated",
        "too_short",
        "too_long",
        "repetitive",
        "repetitive",
        "repetitive",
    ]
    # each bound is honoured: lenient settings keep them all
    lenient = _apply(
        "structure",
        triplets,
        min_words=1,
        min_chars=1,
        max_words=1000,
        detect_truncation=False,
        max_repeated_ngram_share=1.0,
    )
    assert lenient.reasons == [None] * len(triplets)


def test_truncation_reads_the_raw_generation() -> None:
    """A SICK-style hypothesis without a period is complete when its generation stopped at a newline."""
    anchor = "Yara suna wasa a filin makaranta da safe."
    rows = Rows(
        anchor=(anchor, anchor, anchor),
        positive=("A man is playing the flute", "Yara suna wasa a", "Die kinders speel buite"),
        negatives=(("Nobody is playing music",), ("Babu yaro.",), ("Geen kind speel nie.",)),
        positive_raw=(
            " A man is playing the flute\n",
            " Yara suna wasa a",
            " Die kinders speel buite",
        ),
        negative_raw=(" Nobody is playing music\n\n", " Babu yaro.\n", None),
    )
    context = FilterContext(language=HAU, output_language=HAU)
    step, section = FILTERS.get("structure"), _section("structure")
    assert step.apply(rows, section, context).reasons == [None, "truncated", "truncated"]
    without_raw = Rows(rows.anchor, rows.positive, rows.negatives)
    assert step.apply(without_raw, section, context).reasons == ["truncated"] * 3
    off = _section("structure", detect_truncation=False)
    assert step.apply(without_raw, off, context).reasons == [None] * 3


def test_truncation_and_repetition_rules() -> None:
    assert not is_truncated("Ina son ruwa.")
    assert not is_truncated("Hy het gesê: “Ja!”")
    assert not is_truncated("मला पुस्तके आवडतात।")  # Devanagari danda
    assert is_truncated("Ina son ruwa")
    assert is_truncated("(Ek hou van")
    assert repeated_share("wani abu wani abu wani abu", 2) == pytest.approx(3 / 5)
    assert repeated_share("wani wani wani wani", 2) == 1.0  # one word throughout
    assert repeated_share("yes yes", 2) == 1.0  # one word said twice
    assert repeated_share("Ina son ruwa, ina son abinci.", 2) == pytest.approx(1 / 5)
    assert repeated_share("A man is playing a guitar.", 2) == 0.0


def test_repetition_rule_spares_flores_dev(data_root: Path) -> None:
    """The default repetition rule drops no human-written FLORES-200 dev sentence of hau / afr / eng."""
    section = _section("structure")
    for lang in (HAU, AFR, ENG):
        lines = (data_root / "flores200" / "dev" / f"{lang}.dev").read_text().splitlines()
        shares = [repeated_share(t, section.repetition_ngram) for t in lines]
        assert max(shares) <= section.max_repeated_ngram_share, lang


# --- copying --------------------------------------------------------------------------------------------------------


def test_copying_drops_copies_with_the_shared_normaliser() -> None:
    hau = "Mutumin yana karanta littafi a gida."
    afr = "Die man lees 'n boek by die huis."
    triplets = [
        (
            hau,
            "Mutum yana karatu.",
            "Mutumin yana barci a kasuwa.",
        ),  # kept: one-word change is a hard neg
        (afr, "Die man lees.", "Die man slaap by die mark."),  # kept
        (
            hau,
            "mutumin YANA karanta littafi a gida",
            "Mutumin yana barci.",
        ),  # copy: case + punctuation
        (afr, "Die man lees 'n boek by die huis!", "Die man slaap."),  # copy: punctuation only
        (
            hau,
            "Mutum yana karatu.",
            "Mutumin yana karanta littafi a gidan.",
        ),  # near-copy (Dice 0.83)
        ("A man reads a book at home.", "A man reads.", "A man reads."),  # positive = negative
        ("A man reads a book at home.", "A man reads!", "a man READS"),  # = after normalising
    ]
    result = _apply("copying", triplets, max_anchor_overlap=0.8)
    assert result.reasons == [
        None,
        None,
        "copy_of_anchor",
        "copy_of_anchor",
        "copy_of_anchor",
        "positive_equals_negative",
        "positive_equals_negative",
    ]
    exact_only = _apply("copying", triplets, max_anchor_overlap=1.0)
    assert exact_only.reasons[4] is None and exact_only.reasons[2] == "copy_of_anchor"


def test_augmentation_uses_the_same_normaliser() -> None:
    """XL-LoRA augmentation drops a hypothesis that copies its English premise under the filter's normaliser."""
    from bootembed.augment import augmentation_examples

    pairs = pl.DataFrame(
        {"source_index": [1], "premise": ["Ina son ruwa."], "english": ["I like water."]}
    )
    generated = pl.DataFrame(
        {"anchor_id": [1], "positive": ["i LIKE water"], "negative": ["I hate water."]}
    )
    _, counts = augmentation_examples(pairs, generated)
    assert counts["positive"]["copy_of_premise"] == 1 and counts["negative"]["kept"] == 1


# --- language -------------------------------------------------------------------------------------------------------


def test_language_drops_outputs_in_another_language() -> None:
    hau_anchor = "Yara suna wasa a filin makaranta da safe."
    triplets = [
        (hau_anchor, "Yara suna wasa a waje.", "Babu yaro da yake wasa a yau."),  # Hausa: kept
        (hau_anchor, "The children are playing outside.", "No child is playing today."),  # English
        (hau_anchor, "Yara suna wasa a waje.", "Geen kind speel vandag nie."),  # Afrikaans negative
        (
            hau_anchor,
            "Mutum yana karatu a gida.",
            "Babu yaro da yake wasa a yau.",
        ),  # CLD3: Corsican, p 0.71
        (
            hau_anchor,
            "Yara 12 da 13.",
            "Babu yaro da yake wasa a yau.",
        ),  # short: undetermined or unsure
    ]
    result = _apply("language", triplets)
    assert result.reasons == [None, "wrong_language", "wrong_language", None, None]


def test_language_follows_the_strategy_output_language() -> None:
    afr = "Die kinders speel op die skoolgrond."
    triplets = [
        (afr, "Die kinders speel buite in die son.", "Geen kind speel vandag nie."),
        (afr, "The children are playing outside.", "No child is playing today."),
    ]
    afrikaans = FilterContext(language=AFR, output_language=AFR)
    assert _apply("language", triplets, afrikaans).reasons == [None, "wrong_language"]
    xllora = FilterContext(language=AFR, output_language=ENG)  # XL-LoRA writes English
    assert _apply("language", triplets, xllora).reasons == ["wrong_language", None]
    # the anchor is checked only when listed
    english_anchor = [("The children are playing outside.", *triplets[0][1:])]
    assert _apply("language", english_anchor, afrikaans).reasons == [None]
    checked = _apply("language", english_anchor, afrikaans, fields=["anchor", "positive"])
    assert checked.reasons == ["wrong_language"]


# --- duplicates -----------------------------------------------------------------------------------------------------


def test_duplicates_exact_and_near() -> None:
    a1 = "Gwamnati ta sanar da sababbin matakai don tallafa wa manoma a wannan shekara."
    a2 = "Die regering het nuwe maatreëls aangekondig om boere te ondersteun."
    triplets = [
        (a1, "Gwamnati ta taimaka wa manoma.", "Gwamnati ba ta yi komai ba."),  # kept (first)
        (a2, "Die regering help boere.", "Die regering doen niks."),  # kept (another)
        (
            a1.upper(),
            "gwamnati ta taimaka wa manoma",
            "Gwamnati ba ta yi komai ba!",
        ),  # exact (normalised)
        (
            a1.replace("wannan", "wancan"),
            "Gwamnati ta taimaka wa manoma.",
            "Gwamnati ba ta yi komai ba.",
        ),
        (a2, "Die regering help boere.", "Die regering doen fokol."),  # near (one word)
        (
            "Mutumin yana karanta littafi a gida.",
            "Mutum yana karatu.",
            "Mutumin yana barci.",
        ),  # kept
    ]
    result = _apply("duplicates", triplets)
    assert result.reasons == [None, None, "duplicate", "near_duplicate", "near_duplicate", None]
    exact_only = _apply("duplicates", triplets, near_threshold=None)
    assert exact_only.reasons == [None, None, "duplicate", None, None, None]
    with pytest.raises(pydantic.ValidationError, match="near_threshold: datasketch cannot index"):
        _section("duplicates", near_threshold=0.99, num_perm=16)
    # fields [positive, negative]: one generated pair repeated for different anchors is a duplicate
    repeated = [
        (a1, "A man is playing a guitar.", "Nobody is playing."),
        (a2, "A man is playing a guitar.", "Nobody is playing."),
    ]
    assert _apply("duplicates", repeated).reasons == [None, None]
    by_outputs = _apply("duplicates", repeated, fields=["positive", "negative"])
    assert by_outputs.reasons == [None, "duplicate"]


def test_duplicates_are_seeded() -> None:
    base = "Gwamnati ta sanar da sababbin matakai don tallafa wa manoma a wannan shekara"
    triplets = [(f"{base} {i}.", "Gwamnati ta taimaka.", "Babu taimako.") for i in range(12)]
    for seed in (0, 1):
        context = FilterContext(language=HAU, output_language=HAU, seed=seed)
        assert _apply("duplicates", triplets, context).reasons == [None] + ["near_duplicate"] * 11


# --- consistency ----------------------------------------------------------------------------------------------------


def test_consistency_keeps_positives_closer_than_negatives() -> None:
    anchor = "Mace tana dafa abinci a kicin."
    table = {
        anchor: [1.0, 0.0, 0.0],
        "Mace tana girki.": [0.9, 0.3, 0.0],  # close to the anchor
        "Babu wanda yake girki a gidan nan.": [0.2, 1.0, 0.0],  # far
        "Mace tana girki a gida.": [0.95, 0.25, 0.0],  # about as close as the positive
    }
    context = FilterContext(language=HAU, output_language=HAU, encoder=KeyedEncoder(table))
    triplets = [
        (anchor, "Mace tana girki.", "Babu wanda yake girki a gidan nan."),  # kept
        (anchor, "Babu wanda yake girki a gidan nan.", "Mace tana girki."),  # swapped: inconsistent
        (
            anchor,
            "Mace tana girki.",
            ("Babu wanda yake girki a gidan nan.", "Mace tana girki a gida."),
        ),
    ]
    result = _apply("consistency", triplets, context, margin=0.0)
    assert result.reasons == [None, "inconsistent", None]
    # the negative the positive does not beat is removed from a row that keeps another
    assert result.negatives[2] == ("Babu wanda yake girki a gidan nan.",)
    # a margin larger than the gap drops the row
    gap = float(np.dot([1, 0, 0], [0.9, 0.3, 0]) / np.linalg.norm([0.9, 0.3, 0])) - float(
        np.dot([1, 0, 0], [0.2, 1.0, 0]) / np.linalg.norm([0.2, 1.0, 0])
    )
    assert _apply("consistency", triplets[:1], context, margin=gap - 0.01).reasons == [None]
    assert _apply("consistency", triplets[:1], context, margin=gap + 0.01).reasons == [
        "inconsistent"
    ]


def test_steps_that_embed_need_the_encoder() -> None:
    with pytest.raises(ValueError, match=r"filter\.consistency: needs the base encoder"):
        _apply("consistency", [("a b.", "c d.", "e f.")], margin=0.0)


# --- negatives (mining) ---------------------------------------------------------------------------------------------

MINING_WORDS = (
    "yara suna wasa a waje filin makaranta babu yaro da yake mace tana girki dafa abinci kicin wanda "
    "mutumin mutum yana karanta karatu littafi gida barci kasuwa gwamnati ta taimaka manoma ba yi komai ."
).split()


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - SentenceTransformer
    from sentence_transformers import SentenceTransformer

    path = build_tiny_encoder(tmp_path_factory.mktemp("tiny_enc"), ["query", ":", *MINING_WORDS])
    with torch_threads(1):
        yield SentenceTransformer(str(path), device="cpu")


MINING_ROWS = [
    ("Yara suna wasa a filin makaranta.", "Yara suna wasa a waje.", "Babu yaro da yake wasa."),
    ("Mace tana dafa abinci a kicin.", "Mace tana girki.", "Babu wanda yake girki."),
    ("Mutumin yana karanta littafi a gida.", "Mutum yana karatu.", "Mutumin yana barci a kasuwa."),
    ("Gwamnati ta taimaka wa manoma.", "Gwamnati ta taimaka.", "Gwamnati ba ta yi komai ba."),
]


def _brute_force(model, anchor: str, positive: str, corpus: list[str], margin: float) -> str | None:  # noqa: ANN001
    emb = model.encode([anchor, positive, *corpus], prompt="query: ", normalize_embeddings=True)
    pos = float(emb[0] @ emb[1])
    best, best_score = None, -np.inf
    for text, vector in zip(corpus, emb[2:], strict=True):
        score = float(emb[0] @ vector)
        if text != positive and score <= pos - abs(pos) * margin and score > best_score:
            best, best_score = text, score
    return best


def test_negatives_step_mines_like_brute_force(tiny_encoder) -> None:  # noqa: ANN001
    mining = default_section("mining")  # TopK-PercPos 95 %: relative_margin 0.05, top, 1 negative
    context = FilterContext(
        language=HAU, output_language=HAU, encoder=tiny_encoder, prompt="query: ", mining=mining
    )
    corpus = list(dict.fromkeys([t for _, p, n in MINING_ROWS for t in (p, n)]))
    replaced = _apply("negatives", MINING_ROWS, context, enabled=True, keep_generated=False)
    for (anchor, positive, _), reason, negatives in zip(
        MINING_ROWS, replaced.reasons, replaced.negatives, strict=True
    ):
        expected = _brute_force(tiny_encoder, anchor, positive, corpus, 0.05)
        if expected is None:
            assert reason == "no_mined_negative"
        else:
            assert reason is None and negatives == (expected,)
    assert any(r is None for r in replaced.reasons)
    complement = _apply("negatives", MINING_ROWS, context, enabled=True, keep_generated=True)
    assert complement.reasons == [None] * len(MINING_ROWS)  # the generated negative stays
    for (_, _, generated), negatives, mined in zip(
        MINING_ROWS, complement.negatives, replaced.negatives, strict=True
    ):
        assert negatives[0] == generated
        assert set(negatives[1:]) <= set(mined) - {generated}


def test_judge_stub_cannot_be_enabled() -> None:
    with pytest.raises(pydantic.ValidationError, match="judge is not implemented"):
        _section("judge", enabled=True)
    from conftest import default_params_dict

    raw = default_params_dict(filter={"judge": {"enabled": True}})
    with pytest.raises(ConfigError, match=r"^params\.yaml: filter\.judge: enabled: expected false"):
        params_from_dict(raw, source="params.yaml")
