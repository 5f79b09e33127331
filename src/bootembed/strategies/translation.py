"""The translation baseline (arXiv 2603.01732, Sec. 4): FLORES-200 translation pairs, no generator.

Anchor = a FLORES-200 ``dev`` sentence of the target language, positive = its English translation (the same
``dev`` line in ``eng_Latn``), hard negative = an English ``dev`` sentence mined with the base encoder: the nearest to
the anchor that scores below 95 % of the translation (``mining``: NV-Retriever's TopK-PercPos, so a near-duplicate of
the translation is not a negative; :func:`bootembed.baselines.translation_triplets`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bootembed.baselines import translation_triplets
from bootembed.data.contamination import ContaminationGuard
from bootembed.data.flores import load_flores
from bootembed.data.sources import DataError
from bootembed.strategies.base import BaselineInputs, BaselineStrategy
from bootembed.text import collapse_whitespace

__all__ = ["STRATEGY", "TranslationStrategy"]

#: Mirror files the contamination guard of a target language reads (FLORES-200 devtest, SIB-200, SemRel, Tatoeba).
_GUARD_DEPS = (
    "${data.root}/flores200/dev/${item.language}.dev",
    "${data.root}/flores200/devtest/${item.language}.devtest",
    "${data.root}/flores200/devtest/eng_Latn.devtest",
    "${data.root}/sib200/annotated/${item.language}",
    "${data.root}/sib200/annotated/eng_Latn",
    "${data.root}/semrel2024",
    "${data.root}/tatoeba",
)


class TranslationStrategy(BaselineStrategy):
    """Target anchor, English translation, mined English hard negative."""

    name = "translation"
    order = 10
    paper = "arXiv 2603.01732, Sec. 4 (non-synthetic baseline)"
    description = (
        "anchor = FLORES-200 dev sentence, positive = its English translation, hard negative = an English "
        "FLORES-200 dev sentence mined with the base encoder (below 95 % of the positive's score)"
    )

    stage_inputs = {
        "anchors": "data/prepared/${item.language}/anchors.parquet",
        "encoder": "models/base/encoder",
    }
    stage_params = (
        "seed",
        "data",
        "models.encoder.prompt",
        "mining",
        "evaluate.batch_size",
        "evaluate.dtype",
    )
    stage_deps = (
        "models/base/encoder",
        "data/prepared/${item.language}/anchors.parquet",
        "${data.root}/flores200/dev/eng_Latn.dev",
        *_GUARD_DEPS,
    )
    stage_comment = (
        "baseline (Sec. 4): FLORES-200 dev translations, hard negatives mined by the base encoder "
        "(sentence-transformers mine_hard_negatives)"
    )

    def triplets(self, given: BaselineInputs) -> pl.DataFrame:
        """Translation triplets of the anchors ``--input anchors=``, negatives mined with ``--input encoder=``.

        Raises:
            DataError: the anchors are not FLORES-200 ``dev`` lines (``prepare.anchor_source``).
        """
        anchors_path = Path(given.files["anchors"])
        anchors = pl.read_parquet(anchors_path)
        if anchors["source"].unique().to_list() != ["flores_dev"]:
            raise DataError(
                anchors_path,
                "FLORES-200 dev anchors for the translation baseline (prepare.anchor_source: flores_dev)",
                field="source",
            )
        english_dev = [
            collapse_whitespace(s) for s in load_flores(given.sources, "eng_Latn", "dev")
        ]
        guard = ContaminationGuard.for_language(given.sources, given.language)
        pool = [s for s in dict.fromkeys(english_dev) if s and not guard.is_blocked(s)]
        translations = [english_dev[i] for i in anchors["source_index"].to_list()]
        return translation_triplets(
            anchors,
            translations,
            pool,
            given.files["encoder"],
            mining=given.params.mining,
            prompt=given.params.models.encoder.prompt or None,
            batch_size=given.params.evaluate.batch_size,
            seed=given.params.seed,
            dtype=given.encoder_dtype,
        )


STRATEGY = TranslationStrategy()
