"""The protocols through which the engine talks to the world; adapters and serinus.sim implement them."""

from __future__ import annotations
