"""Allow `python -m serinus.cli`."""

from __future__ import annotations

from serinus.cli import main

main()
