"""SWIM-IR few-shot exemplars (Thakur et al., NAACL 2024): passage, summary and question per language.

The SWIM-IR release (``google-research-datasets/swim-ir``) ships the exemplars of its summarize-then-ask prompts as
three CSV files, read here from the mirror's ``swim_ir_prompts/`` folder:

* ``XOR-Retrieve-prompts.csv`` (cross-lingual): 5 English Wikipedia articles, each with an English summary and the
  question in English and 17 other languages (columns ``"<Language> (Verified)"`` or ``"<Language> (MT)"``); a title
  row comes before the header row.
* ``xtreme-up-prompts.csv`` (cross-lingual, XTREME-UP): the same 5 articles and summaries with questions in 20 Indic
  languages (some columns empty).
* ``MIRACL-prompts.csv`` (monolingual): ``S.No., Passage, Summary, Question, Language``; 3 or 5 rows per language,
  all in that language, a few without a summary, and blank separator rows.

Language names are mapped to FLORES-200 codes (:data:`LANGUAGE_CODES`); columns of languages FLORES-200 does not
have (Boro, Garhwali, Konkani, Marwari) are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from bootembed.data.sources import DataError, DataSources, cached_parser, read_text
from bootembed.text import collapse_whitespace

__all__ = [
    "LANGUAGE_CODES",
    "MIRACL_FILE",
    "XOR_FILE",
    "XTREME_UP_FILE",
    "CrossLingualExemplars",
    "SapExemplar",
    "load_crosslingual_exemplars",
    "load_monolingual_exemplars",
]

XOR_FILE = "swim_ir_prompts/XOR-Retrieve-prompts.csv"
XTREME_UP_FILE = "swim_ir_prompts/xtreme-up-prompts.csv"
MIRACL_FILE = "swim_ir_prompts/MIRACL-prompts.csv"

#: Language names of the SWIM-IR prompt files -> FLORES-200 codes.
LANGUAGE_CODES: dict[str, str] = {
    "Arabic": "arb_Arab",
    "Assamese": "asm_Beng",
    "Bengali": "ben_Beng",
    "Bhojpuri": "bho_Deva",
    "Chhattisgarhi": "hne_Deva",
    "Chinese": "zho_Hans",
    "English": "eng_Latn",
    "Farsi": "pes_Arab",
    "Finnish": "fin_Latn",
    "French": "fra_Latn",
    "German": "deu_Latn",
    "Gujarati": "guj_Gujr",
    "Hindi": "hin_Deva",
    "Indonesian": "ind_Latn",
    "Japanese": "jpn_Jpan",
    "Kannada": "kan_Knda",
    "Korean": "kor_Hang",
    "Maithili": "mai_Deva",
    "Malayalam": "mal_Mlym",
    "Manipuri": "mni_Beng",
    "Marathi": "mar_Deva",
    "Odia": "ory_Orya",
    "Pashto": "pbt_Arab",
    "Punjabi": "pan_Guru",
    "Russian": "rus_Cyrl",
    "Sanskrit": "san_Deva",
    "Spanish": "spa_Latn",
    "Swahili": "swh_Latn",
    "Tamil": "tam_Taml",
    "Telugu": "tel_Telu",
    "Thai": "tha_Thai",
    "Urdu": "urd_Arab",
    "Yoruba": "yor_Latn",
}

_COLUMN = re.compile(r"^(?P<name>.+?)\s*\((?P<status>Verified|MT)\)$")


@dataclass(frozen=True)
class SapExemplar:
    """One summarize-then-ask exemplar.

    Attributes:
        passage: the article / passage (whitespace collapsed to one line).
        summary: its summary (``""`` where the release has none).
        query: the question the passage answers.
        language: FLORES-200 code of ``query``.
        verified: the question was verified by a native speaker (``False``: machine translated).
    """

    passage: str
    summary: str
    query: str
    language: str
    verified: bool = True


@dataclass(frozen=True)
class CrossLingualExemplars:
    """The 5 cross-lingual articles with their summaries and their questions per language.

    Attributes:
        passages: the English articles.
        summaries: their English summaries.
        queries: FLORES-200 code -> the 5 questions in that language (English included).
        verified: FLORES-200 code -> whether that language's column is marked ``Verified``.
        sources: FLORES-200 code -> the file its questions come from.
    """

    passages: tuple[str, ...]
    summaries: tuple[str, ...]
    queries: dict[str, tuple[str, ...]]
    verified: dict[str, bool]
    sources: dict[str, str]

    def exemplars(self, language: str) -> tuple[SapExemplar, ...]:
        """The exemplars whose questions are in ``language`` (FLORES-200 code).

        Raises:
            KeyError: no file has questions in ``language``.
        """
        queries = self.queries[language]
        return tuple(
            SapExemplar(p, s, q, language, self.verified[language])
            for p, s, q in zip(self.passages, self.summaries, queries, strict=True)
        )


def _rows(path: Path) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(read_text(path), newline="")))
    except csv.Error as exc:
        raise DataError(path, f"CSV text ({exc})") from None


@cached_parser
def _parse_crosslingual(
    path: Path,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str, bool, tuple[str, ...]], ...]]:
    rows = _rows(path)
    header_at = next((i for i, row in enumerate(rows) if row and row[0].strip() == "Article"), None)
    if header_at is None or len(rows[header_at]) < 3 or rows[header_at][1].strip() != "Summary":
        raise DataError(path, "a header row 'Article, Summary, <Language> (Verified|MT), ...'")
    header = [cell.strip() for cell in rows[header_at]]
    body = [row for row in rows[header_at + 1 :] if any(cell.strip() for cell in row)]
    if not body:
        raise DataError(path, "exemplar rows after the header")
    for offset, row in enumerate(body, start=header_at + 2):
        if len(row) != len(header):
            raise DataError(path, f"{len(header)} columns, got {len(row)}", line=offset)
        if not row[0].strip() or not row[1].strip():
            raise DataError(path, "a non-empty article and summary", field="Article", line=offset)
    passages = tuple(collapse_whitespace(row[0]) for row in body)
    summaries = tuple(collapse_whitespace(row[1]) for row in body)
    columns = []
    for index, name in enumerate(header[2:], start=2):
        match = _COLUMN.match(name)
        if match is None:
            raise DataError(
                path, "a column named '<Language> (Verified)' or '<Language> (MT)'", field=name
            )
        code = LANGUAGE_CODES.get(match["name"])
        queries = tuple(collapse_whitespace(row[index]) for row in body)
        if code is None or not all(
            queries
        ):  # not in FLORES-200, or a column the release left empty
            continue
        columns.append((code, name, match["status"] == "Verified", queries))
    return passages, summaries, tuple(columns)


def load_crosslingual_exemplars(sources: DataSources) -> CrossLingualExemplars:
    """The cross-lingual exemplars of XOR-Retrieve, with the XTREME-UP questions for the languages XOR lacks.

    Both files hold the same 5 English articles and summaries (checked); a language in both takes the XOR-Retrieve
    questions.

    Args:
        sources: where the mirror's ``swim_ir_prompts/`` files are read from.

    Returns:
        The exemplars (English questions included, under ``eng_Latn``).

    Raises:
        DataError: a file is missing or malformed (no header row, ragged rows, an unnamed column), or the two files
            disagree on the articles.
    """
    passages, summaries, xor = _parse_crosslingual(sources.file(XOR_FILE))
    up_path = sources.file(XTREME_UP_FILE)
    up_passages, up_summaries, up = _parse_crosslingual(up_path)
    if up_passages != passages or up_summaries != summaries:
        raise DataError(up_path, f"the same articles and summaries as {XOR_FILE}", field="Article")
    queries: dict[str, tuple[str, ...]] = {}
    verified: dict[str, bool] = {}
    origin: dict[str, str] = {}
    for file, columns in ((XOR_FILE, xor), (XTREME_UP_FILE, up)):
        for code, _name, is_verified, column in columns:
            if code in queries:
                continue
            queries[code], verified[code], origin[code] = column, is_verified, file
    return CrossLingualExemplars(passages, summaries, queries, verified, origin)


@cached_parser
def _parse_miracl(path: Path) -> tuple[SapExemplar, ...]:
    rows = _rows(path)
    if not rows or [c.strip() for c in rows[0][:5]] != [
        "S.No.",
        "Passage",
        "Summary",
        "Question",
        "Language",
    ]:
        raise DataError(path, "the header 'S.No., Passage, Summary, Question, Language'", line=1)
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 5:
            raise DataError(path, f"5 columns, got {len(row)}", line=line)
        name = row[4].strip()
        if not name:  # the release's separator rows hold only a number
            continue
        if name not in LANGUAGE_CODES:
            raise DataError(
                path,
                f"a language of {sorted(LANGUAGE_CODES)}, got {name!r}",
                field="Language",
                line=line,
            )
        passage, question = collapse_whitespace(row[1]), collapse_whitespace(row[3])
        if not passage or not question:
            raise DataError(path, "a non-empty passage and question", field="Passage", line=line)
        out.append(
            SapExemplar(passage, collapse_whitespace(row[2]), question, LANGUAGE_CODES[name])
        )
    return tuple(out)


def load_monolingual_exemplars(sources: DataSources, language: str) -> tuple[SapExemplar, ...]:
    """The MIRACL exemplars of one language (passage, summary and question all in ``language``), in file order.

    Rows without a summary are left out (a summarize-then-ask exemplar needs one; the plain-prompting ablation uses
    the same rows, so the two prompts differ only in the summaries).

    Args:
        sources: where the mirror's ``swim_ir_prompts/`` files are read from.
        language: FLORES-200 code.

    Returns:
        The exemplars; empty for a language MIRACL does not cover (e.g. ``hau_Latn``).

    Raises:
        DataError: the file is missing or malformed.
    """
    return tuple(
        ex
        for ex in _parse_miracl(sources.file(MIRACL_FILE))
        if ex.language == language and ex.summary
    )
