"""The analysis state machine and its pure helpers; talks to the world only through engine.ports."""

from __future__ import annotations
