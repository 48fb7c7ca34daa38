"""Metric providers and the built-in query templates per provider."""

from __future__ import annotations
