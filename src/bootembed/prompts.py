"""Prompt templates and output parsing for every synthesis strategy (one module, so formats never drift).

All three strategies of Basoz, Horne & Opper (arXiv 2603.01732) ask for an entailment (the positive) and a
contradiction (the hard negative) of an anchor, one prompt per polarity, the answer ending at a newline:

* XL-LoRA (Sec. 3.3): a LoRA generator is fine-tuned on non-English premise -> English hypothesis, one adapter
  per polarity; training and synthesis use the identical prompt, :func:`xllora_prompt`.
* Adapter composition (Sec. 3.2): English task adapters are trained on :func:`task_prompt` (which asks for a
  hypothesis in the premise's language) and merged with a language adapter trained on plain target-language text
  (:func:`lm_example`); synthesis uses the same :func:`task_prompt` with a target-language premise.
* ICL prompting (Sec. 3.1): the base model sees an instruction and SICK exemplars, :func:`icl_prompt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bootembed.text import collapse_whitespace

__all__ = [
    "POLARITIES",
    "IclExemplar",
    "PromptExample",
    "icl_prompt",
    "language_name",
    "lm_example",
    "parse_generation",
    "task_example",
    "task_prompt",
    "xllora_example",
    "xllora_prompt",
]

POLARITIES = ("positive", "negative")

# Instruction wording of the reference implementation (mbasoz/xllora-embedding, src/lora_training.py), with the
# hypothesis language fixed to English. The reference wraps it in the chat template of gemma-3-27b-it; the default
# generator here is a base (non-chat) model, so the prompt is plain text and ends with an answer cue; the answer
# ends at the first newline.
_XLLORA_LABELS = {"positive": "entailment", "negative": "contradiction"}
_ARTICLES = {"positive": "an", "negative": "a"}
_XLLORA_TEMPLATE = (
    "You are an expert at natural language inference. Given a premise, you should return {article} {label} sentence "
    "example (in English) to the premise. Return only the {label} sentence example of the premise without any "
    "preamble or explanation.\n\nPremise: {premise}\nEnglish sentence:"
)


@dataclass(frozen=True)
class PromptExample:
    """One SFT example: the model sees ``prompt`` and learns to produce ``completion`` (loss on completion only)."""

    prompt: str
    completion: str

    def as_dict(self) -> dict[str, str]:
        """Return ``{"prompt": ..., "completion": ...}`` as TRL's prompt-completion format expects."""
        return {"prompt": self.prompt, "completion": self.completion}


def _check_polarity(polarity: str) -> None:
    if polarity not in POLARITIES:
        raise ValueError(f"polarity: expected one of {POLARITIES}, got {polarity!r}")


def xllora_prompt(premise: str, polarity: str) -> str:
    """Build the XL-LoRA generator prompt for one premise.

    Args:
        premise: the anchor sentence (any language; non-English at synthesis time).
        polarity: ``"positive"`` (entailment) or ``"negative"`` (contradiction).

    Returns:
        The prompt text; the model's answer follows it after a single space and ends at a newline.

    Raises:
        ValueError: unknown polarity or empty premise.
    """
    _check_polarity(polarity)
    premise = collapse_whitespace(premise)
    if not premise:
        raise ValueError("premise: expected a non-empty sentence")
    return _XLLORA_TEMPLATE.format(
        article=_ARTICLES[polarity], label=_XLLORA_LABELS[polarity], premise=premise
    )


def xllora_example(premise: str, hypothesis: str, polarity: str) -> PromptExample:
    """Build one XL-LoRA SFT example (Sec. 3.3 of arXiv 2603.01732): premise -> English hypothesis.

    The completion is ``" " + hypothesis + "\\n"``: the newline teaches the model where to stop, matching
    :func:`parse_generation`.

    Raises:
        ValueError: unknown polarity, empty premise or hypothesis.
    """
    hypothesis = collapse_whitespace(hypothesis)
    if not hypothesis:
        raise ValueError("hypothesis: expected a non-empty sentence")
    return PromptExample(prompt=xllora_prompt(premise, polarity), completion=f" {hypothesis}\n")


# Language-neutral task prompt (adapter composition, Sec. 3.2): the English task adapters learn "hypothesis in the
# premise's language", so the same adapter composed with a target-language adapter answers in that language.
_TASK_TEMPLATE = (
    "You are an expert at natural language inference. Given a premise, you should return {article} {label} sentence "
    "example to the premise, in the language of the premise. Return only the {label} sentence example of the "
    "premise without any preamble or explanation.\n\nPremise: {premise}\nSentence:"
)


def _clean(text: str, field: str) -> str:
    text = collapse_whitespace(text)
    if not text:
        raise ValueError(f"{field}: expected a non-empty sentence")
    return text


def task_prompt(premise: str, polarity: str) -> str:
    """Build the task-adapter prompt (adapter composition, arXiv 2603.01732 Sec. 3.2).

    Args:
        premise: the premise, in English (training, XL-LoRA augmentation) or the target language (synthesis
            with a composed adapter).
        polarity: ``"positive"`` (entailment) or ``"negative"`` (contradiction).

    Returns:
        The prompt; the answer follows after a space and ends at a newline.

    Raises:
        ValueError: unknown polarity or empty premise.
    """
    _check_polarity(polarity)
    return _TASK_TEMPLATE.format(
        article=_ARTICLES[polarity],
        label=_XLLORA_LABELS[polarity],
        premise=_clean(premise, "premise"),
    )


def task_example(premise: str, hypothesis: str, polarity: str) -> PromptExample:
    """One English task-adapter SFT example (SICK premise -> entailment / contradiction), Sec. 3.2.

    Raises:
        ValueError: unknown polarity, empty premise or hypothesis.
    """
    return PromptExample(
        prompt=task_prompt(premise, polarity), completion=f" {_clean(hypothesis, 'hypothesis')}\n"
    )


def lm_example(text: str) -> PromptExample:
    """One language-adapter example: plain target-language text, loss on every token (empty prompt), Sec. 3.2.

    Raises:
        ValueError: empty text.
    """
    return PromptExample(prompt="", completion=_clean(text, "text"))


_LANGUAGE_NAMES = {
    "afr": "Afrikaans",
    "amh": "Amharic",
    "arb": "Arabic",
    "eng": "English",
    "hau": "Hausa",
    "hin": "Hindi",
    "ibo": "Igbo",
    "ind": "Indonesian",
    "kin": "Kinyarwanda",
    "mar": "Marathi",
    "som": "Somali",
    "swh": "Swahili",
    "tel": "Telugu",
    "yor": "Yoruba",
    "zul": "Zulu",
}


def language_name(code: str) -> str:
    """English name of a FLORES-200 language (``"hau_Latn"`` -> ``"Hausa"``); the code itself if unknown."""
    return _LANGUAGE_NAMES.get(code.split("_", 1)[0], code)


@dataclass(frozen=True)
class IclExemplar:
    """One few-shot exemplar: a premise with its entailment (positive) and contradiction (hard negative)."""

    premise: str
    positive: str
    negative: str


_ICL_LABELS = {"positive": "Entailment", "negative": "Contradiction"}
_ICL_DEFINITIONS = {
    "positive": "must be true whenever the premise is true",
    "negative": "cannot be true when the premise is true",
}


def icl_prompt(
    anchor: str,
    polarity: str,
    exemplars: list[IclExemplar] | tuple[IclExemplar, ...],
    *,
    language: str,
    instruction: str,
) -> str:
    """Build a few-shot ICL prompt (arXiv 2603.01732, Sec. 3.1) for one anchor and polarity.

    Layout: the instruction, then one ``Premise: ...`` / ``Entailment: ...`` (or ``Contradiction: ...``) block per
    exemplar, then the anchor's ``Premise:`` line and the empty answer cue.

    Args:
        anchor: the target-language premise.
        polarity: ``"positive"`` or ``"negative"``.
        exemplars: k exemplars (k may be 0: zero-shot).
        language: FLORES-200 code of the requested output language (named in the instruction).
        instruction: template with ``{label}``, ``{definition}`` and ``{language}`` placeholders.

    Returns:
        The prompt; the answer follows after a space and ends at a newline.

    Raises:
        ValueError: unknown polarity, empty anchor or exemplar field, or an instruction with other placeholders.
    """
    _check_polarity(polarity)
    label = _ICL_LABELS[polarity]
    try:
        head = instruction.format(
            label=f"{_ARTICLES[polarity]} {label.lower()}",
            definition=_ICL_DEFINITIONS[polarity],
            language=language_name(language),
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"instruction: unsupported placeholder ({exc})") from None
    answer = "positive" if polarity == "positive" else "negative"
    blocks = [head.strip()]
    for i, ex in enumerate(exemplars):
        premise = _clean(ex.premise, f"exemplars[{i}].premise")
        reply = _clean(getattr(ex, answer), f"exemplars[{i}].{answer}")
        blocks.append(f"Premise: {premise}\n{label}: {reply}")
    blocks.append(f"Premise: {_clean(anchor, 'anchor')}\n{label}:")
    return "\n\n".join(blocks)


_QUOTES = "\"'“”‘’«»"
_LABEL = re.compile(
    r"^(english sentence|sentence|hypothesis|answer|entailment|contradiction)\s*:\s*", re.IGNORECASE
)


def parse_generation(text: str) -> str | None:
    """Extract the generated sentence from a raw continuation.

    Keeps the text up to the first newline, removes a leading label (``"English sentence:"``), quotes that
    enclose the whole sentence, and surrounding whitespace.

    Args:
        text: the decoded continuation (prompt excluded, special tokens removed).

    Returns:
        The sentence, or ``None`` when nothing usable is left (empty, or only punctuation).
    """
    line = text.lstrip().split("\n", 1)[0]
    line = _LABEL.sub("", line.strip())
    line = line.strip()
    # Remove quotes only when they enclose the whole sentence: '"It rains."' -> 'It rains.', but
    # '"We have finished it".' keeps its (balanced) quotes.
    while len(line) >= 2 and line[0] in _QUOTES and line[-1] in _QUOTES:
        line = line[1:-1].strip()
    if not any(ch.isalnum() for ch in line):
        return None
    return line
