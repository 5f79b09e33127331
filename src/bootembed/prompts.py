"""Prompt templates and output parsing for every synthesis strategy (one module, so formats never drift).

XL-LoRA (Basoz, Horne & Opper, arXiv 2603.01732, Sec. 3.3): a LoRA generator is fine-tuned on
non-English premise -> English hypothesis, one adapter for entailments (positives) and one for contradictions
(hard negatives). Training and synthesis must use the identical prompt, so both go through :func:`xllora_prompt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "POLARITIES",
    "PromptExample",
    "parse_generation",
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
    premise = " ".join(premise.split())
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
    hypothesis = " ".join(hypothesis.split())
    if not hypothesis:
        raise ValueError("hypothesis: expected a non-empty sentence")
    return PromptExample(prompt=xllora_prompt(premise, polarity), completion=f" {hypothesis}\n")


_QUOTES = "\"'“”‘’«»"
_LABEL = re.compile(r"^(english sentence|sentence|hypothesis|answer)\s*:\s*", re.IGNORECASE)


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
