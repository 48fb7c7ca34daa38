"""Metrics test fixtures: the recording receiver (Prometheus comes from tests/integration/conftest.py)."""

from __future__ import annotations

from tests.integration.receivers import receiver

__all__ = ["receiver"]
