"""Summarize-then-ask prompting (SAP; Thakur et al., "Leveraging LLMs for Synthesizing Training Data Across Many
Languages in Multilingual Dense Retrieval", NAACL 2024, Sec. 3): variants, exemplars, prompts and output parsing.

For each passage the generator first writes an extractive summary of it, then a query that the passage answers; the
(query, passage) pair trains a retriever. Three directions, each with SAP and, as the ablation, plain prompting (the
same exemplars and passage without the summary lines):

============  =====================  ===============  ==================  ================================
direction     generator reads        query language   training passage    exemplars (SWIM-IR release)
============  =====================  ===============  ==================  ================================
crosslingual  English passage        target           English             XOR-Retrieve / XTREME-UP, 5 shots
monolingual   target passage         target           target              MIRACL, 3 shots
swapped       English passage        English          target (parallel)   XOR-Retrieve English, 5 shots
============  =====================  ===============  ==================  ================================

``swapped`` is in neither paper: the XL-LoRA idea (arXiv 2603.01732, Sec. 3.3) applied to retrieval; the generator
only ever writes English, and the passage is swapped for its FLORES-200 translation afterwards.

**Languages without exemplars** (Hausa, Afrikaans: neither XOR-Retrieve, XTREME-UP nor MIRACL has them;
``swim_ir.fallback``): ``english`` shows the English exemplars (XOR-Retrieve English questions; MIRACL's English
passages, summaries and questions for ``monolingual``), each labelled truthfully ``Question in English:``, and the
instruction and the final answer cue ask for the target language; ``zero_shot`` shows no exemplar, only the
instruction. The synthesis stage measures what either gives: parse rate and the share of queries that CLD3 assigns to
the requested language.

**Two generation steps.** Every generation backend stops at the first newline (:mod:`bootembed.generation`), so SAP
runs as two calls per passage: the prompt ending in ``Summary:`` gives the summary line; the same prompt, the parsed
summary and ``Question in <language>:`` give the query. Under greedy decoding this equals one continuous SAP
generation whenever the model itself would have written the question label after its summary. Plain prompting is one
call, its prompt ending in the question cue.

Malformed outputs are counted by reason and kept (``None`` in place of the text): ``empty`` (nothing alphanumeric),
``field_label`` (the output opens another field, e.g. a summary that starts ``Question in ...:``), ``copy_of_passage``
(the query is a verbatim piece of the passage it was asked about, possibly cut short by the token budget: a base
model often copies instead of asking), ``no_summary`` (SAP: the summary was malformed, so no query was asked).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bootembed.data.swim_ir import SapExemplar
from bootembed.prompts import language_name
from bootembed.text import collapse_whitespace, copy_key

__all__ = [
    "DIRECTIONS",
    "ENGLISH",
    "FALLBACKS",
    "MALFORMED_REASONS",
    "SHOTS",
    "VARIANTS",
    "ExemplarChoice",
    "SapPrompts",
    "Variant",
    "choose_exemplars",
    "get_variant",
    "parse_query",
    "parse_summary",
    "prompting_pairs",
]

ENGLISH = "eng_Latn"

#: direction -> (language the generator reads, query language, training passage language, exemplar set); "target"
#: stands for the target language.
DIRECTIONS: dict[str, tuple[str, str, str, str]] = {
    "crosslingual": ("english", "target", "english", "crosslingual"),
    "monolingual": ("target", "target", "target", "monolingual"),
    "swapped": ("english", "english", "target", "crosslingual"),
}
#: Exemplars per prompt (SWIM-IR, Sec. 3): 5 cross-lingual (XOR-Retrieve), 3 monolingual (MIRACL).
SHOTS: dict[str, int] = {"crosslingual": 5, "monolingual": 3}
#: What a language without exemplars of its own gets (module docstring).
FALLBACKS = ("english", "zero_shot")
#: Why an output was not usable (module docstring).
MALFORMED_REASONS = ("empty", "field_label", "copy_of_passage", "no_summary")

_PROMPTINGS = {"sap": True, "plain": False}
#: Every variant: direction x (SAP, plain prompting), in report order.
VARIANTS: tuple[str, ...] = tuple(f"{d}_{p}" for d in DIRECTIONS for p in _PROMPTINGS)

_SAP_INSTRUCTION = (
    "Read the article. Write an extractive summary of it: its most important sentences. Then write one question "
    "in {language} that the article answers."
)
_PLAIN_INSTRUCTION = (
    "Read the article. Then write one question in {language} that the article answers."
)
_LABELS = ("Article", "Summary", "Question", "Query")
_LABEL = re.compile(rf"^\s*({'|'.join(_LABELS)})\b[^:\n]{{0,40}}:\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»„"


@dataclass(frozen=True)
class Variant:
    """One SAP variant: a direction and whether the generator summarises first.

    Attributes:
        name: ``<direction>_<sap|plain>`` (:data:`VARIANTS`).
        direction: ``crosslingual``, ``monolingual`` or ``swapped`` (:data:`DIRECTIONS`).
        summarize: SAP (``True``) or plain prompting (``False``).
    """

    name: str
    direction: str
    summarize: bool

    def _side(self, index: int, language: str) -> str:
        return language if DIRECTIONS[self.direction][index] == "target" else ENGLISH

    def read_language(self, language: str) -> str:
        """FLORES-200 code of the passage the generator reads, for target ``language``."""
        return self._side(0, language)

    def query_language(self, language: str) -> str:
        """FLORES-200 code of the queries it writes."""
        return self._side(1, language)

    def passage_language(self, language: str) -> str:
        """FLORES-200 code of the passage each query is paired with for training."""
        return self._side(2, language)

    @property
    def exemplar_set(self) -> str:
        """``crosslingual`` (XOR-Retrieve / XTREME-UP) or ``monolingual`` (MIRACL)."""
        return DIRECTIONS[self.direction][3]


def prompting_pairs(variants: Iterable[str]) -> list[tuple[str, str]]:
    """The ``(SAP, plain)`` variant pairs of ``variants`` that share a direction: the summarize-then-ask ablation
    (SWIM-IR, Thakur et al., NAACL 2024, Sec. 3 and its plain-prompting comparison).

    Args:
        variants: variant names (:data:`VARIANTS`), e.g. ``params.swim_ir.variants``.

    Returns:
        ``[("swapped_sap", "swapped_plain"), ...]`` in :data:`DIRECTIONS` order, for every direction with both
        promptings in ``variants``; ``[]`` if none.

    Raises:
        ValueError: a name is not in :data:`VARIANTS`.

    Example:
        >>> prompting_pairs(["swapped_sap", "swapped_plain", "crosslingual_sap"])
        [('swapped_sap', 'swapped_plain')]
    """
    chosen = {get_variant(name).name for name in variants}
    return [
        (f"{d}_sap", f"{d}_plain")
        for d in DIRECTIONS
        if f"{d}_sap" in chosen and f"{d}_plain" in chosen
    ]


def get_variant(name: str) -> Variant:
    """The :class:`Variant` called ``name``.

    Raises:
        ValueError: ``name`` is not in :data:`VARIANTS`.
    """
    if name not in VARIANTS:
        raise ValueError(f"variant: expected one of {list(VARIANTS)}, got {name!r}")
    direction, _, prompting = name.rpartition("_")
    return Variant(name, direction, _PROMPTINGS[prompting])


@dataclass(frozen=True)
class ExemplarChoice:
    """The exemplars a variant shows for one target language, and where they come from.

    Attributes:
        exemplars: the shots, in prompt order (empty: zero-shot).
        source: the release file (``swim_ir_prompts/...``), or ``"none"``.
        fallback: ``None`` when the exemplars' questions are in the requested query language, else the
            ``swim_ir.fallback`` used (``english`` or ``zero_shot``).
    """

    exemplars: tuple[SapExemplar, ...]
    source: str
    fallback: str | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary for the stage metrics."""
        languages = sorted({ex.language for ex in self.exemplars})
        return {
            "shots": len(self.exemplars),
            "source": self.source,
            "question_languages": languages,
            "verified": all(ex.verified for ex in self.exemplars),
            "fallback": self.fallback,
        }


def choose_exemplars(
    variant: Variant,
    language: str,
    *,
    crosslingual: object,
    monolingual: Sequence[SapExemplar],
    english_monolingual: Sequence[SapExemplar],
    fallback: str,
) -> ExemplarChoice:
    """The exemplars of ``variant`` for target ``language`` (SWIM-IR, Sec. 3; the fallback: module docstring).

    Args:
        variant: the variant.
        language: FLORES-200 code of the target language.
        crosslingual: :class:`bootembed.data.swim_ir.CrossLingualExemplars` (XOR-Retrieve + XTREME-UP).
        monolingual: the MIRACL exemplars of ``language`` (may be empty).
        english_monolingual: the English MIRACL exemplars.
        fallback: ``english`` or ``zero_shot``, for a language without exemplars of its own.

    Returns:
        The choice: the first :data:`SHOTS` exemplars of the set.

    Raises:
        ValueError: unknown ``fallback``, or too few exemplars where the release should have them.
    """
    from bootembed.data.swim_ir import MIRACL_FILE, XOR_FILE

    if fallback not in FALLBACKS:
        raise ValueError(f"swim_ir.fallback: expected one of {list(FALLBACKS)}, got {fallback!r}")
    shots = SHOTS[variant.exemplar_set]
    wanted = variant.query_language(language)
    if variant.exemplar_set == "crosslingual":
        queries = crosslingual.queries  # type: ignore[attr-defined]
        if wanted in queries:
            chosen, source, used = (
                crosslingual.exemplars(wanted),
                crosslingual.sources[wanted],
                None,
            )  # type: ignore[attr-defined]
        elif fallback == "english":
            chosen, source, used = crosslingual.exemplars(ENGLISH), XOR_FILE, fallback  # type: ignore[attr-defined]
        else:
            chosen, source, used = (), "none", fallback
    elif monolingual:
        chosen, source, used = tuple(monolingual), MIRACL_FILE, None
    elif fallback == "english":
        chosen, source, used = tuple(english_monolingual), MIRACL_FILE, fallback
    else:
        chosen, source, used = (), "none", fallback
    if chosen and len(chosen) < shots:
        raise ValueError(
            f"swim_ir exemplars: {source} has {len(chosen)} for {variant.name} ({wanted}), expected >= {shots}"
        )
    return ExemplarChoice(tuple(chosen[:shots]), source, used)


def _question_label(language: str) -> str:
    return f"Question in {language_name(language)}:"


@dataclass(frozen=True)
class SapPrompts:
    """The prompts of one variant and target language.

    Layout (one block per exemplar, then the passage; no newline inside a field)::

        <instruction>

        Article: <exemplar passage>
        Summary: <exemplar summary>          (SAP only)
        Question in <exemplar language>: <exemplar question>

        Article: <passage>
        Summary:                              (SAP; step 2 appends " <summary>\\nQuestion in <language>:")

    Attributes:
        variant: the variant.
        query_language: FLORES-200 code the queries are asked in.
        choice: the exemplars.
    """

    variant: Variant
    query_language: str
    choice: ExemplarChoice

    @property
    def question_cue(self) -> str:
        """The answer cue of the query: ``Question in <language>:``."""
        return _question_label(self.query_language)

    def head(self) -> str:
        """Instruction and exemplar blocks, shared by every passage's prompt (a prefix the backends can cache)."""
        template = _SAP_INSTRUCTION if self.variant.summarize else _PLAIN_INSTRUCTION
        blocks = [template.format(language=language_name(self.query_language))]
        for index, ex in enumerate(self.choice.exemplars):
            lines = [f"Article: {_field(ex.passage, f'exemplars[{index}].passage')}"]
            if self.variant.summarize:
                lines.append(f"Summary: {_field(ex.summary, f'exemplars[{index}].summary')}")
            lines.append(
                f"{_question_label(ex.language)} {_field(ex.query, f'exemplars[{index}].query')}"
            )
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def first(self, passage: str) -> str:
        """The first prompt of ``passage``: it ends with ``Summary:`` (SAP) or with the question cue (plain).

        Raises:
            ValueError: an empty passage.
        """
        cue = "Summary:" if self.variant.summarize else self.question_cue
        return f"{self.head()}\n\nArticle: {_field(passage, 'passage')}\n{cue}"

    def second(self, first: str, summary: str) -> str:
        """The query prompt of SAP's second step: the first prompt, the summary, the question cue.

        Raises:
            ValueError: plain prompting (one step), or an empty summary.
        """
        if not self.variant.summarize:
            raise ValueError(f"{self.variant.name}: plain prompting has no second step")
        return f"{first} {_field(summary, 'summary')}\n{self.question_cue}"


def _field(text: str, name: str) -> str:
    text = collapse_whitespace(text)
    if not text:
        raise ValueError(f"{name}: expected non-empty text")
    return text


def _first_line(raw: str) -> str:
    return raw.lstrip().split("\n", 1)[0].strip()


def _unquote(text: str) -> str:
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def parse_summary(raw: str) -> tuple[str | None, str | None]:
    """The summary in a raw continuation of ``... Summary:``.

    Keeps the first line; a repeated ``Summary:`` label is removed. An output that opens another field
    (``Article:``, ``Question in ...:``) or holds nothing alphanumeric is malformed.

    Args:
        raw: the decoded continuation (prompt excluded).

    Returns:
        ``(summary, None)``, or ``(None, reason)`` with a reason of :data:`MALFORMED_REASONS`.
    """
    line = _first_line(raw)
    label = _LABEL.match(line)
    if label is not None:
        if label.group(1).lower() != "summary":
            return None, "field_label"
        line = line[label.end() :].strip()
    line = _unquote(line)
    if not any(ch.isalnum() for ch in line):
        return None, "empty"
    return line, None


def parse_query(raw: str, *, passage: str) -> tuple[str | None, str | None]:
    """The query in a raw continuation of ``... Question in <language>:``.

    Keeps the first line; a repeated question label is removed, as are quotes around the whole query. Malformed:
    nothing alphanumeric (``empty``), another field opened (``field_label``: ``Article:``, ``Summary:``), or a
    verbatim piece of ``passage`` (``copy_of_passage``: its :func:`bootembed.text.copy_key`, casefolded words
    without punctuation, is a substring of the passage's, or, for 4+ words, all but its last word are: a copy cut
    short by the token budget).

    Args:
        raw: the decoded continuation (prompt excluded).
        passage: the passage the query was asked about (the one the generator read).

    Returns:
        ``(query, None)``, or ``(None, reason)`` with a reason of :data:`MALFORMED_REASONS`.
    """
    line = _first_line(raw)
    label = _LABEL.match(line)
    if label is not None:
        if label.group(1).lower() not in ("question", "query"):
            return None, "field_label"
        line = line[label.end() :].strip()
    line = _unquote(line)
    if not any(ch.isalnum() for ch in line):
        return None, "empty"
    if _copies(line, passage):
        return None, "copy_of_passage"
    return line, None


def _copies(query: str, passage: str) -> bool:
    """Whether ``query`` is a verbatim piece of ``passage`` (word keys), also when its last word is cut short by the
    token budget (a query of 4+ words whose other words are a piece of the passage)."""
    key, text = copy_key(query), f" {copy_key(passage)} "
    if f" {key} " in text or key in text:
        return True
    words = key.split()
    return len(words) >= 4 and f" {' '.join(words[:-1])} " in text
