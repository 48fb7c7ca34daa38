"""In-memory ports and a virtual clock, used by serinus simulate and fast engine tests."""

from __future__ import annotations
