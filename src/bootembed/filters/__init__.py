"""The quality-filter chain of synthetic triplets: one module per step, found by :data:`FILTERS`.

Each step is one module of this package holding a ``FILTER`` object (:class:`bootembed.filters.base.TripletFilter`):
its params section (``filter.<name>`` in ``params.yaml``, switched on and off by ``enabled``), the drop reasons it
counts, and the code that marks the rows it drops. :func:`bootembed.filtering.run_chain` applies the steps in their
declared ``order``; each row a step drops is counted under exactly one reason and never reaches a later step:

1. ``structure`` (10): truncated (no end of sentence), too short or too long in words or characters, degenerate
   repetition (share of repeated word n-grams);
2. ``copying`` (20): a positive or negative that copies the anchor (equal, or near-equal by Dice), positive =
   negative;
3. ``language`` (30): a field not in the language the strategy asked for (Google CLD3, ``cld3-py``);
4. ``duplicates`` (40): exact and near-duplicate triplets (MinHash LSH, ``datasketch``);
5. ``negatives`` (50): hard negatives mined with ``sentence_transformers.util.mine_hard_negatives``, replacing or
   complementing the generated ones;
6. ``consistency`` (60): with the base encoder, the positive must beat the negative by a margin;
7. ``judge`` (70): an LLM judge (not implemented: a documented stub that must stay disabled).

Rows the chain cannot read at all (a null or non-string field: ``unparseable``; a blank one: ``empty``) are
dropped before the first step, whatever is enabled.

Adding a step is adding one module here, its section under ``filter:`` in ``params.yaml`` and its tests; the params
schema, the stage's params in ``dvc.yaml`` and the filter report follow the registry.
"""

from __future__ import annotations

import functools
from typing import Any

from bootembed.registry import Registry

__all__ = ["FILTERS", "filter_params_model"]

#: Every step of the chain, one per module of this package (``base`` is the interface), in chain order.
FILTERS: Registry = Registry("filter", "bootembed.filters", "FILTER", order=lambda f: f.order)


@functools.cache
def filter_params_model() -> Any:  # noqa: ANN401 - a pydantic model class built at run time
    """The ``filter`` params section: the chain's own fields plus one required section per registered step."""
    from pydantic import create_model

    from bootembed.filters.base import ChainParams

    sections = {f.name: (f.params_model, ...) for f in FILTERS.ordered()}
    return create_model(
        "FilterParams", __base__=ChainParams, __doc__=ChainParams.__doc__, **sections
    )
