"""``python -m bootembed`` runs the command line."""

from __future__ import annotations

from bootembed.cli import main

if __name__ == "__main__":
    main()
