"""The English-only baseline (arXiv 2603.01732, Sec. 4): SICK triplets, no target-language data at all.

(premise, entailed hypothesis, contradicted hypothesis) of SICK TRAIN + TRIAL premises that have both
(:func:`bootembed.baselines.sick_triplets`, written by ``prepare_english``); the same triplets train the English
baseline of every language.
"""

from __future__ import annotations

import polars as pl

from bootembed.strategies.base import BaselineInputs, BaselineStrategy

__all__ = ["STRATEGY", "EnglishStrategy"]


class EnglishStrategy(BaselineStrategy):
    """English-only SICK triplets."""

    name = "english"
    order = 20
    paper = "arXiv 2603.01732, Sec. 4 (non-synthetic baseline)"
    description = "English-only SICK (premise, entailment, contradiction); no target-language data"

    stage_inputs = {"triplets": "data/prepared/english/english_triplets.parquet"}
    stage_comment = "baseline (Sec. 4): English-only SICK triplets"

    def triplets(self, given: BaselineInputs) -> pl.DataFrame:
        """The SICK triplets of ``--input triplets=`` (``prepare_english``), unchanged."""
        return pl.read_parquet(given.files["triplets"])


STRATEGY = EnglishStrategy()
