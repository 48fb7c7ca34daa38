"""Pydantic models of Flagger's CRDs: Canary, MetricTemplate and AlertProvider (parsing and validation only)."""

from __future__ import annotations
