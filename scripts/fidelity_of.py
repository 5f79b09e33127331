"""The fidelity diagnostic of any triplet tables, to calibrate what the pipeline's ``fidelity`` stage reports.

``python scripts/fidelity_of.py NAME=TRIPLETS.parquet [...]`` writes ``metrics/diagnostics/fidelity_of.json``: for
each table, :func:`bootembed.fidelity.triplet_fidelity` with the base encoder (``models/base/encoder``), the same
numbers the ``fidelity`` stage gives every strategy. Run on gold triplets (the English baseline's SICK premise /
entailment / contradiction, ``data/prepared/english/english_triplets.parquet``) it says how far a perfect
entailment / contradiction generator would get on ``positive_closer_share``, the figure the evidence issue targets.

A one-off diagnostic, not a DVC stage. Runs from a plain checkout (``src/`` is put on the path).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bootembed.fidelity import triplet_fidelity  # noqa: E402
from bootembed.io import write_json  # noqa: E402

log = logging.getLogger("fidelity_of")


def main(argv: list[str] | None = None) -> int:
    """Measure every ``NAME=PATH`` table and write the JSON (see the module docstring).

    Raises:
        SystemExit: an argument is not ``NAME=PATH`` or the file is missing (argparse's one-line error).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", help="NAME=PATH of a triplet parquet")
    parser.add_argument("--encoder", default="models/base/encoder")
    parser.add_argument("--seed", type=int, default=42, help="seed of the shuffled pairing")
    parser.add_argument("--out", default="metrics/diagnostics/fidelity_of.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import polars as pl

    result: dict[str, object] = {"encoder": args.encoder, "seed": args.seed, "tables": {}}
    for item in args.tables:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            parser.error(f"{item!r}: expected NAME=PATH of an existing triplet parquet")
        scores = triplet_fidelity(pl.read_parquet(path), args.encoder, seed=args.seed)
        log.info("%s %s", name, scores)
        result["tables"][name] = {"path": path, **scores}  # type: ignore[index]
    write_json(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
