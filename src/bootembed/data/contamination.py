"""Evaluation-set contamination guard.

Enforces the data mirror's contamination rule: no sentence used as a training anchor, adapter
training text or exemplar may appear in an evaluation set. For a target language the
evaluation sentences are FLORES-200 ``devtest``, SIB-200 ``dev``/``test`` (whose texts are
FLORES-200 sentences: ``index_id`` indexes ``dev`` followed by ``devtest``), SemRel 2024
``test`` and Tatoeba, each in the target language and, where parallel, in English.

Sentences are compared after :func:`bootembed.text.normalize_sentence` (NFKC, casefold, whitespace collapsed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bootembed.data.flores import load_flores
from bootembed.data.languages import validate_flores_code
from bootembed.data.semrel import load_semrel, semrel_splits
from bootembed.data.sib200 import load_sib200, sib_flores_position
from bootembed.data.sources import DataSources
from bootembed.data.tatoeba import load_tatoeba
from bootembed.text import normalize_sentence

logger = logging.getLogger(__name__)

ENGLISH = "eng_Latn"


class ContaminationError(ValueError):
    """Sentences meant for training/prompting appear in an evaluation set."""


def _normalized(texts: Iterable[str]) -> set[str]:
    return {n for n in (normalize_sentence(t) for t in texts) if n}


@dataclass(frozen=True)
class ContaminationGuard:
    """A set of normalised evaluation sentences that training text must avoid.

    Attributes:
        blocked: Normalised evaluation sentences.
        sizes: Number of distinct normalised sentences contributed by each evaluation source
            (informational; sources overlap).
    """

    blocked: frozenset[str]
    sizes: Mapping[str, int] = field(default_factory=dict, compare=False)

    @classmethod
    def for_language(cls, sources: DataSources, lang: str) -> ContaminationGuard:
        """Collect every evaluation sentence relevant to ``lang``.

        Blocks FLORES-200 ``devtest`` (``lang`` and English); SIB-200 ``dev``/``test`` texts
        (``lang`` and English) together with the FLORES-200 lines their ``index_id`` points at
        (``lang`` and English); SemRel ``test`` (both sentences) if it exists for ``lang``;
        and Tatoeba (both sides) if it exists for ``lang``.

        Args:
            sources: Where to read from.
            lang: FLORES-200 code of the target language.

        Returns:
            The guard.

        Raises:
            DataError: Unknown language or missing / malformed evaluation files.
        """
        validate_flores_code(lang)
        langs = [lang] if lang == ENGLISH else [lang, ENGLISH]
        groups: dict[str, set[str]] = {}
        for code in langs:
            flores = {s: load_flores(sources, code, s) for s in ("dev", "devtest")}
            groups[f"flores_devtest:{code}"] = _normalized(flores["devtest"])
            sib_texts: list[str] = []
            for split in ("dev", "test"):
                for ex in load_sib200(sources, code, split):
                    sib_texts.append(ex.text)
                    fl_split, idx = sib_flores_position(ex.index_id)
                    sib_texts.append(flores[fl_split][idx])
            groups[f"sib200_dev_test:{code}"] = _normalized(sib_texts)
        if "test" in semrel_splits(sources, lang):
            pairs = load_semrel(sources, lang, "test")
            groups["semrel_test"] = _normalized(
                [p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]
            )
        tatoeba = load_tatoeba(sources, lang)
        if tatoeba is not None:
            groups["tatoeba"] = _normalized(tatoeba[0] + tatoeba[1])
        blocked = frozenset().union(*groups.values())
        sizes = {name: len(group) for name, group in groups.items()}
        logger.info("Contamination guard for %s: %d sentences %s", lang, len(blocked), sizes)
        return cls(blocked=blocked, sizes=sizes)

    def is_blocked(self, text: str) -> bool:
        """Whether ``text`` (after normalisation) is an evaluation sentence."""
        return normalize_sentence(text) in self.blocked

    def filter(self, sentences: Sequence[str]) -> tuple[list[str], list[int]]:
        """Drop evaluation sentences.

        Args:
            sentences: Candidate training sentences.

        Returns:
            ``(kept, dropped_indices)``: the sentences that are not blocked, in order, and the
            0-based indices (into ``sentences``) of those removed.
        """
        kept: list[str] = []
        dropped: list[int] = []
        for i, s in enumerate(sentences):
            if self.is_blocked(s):
                dropped.append(i)
            else:
                kept.append(s)
        return kept, dropped

    def check(self, sentences: Sequence[str], *, what: str) -> None:
        """Raise if any sentence is an evaluation sentence.

        Args:
            sentences: Sentences about to be used for training / prompting.
            what: Human-readable description used in the error (e.g. ``"anchor pool"``).

        Raises:
            ContaminationError: Naming ``what``, the number of hits and up to 3 examples.
        """
        _, dropped = self.filter(sentences)
        if dropped:
            examples = "; ".join(f"[{i}] {sentences[i][:80]!r}" for i in dropped[:3])
            raise ContaminationError(
                f"{what}: {len(dropped)} of {len(sentences)} sentences appear in evaluation "
                f"sets (FLORES-200 devtest, SIB-200 dev/test, SemRel test, Tatoeba), "
                f"e.g. {examples}"
            )
