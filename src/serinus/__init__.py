"""Serinus: progressive delivery for Kubernetes, a drop-in replacement for Flagger."""

from __future__ import annotations

__version__ = "0.1.0"
