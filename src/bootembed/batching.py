"""Length-grouped batches without duplicate texts, for contrastive encoder training on a CPU.

Sentence-transformers pads every column of a batch (anchors, positives, hard negatives) to its longest text, and a
transformer computes on the padding too. With FLORES-200 sentences (Hausa anchors: 42 tokens on average, up to
100) a random batch of 8 pads most anchors to nearly twice their length. Grouping texts of similar length into a
batch removes most of that work; it is the ``group_by_length`` / ``LengthGroupedSampler`` recipe of the HF
Trainer (megabatches of a random order, sorted by length within, batches shuffled), here with the guarantee of
sentence-transformers' ``NoDuplicatesBatchSampler`` that no text appears twice in a batch (a repeated text would be
its own false in-batch negative under MultipleNegativesRankingLoss).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

__all__ = ["BATCH_ORDERS", "LengthGroupedNoDuplicatesBatchSampler", "batch_sampler"]

#: ``train_encoder.batch_order`` values: ``random`` = sentence-transformers' ``NoDuplicatesBatchSampler``,
#: ``length_grouped`` = :class:`LengthGroupedNoDuplicatesBatchSampler`.
BATCH_ORDERS: tuple[str, ...] = ("random", "length_grouped")

#: Batches per megabatch: a random window of ``MEGABATCH * batch_size`` rows is sorted by length, so batches are
#: of similar length yet each epoch's order and batch composition stay random (the HF Trainer uses 50; a smaller
#: window keeps more randomness in which texts meet as in-batch negatives).
MEGABATCH = 16


class LengthGroupedNoDuplicatesBatchSampler(NoDuplicatesBatchSampler):
    """``NoDuplicatesBatchSampler`` whose batches hold texts of similar length.

    Each pass: a seeded random permutation of the rows (seed + epoch, as sentence-transformers does), cut into
    windows of :data:`MEGABATCH` batches; each window sorted by the row's total length (characters over every text
    column); the window cut greedily into batches in which no text repeats (a conflicting row waits for the next
    batch of its window); the batches of the pass shuffled. Every row is used once per pass.

    Args:
        dataset: a ``datasets.Dataset`` with string columns (anchor, positive, negative, ...).
        batch_size: rows per batch.
        drop_last: drop batches smaller than ``batch_size``.
        valid_label_columns, generator, seed: as for ``NoDuplicatesBatchSampler`` (without a ``generator`` one is
            made, so the order is set by ``seed`` and the epoch alone).
        megabatch: batches per sorting window.

    Example:
        >>> args = SentenceTransformerTrainingArguments(..., batch_sampler=batch_sampler("length_grouped"))
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: Any = None,
        seed: int = 0,
        megabatch: int = MEGABATCH,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        if megabatch < 1:
            raise ValueError(f"megabatch: expected a positive integer, got {megabatch!r}")
        # seeded per pass in ``__iter__`` (seed + epoch): the same order on a rerun
        if self.generator is None:
            import torch

            self.generator = torch.Generator()
        self.megabatch = megabatch
        columns = list(self.dataset.column_names)
        rows = [self.dataset[c] for c in columns]
        self._values: list[frozenset[str]] = [
            frozenset(str(col[i]) for col in rows) for i in range(len(self.dataset))
        ]
        self._lengths: list[int] = [
            sum(len(str(col[i])) for col in rows) for i in range(len(self.dataset))
        ]

    def _iter_one_pass(
        self, get_sample_values: Any = None, has_overlap: Any = None
    ) -> Iterator[list[int]]:
        """One pass over every row (the parent's ``__iter__`` seeds the generator and tops up short passes)."""
        import torch

        order = torch.randperm(len(self._values), generator=self.generator).tolist()
        window = self.batch_size * self.megabatch
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            rows = sorted(order[start : start + window], key=lambda i: -self._lengths[i])
            batches.extend(self._no_duplicate_batches(rows))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]

    def _no_duplicate_batches(self, rows: Sequence[int]) -> list[list[int]]:
        """Cut ``rows`` (in order) into batches of ``batch_size`` in which no text repeats."""
        batches: list[list[int]] = []
        pending = list(rows)
        while pending:
            batch: list[int] = []
            seen: set[str] = set()
            deferred: list[int] = []
            for index in pending:
                values = self._values[index]
                if len(batch) < self.batch_size and seen.isdisjoint(values):
                    batch.append(index)
                    seen |= values
                else:
                    deferred.append(index)
            batches.append(batch)
            pending = deferred
        return batches


def batch_sampler(order: str) -> Any:
    """The ``batch_sampler`` argument of ``SentenceTransformerTrainingArguments`` for ``train_encoder.batch_order``.

    Raises:
        ValueError: ``order`` is not one of :data:`BATCH_ORDERS`.
    """
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    if order == "random":
        return BatchSamplers.NO_DUPLICATES
    if order == "length_grouped":
        return LengthGroupedNoDuplicatesBatchSampler
    raise ValueError(
        f"train_encoder.batch_order: expected one of {list(BATCH_ORDERS)}, got {order!r}"
    )
