"""The three synthesis strategies of arXiv 2603.01732 as prompt builders, and the language each one outputs.

A strategy is fully described by (a) which adapter answers each polarity and (b) how the prompt is built; the
generation engine, resumption and parsing are shared (:mod:`bootembed.synthesize`).

* ``icl``: no adapter (base model), :func:`~bootembed.prompts.icl_prompt` with SICK exemplars; target language.
* ``composition``: merged task + language (+ reference) adapters, :func:`~bootembed.prompts.task_prompt`;
  target language.
* ``xllora``: the XL-LoRA positive / negative adapters, :func:`~bootembed.prompts.xllora_prompt`; English.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import polars as pl

from bootembed.config import IclParams
from bootembed.prompts import IclExemplar, icl_prompt, task_prompt, xllora_prompt

__all__ = ["PromptBuilder", "icl_exemplars", "output_language", "prompt_builder"]

#: ``(anchor row with anchor_id / anchor / language, polarity) -> prompt``
PromptBuilder = Callable[[Mapping[str, object], str], str]

_ENGLISH_OUTPUT = frozenset({"xllora", "translation", "english"})
_TARGET_OUTPUT = frozenset({"icl", "composition"})


def output_language(strategy: str, language: str) -> str:
    """FLORES-200 code of the language a strategy's positives and negatives are meant to be in.

    ``icl`` and ``composition`` ask for the target language; ``xllora`` (by design, Sec. 3.3) and the
    ``translation`` / ``english`` baselines produce English.

    Raises:
        ValueError: unknown strategy.
    """
    if strategy in _ENGLISH_OUTPUT:
        return "eng_Latn"
    if strategy in _TARGET_OUTPUT:
        return language
    raise ValueError(
        f"strategy: expected one of {sorted(_ENGLISH_OUTPUT | _TARGET_OUTPUT)}, got {strategy!r}"
    )


def icl_exemplars(frame: pl.DataFrame) -> list[IclExemplar]:
    """Read the exemplar pool (a triplet frame with ``anchor``, ``positive``, ``negative``; e.g. SICK).

    Raises:
        ValueError: a column is missing or the pool is empty.
    """
    missing = {"anchor", "positive", "negative"} - set(frame.columns)
    if missing:
        raise ValueError(f"ICL exemplars: missing column(s) {sorted(missing)}")
    if frame.height == 0:
        raise ValueError("ICL exemplars: the pool is empty")
    return [
        IclExemplar(r["anchor"], r["positive"], r["negative"])
        for r in frame.select("anchor", "positive", "negative").to_dicts()
    ]


def prompt_builder(
    strategy: str,
    *,
    language: str,
    icl: IclParams | None = None,
    exemplars: pl.DataFrame | None = None,
    seed: int = 42,
) -> PromptBuilder:
    """Return the prompt builder of ``strategy`` (arXiv 2603.01732: ICL Sec. 3.1, composition 3.2, XL-LoRA 3.3).

    For ICL, each anchor gets ``icl.num_shots`` exemplars: a sample seeded by ``(seed, anchor_id)``
    (``exemplar_sampling: per_anchor``) or the same seeded sample for every anchor (``fixed``); the positive and
    the negative prompt of one anchor share their exemplars, so the two differ only in the requested relation.

    Args:
        strategy: ``"icl"``, ``"composition"`` or ``"xllora"``.
        language: FLORES-200 code of the target language (named in the ICL instruction).
        icl: ICL parameters (required for ``icl``).
        exemplars: exemplar pool frame (required for ``icl``), see :func:`icl_exemplars`.
        seed: exemplar sampling seed.

    Raises:
        ValueError: unknown strategy, or ``icl`` without parameters / exemplars, or too few exemplars.
    """
    if strategy == "xllora":
        return lambda row, polarity: xllora_prompt(str(row["anchor"]), polarity)
    if strategy == "composition":
        return lambda row, polarity: task_prompt(str(row["anchor"]), polarity)
    if strategy != "icl":
        raise ValueError(f"strategy: expected 'icl', 'composition' or 'xllora', got {strategy!r}")
    if icl is None or exemplars is None:
        raise ValueError("icl: the ICL strategy needs its parameters and an exemplar pool")
    pool = icl_exemplars(exemplars)
    if len(pool) < icl.num_shots:
        raise ValueError(
            f"icl.num_shots: {icl.num_shots} exemplars requested, the pool has {len(pool)}"
        )
    fixed = random.Random(seed).sample(pool, icl.num_shots)

    def build(row: Mapping[str, object], polarity: str) -> str:
        if icl.exemplar_sampling == "fixed":
            shots = fixed
        else:
            shots = random.Random(seed * 1_000_003 + int(row["anchor_id"])).sample(
                pool, icl.num_shots
            )
        return icl_prompt(
            str(row["anchor"]), polarity, shots, language=language, instruction=icl.instruction
        )

    return build
