"""Data-source layer: loaders for FLORES-200, SIB-200, SemRel 2024, Tatoeba, XL-LoRA pairs and
SICK, reading through a configurable :class:`DataSources` (local mirror or official download),
plus the evaluation-set contamination guard.

The names below are imported on first use (PEP 562), so ``import bootembed.data.languages`` stays light and a
stage depends only on the loaders it really imports.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ContaminationError": "contamination",
    "ContaminationGuard": "contamination",
    "FLORES_SPLIT_SIZES": "flores",
    "load_flores": "flores",
    "FLORES200_CODES": "languages",
    "iso3": "languages",
    "semrel_code": "languages",
    "tatoeba_code": "languages",
    "validate_flores_code": "languages",
    "RelatednessPair": "semrel",
    "load_semrel": "semrel",
    "semrel_splits": "semrel",
    "SibExample": "sib200",
    "load_sib200": "sib200",
    "sib_flores_position": "sib200",
    "SickPair": "sick",
    "load_sick": "sick",
    "DataError": "sources",
    "DataSourceConfig": "sources",
    "DataSources": "sources",
    "official_url": "sources",
    "load_tatoeba": "tatoeba",
    "PremiseHypothesis": "xllora",
    "load_xllora_pairs": "xllora",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "normalize_sentence":
        from bootembed.text import normalize_sentence

        return normalize_sentence
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bootembed.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bootembed.data.{_EXPORTS[name]}"), name)
