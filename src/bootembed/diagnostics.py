"""Data diagnostics of synthetic triplets, per generation strategy.

Follows the data-diagnostics section of "Bootstrapping Embeddings for Low Resource Languages"
(Basoz, Horne, Opper, arXiv 2603.01732), which characterises each strategy's synthetic data by

* **lexical overlap** between the anchor and its positive / hard negative, measured as the Dice
  coefficient of their word sets (high overlap means the generator copies the anchor);
* **code-switching**: how often an output is not in the language that was requested;

and, for our pipeline, the **generation failure rate** (outputs that could not be parsed, stored as
null by the ``synthesize`` stage).

Language identification uses Google's CLD3 network as shipped inside the ``cld3-py`` wheel (import
name ``gcld3``): the model weights are compiled into the extension, so nothing is downloaded at run
time. CLD3 has 109 output classes (103 languages, 6 of them also romanised), among them Hausa
(``ha``), Afrikaans (``af``), Marathi (``mr``) and English (``en``). Its codes (ISO 639-1 /
BCP-47) are mapped here to FLORES-200 codes (ISO 639-3 + ISO 15924 script, e.g. ``hau_Latn``),
using the FLORES individual-language code where FLORES uses one for a macrolanguage
(Malay -> ``zsm_Latn``, Swahili -> ``swh_Latn``, ...).

A text counts as code-switched only when CLD3 gives another language with probability at least
``SUPPORTED_MIN_CONFIDENCE`` (0.7): on very short texts CLD3 makes low-confidence mistakes
(2.4 % of SICK English sentences are not detected as English, 0.7 % with p >= 0.7). Requested
languages that CLD3 does not know (``langid_supports`` is False, e.g. ``wol_Latn``) cannot be
recognised, so for them only detections with probability >= ``UNSUPPORTED_MIN_CONFIDENCE`` (0.99)
count; the rate is then a rough lower bound and is reported with ``supported = 0.0``. On FLORES-200
dev (997 sentences) this rule flags 2-7 % of genuine Wolof / Kinyarwanda / Luganda / Bambara
sentences (72 % of Tswana, which CLD3 takes for Sotho) and 91 % of English sentences.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Sequence
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from bootembed.text import dice

__all__ = [
    "LANGID_MODEL",
    "SUPPORTED_MIN_CONFIDENCE",
    "UNSUPPORTED_MIN_CONFIDENCE",
    "code_switching_rate",
    "cutoff",
    "detect_languages",
    "is_other_language",
    "langid_supports",
    "triplet_diagnostics",
]

logger = logging.getLogger(__name__)

_PACKAGE = "cld3-py"


def _package_version() -> str:
    try:
        return importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - depends on the env
        return "not-installed"


LANGID_MODEL: str = f"{_PACKAGE}=={_package_version()}"
"""The language-ID model used, as ``<package>==<version>``, for recording in metrics."""

SUPPORTED_MIN_CONFIDENCE = 0.7
"""Minimum CLD3 probability for calling a text code-switched (CLD3's own reliability cut-off)."""

UNSUPPORTED_MIN_CONFIDENCE = 0.99
"""The same when the requested language is unknown to CLD3."""

_MAX_BYTES = 1000  # CLD3 looks at most at this many bytes of each text

# CLD3 output code -> FLORES-200 code (ISO 639-3 + script).
_CLD3_TO_FLORES: dict[str, str] = {
    "af": "afr_Latn",
    "am": "amh_Ethi",
    "ar": "arb_Arab",
    "az": "azj_Latn",
    "be": "bel_Cyrl",
    "bg": "bul_Cyrl",
    "bg-Latn": "bul_Latn",
    "bn": "ben_Beng",
    "bs": "bos_Latn",
    "ca": "cat_Latn",
    "ceb": "ceb_Latn",
    "co": "cos_Latn",
    "cs": "ces_Latn",
    "cy": "cym_Latn",
    "da": "dan_Latn",
    "de": "deu_Latn",
    "el": "ell_Grek",
    "el-Latn": "ell_Latn",
    "en": "eng_Latn",
    "eo": "epo_Latn",
    "es": "spa_Latn",
    "et": "est_Latn",
    "eu": "eus_Latn",
    "fa": "pes_Arab",
    "fi": "fin_Latn",
    "fil": "tgl_Latn",
    "fr": "fra_Latn",
    "fy": "fry_Latn",
    "ga": "gle_Latn",
    "gd": "gla_Latn",
    "gl": "glg_Latn",
    "gu": "guj_Gujr",
    "ha": "hau_Latn",
    "haw": "haw_Latn",
    "hi": "hin_Deva",
    "hi-Latn": "hin_Latn",
    "hmn": "hmn_Latn",
    "hr": "hrv_Latn",
    "ht": "hat_Latn",
    "hu": "hun_Latn",
    "hy": "hye_Armn",
    "id": "ind_Latn",
    "ig": "ibo_Latn",
    "is": "isl_Latn",
    "it": "ita_Latn",
    "iw": "heb_Hebr",
    "ja": "jpn_Jpan",
    "ja-Latn": "jpn_Latn",
    "jv": "jav_Latn",
    "ka": "kat_Geor",
    "kk": "kaz_Cyrl",
    "km": "khm_Khmr",
    "kn": "kan_Knda",
    "ko": "kor_Hang",
    "ku": "kmr_Latn",
    "ky": "kir_Cyrl",
    "la": "lat_Latn",
    "lb": "ltz_Latn",
    "lo": "lao_Laoo",
    "lt": "lit_Latn",
    "lv": "lvs_Latn",
    "mg": "plt_Latn",
    "mi": "mri_Latn",
    "mk": "mkd_Cyrl",
    "ml": "mal_Mlym",
    "mn": "khk_Cyrl",
    "mr": "mar_Deva",
    "ms": "zsm_Latn",
    "mt": "mlt_Latn",
    "my": "mya_Mymr",
    "ne": "npi_Deva",
    "nl": "nld_Latn",
    "no": "nob_Latn",
    "ny": "nya_Latn",
    "pa": "pan_Guru",
    "pl": "pol_Latn",
    "ps": "pbt_Arab",
    "pt": "por_Latn",
    "ro": "ron_Latn",
    "ru": "rus_Cyrl",
    "ru-Latn": "rus_Latn",
    "sd": "snd_Arab",
    "si": "sin_Sinh",
    "sk": "slk_Latn",
    "sl": "slv_Latn",
    "sm": "smo_Latn",
    "sn": "sna_Latn",
    "so": "som_Latn",
    "sq": "als_Latn",
    "sr": "srp_Cyrl",
    "st": "sot_Latn",
    "su": "sun_Latn",
    "sv": "swe_Latn",
    "sw": "swh_Latn",
    "ta": "tam_Taml",
    "te": "tel_Telu",
    "tg": "tgk_Cyrl",
    "th": "tha_Thai",
    "tr": "tur_Latn",
    "uk": "ukr_Cyrl",
    "ur": "urd_Arab",
    "uz": "uzn_Latn",
    "vi": "vie_Latn",
    "xh": "xho_Latn",
    "yi": "ydd_Hebr",
    "yo": "yor_Latn",
    "zh": "zho_Hans",
    "zh-Latn": "zho_Latn",
    "zu": "zul_Latn",
}
_SUPPORTED_ISO3 = frozenset(code.split("_")[0] for code in _CLD3_TO_FLORES.values())

_REQUIRED_COLUMNS = ("anchor", "positive", "negative")


@functools.cache
def _detector() -> Any:  # noqa: ANN401 - gcld3.NNetLanguageIdentifier (untyped extension)
    """Load the CLD3 network once (the weights are compiled into the ``gcld3`` extension)."""
    try:
        import gcld3
    except ImportError as err:  # pragma: no cover - depends on the env
        raise ImportError(
            f"language identification needs the {_PACKAGE} package (import name gcld3): "
            f"pip install {_PACKAGE}"
        ) from err
    logger.debug("loaded CLD3 language identifier (%s)", LANGID_MODEL)
    return gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=_MAX_BYTES)


def _iso3(flores_code: str) -> str:
    """The ISO 639-3 part of a FLORES-200 code (``"hau_Latn"`` -> ``"hau"``), lower-cased."""
    if not isinstance(flores_code, str) or not flores_code.strip():
        raise ValueError(
            f"expected a FLORES-200 language code such as 'hau_Latn', got {flores_code!r}"
        )
    return flores_code.strip().split("_")[0].lower()


def langid_supports(flores_code: str) -> bool:
    """Whether the packaged language-ID model (CLD3) can recognise a language.

    Args:
        flores_code: FLORES-200 code (``"hau_Latn"``) or bare ISO 639-3 code (``"hau"``); only the
            ISO 639-3 part is checked.

    Returns:
        True when CLD3 has an output class for that language.

    Raises:
        ValueError: if ``flores_code`` is empty or not a string.

    Example:
        >>> langid_supports("hau_Latn"), langid_supports("wol_Latn")
        (True, False)
    """
    return _iso3(flores_code) in _SUPPORTED_ISO3


def detect_languages(texts: Sequence[str | None]) -> list[tuple[str | None, float]]:
    """Identify the language of each text with CLD3 (Google's Compact Language Detector v3).

    Used for the code-switching diagnostic of arXiv 2603.01732 (data-diagnostics section).

    Args:
        texts: N texts; None or blank entries are allowed.

    Returns:
        N pairs ``(code, probability)``: ``code`` is a FLORES-200-style code (``"hau_Latn"``,
        ``"eng_Latn"``; CLD3's romanised variants become e.g. ``"hin_Latn"``), ``probability`` the
        model's confidence in [0, 1]. ``(None, 0.0)`` for None or blank texts and for texts CLD3
        leaves undetermined (e.g. only digits or punctuation).

    Example:
        >>> detect_languages(["Ina son karanta littattafai a kowace rana.", None])[1]
        (None, 0.0)
    """
    detector = _detector()
    out: list[tuple[str | None, float]] = []
    for text in tqdm(texts, desc="langid", disable=len(texts) < 5000, leave=False):
        if text is None or not text.strip():
            out.append((None, 0.0))
            continue
        if not any(ch.isalpha() for ch in text):
            # CLD3 answers confidently even for digits / punctuation: treat as undetermined.
            out.append((None, 0.0))
            continue
        result = detector.FindLanguage(text=text)
        if result.language == "und":
            out.append((None, 0.0))
            continue
        # A code missing from the table is kept as CLD3 gives it: it still differs from any
        # FLORES code, so it counts as another language.
        code = _CLD3_TO_FLORES.get(result.language, result.language)
        out.append((code, float(min(max(result.probability, 0.0), 1.0))))
    return out


def code_switching_rate(
    texts: Sequence[str | None],
    expected: str,
    *,
    min_confidence: float | None = None,
) -> dict[str, float]:
    """Share of outputs that are not in the requested language (code-switching).

    Diagnostic of arXiv 2603.01732 (data-diagnostics section, code-switching). Languages are
    compared on their ISO 639-3 part, so the script is ignored (``hin_Latn`` counts as Hindi).

    A counted text is code-switched when CLD3 assigns it to another language with probability
    >= ``min_confidence``; less confident guesses count as no evidence of switching (CLD3 is
    noisy on very short texts: it labels some short English sentences Hawaiian with p ~ 0.6).
    The default is ``SUPPORTED_MIN_CONFIDENCE`` (0.7, CLD3's own reliability cut-off) when CLD3
    knows ``expected`` and ``UNSUPPORTED_MIN_CONFIDENCE`` (0.99) when it does not
    (``supported == 0.0``): text in an unknown language is always mapped onto some known language,
    so only near-certain detections count and the rate is a rough lower bound.

    Args:
        texts: N generated texts; None, blank and undetermined texts are skipped.
        expected: FLORES-200 code of the requested language (``"hau_Latn"``, ``"eng_Latn"``).
        min_confidence: override of the confidence cut-off, in [0, 1].

    Returns:
        ``{"rate": share of counted texts in another language (0.0 when none is counted),
        "n": number of counted texts (non-null, non-blank, language determined),
        "supported": 1.0 if CLD3 knows ``expected`` else 0.0}``; rate rounded to 4 decimals.

    Raises:
        ValueError: if ``expected`` is not a language code or ``min_confidence`` is outside [0, 1].

    Example:
        >>> code_switching_rate(["I like to read a good book every evening.", None], "eng_Latn")
        {'rate': 0.0, 'n': 1, 'supported': 1.0}
    """
    supported = langid_supports(expected)
    cutoff(expected, min_confidence)  # validates both arguments, even for no texts
    switched = counted = 0
    for code, prob in detect_languages(texts):
        if code is None:
            continue
        counted += 1
        if is_other_language(code, prob, expected, min_confidence=min_confidence):
            switched += 1
    rate = round(switched / counted, 4) if counted else 0.0
    return {"rate": rate, "n": counted, "supported": 1.0 if supported else 0.0}


def cutoff(expected: str, min_confidence: float | None = None) -> float:
    """The CLD3 probability from which a detection of another language than ``expected`` counts.

    ``min_confidence`` (default :data:`SUPPORTED_MIN_CONFIDENCE`) when CLD3 knows ``expected``; otherwise at least
    :data:`UNSUPPORTED_MIN_CONFIDENCE` (text in an unknown language is always mapped onto some known one).

    Raises:
        ValueError: ``expected`` is not a language code, or ``min_confidence`` is outside [0, 1].
    """
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    chosen = SUPPORTED_MIN_CONFIDENCE if min_confidence is None else min_confidence
    return chosen if langid_supports(expected) else max(chosen, UNSUPPORTED_MIN_CONFIDENCE)


def is_other_language(
    code: str | None, probability: float, expected: str, *, min_confidence: float | None = None
) -> bool:
    """Whether one detection (:func:`detect_languages`) is evidence that a text is not in ``expected``.

    True when CLD3 determined a language whose ISO 639-3 part differs from ``expected``'s with probability at least
    :func:`cutoff` (``min_confidence`` for a language CLD3 knows, >= 0.99 for one it does not). An undetermined text
    (``code`` None) is no evidence.

    Raises:
        ValueError: ``expected`` is not a language code, or ``min_confidence`` is outside [0, 1].

    Example:
        >>> is_other_language("eng_Latn", 0.95, "hau_Latn"), is_other_language("eng_Latn", 0.5, "hau_Latn")
        (True, False)
    """
    limit = cutoff(expected, min_confidence)
    if code is None:
        return False
    return code.split("_")[0] != _iso3(expected) and probability >= limit


def _mean_dice(anchors: Sequence[str | None], others: Sequence[str | None]) -> float:
    scores = [
        dice(a, o) for a, o in zip(anchors, others, strict=True) if a is not None and o is not None
    ]
    return round(sum(scores) / len(scores), 4) if scores else 0.0


def triplet_diagnostics(
    frame: pl.DataFrame, *, positive_language: str, negative_language: str
) -> dict[str, float]:
    """Per-strategy data diagnostics of a frame of synthetic triplets.

    Implements the diagnostics of arXiv 2603.01732 (data-diagnostics section): lexical overlap
    between anchor and positive / negative as the mean Dice coefficient of word sets
    (``bootembed.filtering.dice``), and the code-switching rate of positives / negatives measured
    with CLD3; plus the share of failed (null) generations.

    Args:
        frame: N rows with string columns ``anchor``, ``positive``, ``negative``; ``positive`` and
            ``negative`` are null where the generation could not be parsed.
        positive_language: FLORES-200 code requested for the positives (e.g. ``"eng_Latn"``).
        negative_language: FLORES-200 code requested for the negatives.

    Returns:
        ``rows`` (N), ``failure_rate_positive`` / ``failure_rate_negative`` (share of null
        outputs), ``dice_anchor_positive`` / ``dice_anchor_negative`` (mean Dice in [0, 1] over
        rows whose anchor and output are non-null; 0.0 if none), ``code_switch_rate_positive`` /
        ``code_switch_rate_negative`` (see ``code_switching_rate``), ``langid_supported_positive`` /
        ``langid_supported_negative`` (1.0 / 0.0). Rates and means are rounded to 4 decimals.

    Raises:
        ValueError: if a required column is missing (the message names it) or a language code is
            not a string.

    Example:
        >>> frame = pl.DataFrame({"anchor": ["a b"], "positive": ["a c"], "negative": [None]})
        >>> triplet_diagnostics(frame, positive_language="eng_Latn", negative_language="eng_Latn")[
        ...     "failure_rate_negative"
        ... ]
        1.0
    """
    missing = [c for c in _REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"triplet frame is missing column(s) {missing}; expected columns "
            f"{list(_REQUIRED_COLUMNS)}, got {frame.columns}"
        )
    rows = frame.height
    anchors = frame["anchor"].to_list()
    outputs = {side: frame[side].to_list() for side in ("positive", "negative")}
    switching = {
        "positive": code_switching_rate(outputs["positive"], positive_language),
        "negative": code_switching_rate(outputs["negative"], negative_language),
    }
    result: dict[str, float] = {"rows": rows}
    for side in ("positive", "negative"):
        nulls = sum(o is None for o in outputs[side])
        result[f"failure_rate_{side}"] = round(nulls / rows, 4) if rows else 0.0
    for side in ("positive", "negative"):
        result[f"dice_anchor_{side}"] = _mean_dice(anchors, outputs[side])
    for side in ("positive", "negative"):
        result[f"code_switch_rate_{side}"] = switching[side]["rate"]
    for side in ("positive", "negative"):
        result[f"langid_supported_{side}"] = switching[side]["supported"]
    logger.info("triplet diagnostics (%s): %s", LANGID_MODEL, result)
    return result
