"""The ``langid`` stage: the filter chain's language-ID model measured on FLORES-200 ``dev`` (:mod:`bootembed.langid`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootembed.data.flores import load_flores
from bootembed.io import write_json
from bootembed.langid import LID_LANGUAGES, langid_accuracy
from bootembed.provenance import record
from bootembed.stages.common import data_sources

__all__ = ["run"]


def run(params: Any, *, params_path: Path, out: Path) -> dict[str, Any]:  # noqa: ANN401
    """Measure CLD3 on FLORES-200 ``dev`` for :data:`bootembed.langid.LID_LANGUAGES` and ``languages``; write ``out``.

    Raises:
        DataError: a FLORES-200 file is missing or malformed.
    """
    sources = data_sources(params, params_path)
    languages = list(dict.fromkeys([*LID_LANGUAGES, *params.languages]))
    sentences = {lang: load_flores(sources, lang, "dev") for lang in languages}
    result = langid_accuracy(sentences, min_confidence=params.filter.language.min_confidence)
    result.update(record())
    write_json(out, result)
    return result
