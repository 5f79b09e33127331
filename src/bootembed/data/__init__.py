"""Data-source layer: loaders for FLORES-200, SIB-200, SemRel 2024, Tatoeba, XL-LoRA pairs and
SICK, reading through a configurable :class:`DataSources` (local mirror or official download),
plus the evaluation-set contamination guard."""

from __future__ import annotations

from bootembed.data.contamination import (
    ContaminationError,
    ContaminationGuard,
    normalize_sentence,
)
from bootembed.data.flores import FLORES_SPLIT_SIZES, load_flores
from bootembed.data.languages import (
    FLORES200_CODES,
    iso3,
    semrel_code,
    tatoeba_code,
    validate_flores_code,
)
from bootembed.data.semrel import RelatednessPair, load_semrel, semrel_splits
from bootembed.data.sib200 import SibExample, load_sib200, sib_flores_position
from bootembed.data.sick import SickPair, load_sick
from bootembed.data.sources import DataError, DataSourceConfig, DataSources, official_url
from bootembed.data.tatoeba import load_tatoeba
from bootembed.data.xllora import PremiseHypothesis, load_xllora_pairs

__all__ = [
    "FLORES200_CODES",
    "FLORES_SPLIT_SIZES",
    "ContaminationError",
    "ContaminationGuard",
    "DataError",
    "DataSourceConfig",
    "DataSources",
    "PremiseHypothesis",
    "RelatednessPair",
    "SibExample",
    "SickPair",
    "iso3",
    "load_flores",
    "load_semrel",
    "load_sib200",
    "load_sick",
    "load_tatoeba",
    "load_xllora_pairs",
    "normalize_sentence",
    "official_url",
    "semrel_code",
    "semrel_splits",
    "sib_flores_position",
    "tatoeba_code",
    "validate_flores_code",
]
