"""FLORES-200 language codes and their codes in SemRel 2024 and Tatoeba.

FLORES-200 codes are ``<ISO 639-3>_<ISO 15924 script>`` (e.g. ``hau_Latn``), as in the NLLB
release (NLLB Team et al., 2022, "No Language Left Behind"). SemRel 2024 (Ousidhoum et al.,
2024) and the LASER Tatoeba test sets (Artetxe & Schwenk, 2019) use 3-letter codes, which
sometimes differ from the FLORES ISO 639-3 prefix (macrolanguages: ``arb_Arab`` is SemRel
``arb`` but Tatoeba ``ara``; Spanish is SemRel ``esp``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bootembed.data.sources import DataError

#: The 204 language/script codes of the FLORES-200 release (dev and devtest files).
FLORES200_CODES: frozenset[str] = frozenset(
    """
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn als_Latn amh_Ethi
    apc_Arab arb_Arab arb_Latn ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn
    azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva bjn_Arab
    bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn ckb_Arab
    crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn
    est_Latn eus_Latn ewe_Latn fao_Latn fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn
    gaz_Latn gla_Latn gle_Latn glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva
    hne_Deva hrv_Latn hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn
    jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor kaz_Cyrl kbp_Latn
    kea_Latn khk_Cyrl khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kmr_Latn knc_Arab knc_Latn
    kon_Latn kor_Hang lao_Laoo lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn
    lua_Latn lug_Latn luo_Latn lus_Latn lvs_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Arab
    min_Latn mkd_Cyrl mlt_Latn mni_Beng mos_Latn mri_Latn mya_Mymr nld_Latn nno_Latn nob_Latn
    npi_Deva nso_Latn nus_Latn nya_Latn oci_Latn ory_Orya pag_Latn pan_Guru pap_Latn pbt_Arab
    pes_Arab plt_Latn pol_Latn por_Latn prs_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn
    san_Deva sat_Olck scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab
    som_Latn sot_Latn spa_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn
    tam_Taml taq_Latn taq_Tfng tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi tpi_Latn
    tsn_Latn tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn
    urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn yue_Hant
    zho_Hans zho_Hant zsm_Latn zul_Latn
    """.split()
)

#: SIB-200 covers the FLORES-200 codes plus N'Ko (``nqo_Nkoo``).
SIB200_CODES: frozenset[str] = FLORES200_CODES | {"nqo_Nkoo"}

#: The 112 LASER Tatoeba v1 test sets (``tatoeba.<code>-eng.{<code>,eng}``).
TATOEBA_CODES: frozenset[str] = frozenset(
    """
    afr amh ang ara arq arz ast awa aze bel ben ber bos bre bul cat cbk ceb ces cha cmn cor csb
    cym dan deu dsb dtp ell epo est eus fao fin fra fry gla gle glg gsw heb hin hrv hsb hun hye
    ido ile ina ind isl ita jav jpn kab kat kaz khm kor kur kzj lat lfn lit lvs mal mar max mhr
    mkd mon nds nld nno nob nov oci orv pam pes pms pol por ron rus slk slv spa sqi srp swe swg
    swh tam tat tel tgl tha tuk tur tzl uig ukr urd uzb vie war wuu xho yid yue zsm
    """.split()
)

#: FLORES-200 code -> SemRel 2024 code, for the languages with released SemRel data that
#: FLORES-200 covers (Algerian Arabic ``arq`` has no FLORES-200 code).
SEMREL_CODES: dict[str, str] = {
    "afr_Latn": "afr",
    "arb_Arab": "arb",
    "ary_Arab": "ary",
    "eng_Latn": "eng",
    "spa_Latn": "esp",
    "hau_Latn": "hau",
    "hin_Deva": "hin",
    "ind_Latn": "ind",
    "mar_Deva": "mar",
    "tel_Telu": "tel",
}

#: FLORES-200 codes whose Tatoeba code is not their ISO 639-3 prefix (macrolanguage or
#: individual-language codes; script differences noted where Tatoeba mixes scripts).
_TATOEBA_SPECIAL: dict[str, str] = {
    "arb_Arab": "ara",
    "azj_Latn": "aze",
    "als_Latn": "sqi",
    "khk_Cyrl": "mon",
    "kmr_Latn": "kur",
    "uzn_Latn": "uzb",
    "ydd_Hebr": "yid",
    "zho_Hans": "cmn",  # Tatoeba "cmn" mixes simplified and traditional characters
    "zho_Hant": "cmn",
}
#: ISO prefixes with a Tatoeba set whose FLORES code uses another script than Tatoeba.
_TATOEBA_SCRIPT_MISMATCH: frozenset[str] = frozenset({"arb_Latn"})

#: FLORES-200 (SIB-200) code -> LASER Tatoeba v1 code, for every code with a Tatoeba test set: its
#: :data:`_TATOEBA_SPECIAL` code, or else its ISO 639-3 prefix where Tatoeba has that set.
_TATOEBA_BY_FLORES: dict[str, str] = {
    code: _TATOEBA_SPECIAL.get(code, code[:3])
    for code in sorted(SIB200_CODES - _TATOEBA_SCRIPT_MISMATCH)
    if code in _TATOEBA_SPECIAL or code[:3] in TATOEBA_CODES
}

_CODE_RE = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")


def validate_flores_code(code: str, *, allowed: frozenset[str] = FLORES200_CODES) -> str:
    """Check that ``code`` is a FLORES-200 language code.

    Args:
        code: e.g. ``"hau_Latn"``.
        allowed: The set of valid codes (default: the 204 FLORES-200 codes).

    Returns:
        ``code`` unchanged.

    Raises:
        DataError: If ``code`` is malformed or unknown.

    Example:
        >>> validate_flores_code("hau_Latn")
        'hau_Latn'
    """
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise DataError(
            f"language code {code!r}: expected a FLORES-200 code like 'hau_Latn' "
            "(ISO 639-3, underscore, ISO 15924 script)"
        )
    if code not in allowed:
        raise DataError(
            f"language code {code!r}: expected one of the {len(allowed)} known FLORES-200 codes"
        )
    return code


def iso3(code: str) -> str:
    """ISO 639-3 part of a FLORES-200 code (``"hau_Latn"`` -> ``"hau"``).

    Raises:
        DataError: If ``code`` is not a FLORES-200 code.
    """
    return validate_flores_code(code, allowed=SIB200_CODES)[:3]


def _benchmark_code(table: Mapping[str, str], code: str) -> str | None:
    """``table[code]`` (``None`` if absent) for a checked FLORES-200 / SIB-200 ``code``.

    Raises:
        DataError: If ``code`` is not a FLORES-200 code.
    """
    validate_flores_code(code, allowed=SIB200_CODES)
    return table.get(code)


def semrel_code(code: str) -> str | None:
    """SemRel 2024 language code for a FLORES-200 code, or None if SemRel lacks the language.

    Example:
        >>> semrel_code("hau_Latn"), semrel_code("spa_Latn"), semrel_code("yor_Latn")
        ('hau', 'esp', None)

    Raises:
        DataError: If ``code`` is not a FLORES-200 code.
    """
    return _benchmark_code(SEMREL_CODES, code)


def tatoeba_code(code: str) -> str | None:
    """LASER Tatoeba v1 code for a FLORES-200 code, or None if there is no Tatoeba test set.

    Mostly the ISO 639-3 prefix; the macrolanguage code where Tatoeba uses one, and none where Tatoeba's set
    is written in another script than the FLORES-200 code says.

    Example:
        >>> [tatoeba_code(c) for c in ("arb_Arab", "afr_Latn", "arb_Latn", "hau_Latn")]
        ['ara', 'afr', None, None]

    Raises:
        DataError: If ``code`` is not a FLORES-200 code.
    """
    return _benchmark_code(_TATOEBA_BY_FLORES, code)
