"""GPU check of the project's compute steps: ``python scripts/gpu_check.py`` writes metrics/bench/gpu_check.json.

Runs from a plain checkout (``src/`` is put on the path, no install) with only torch, transformers, peft,
sentence-transformers and accelerate; see :mod:`bootembed.gpu_check`. ``--tiny`` runs in seconds on a CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bootembed.gpu_check import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
