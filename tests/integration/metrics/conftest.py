"""Metrics test fixtures: the recording receiver and the fake SaaS API (Prometheus comes from
tests/integration/conftest.py)."""

from __future__ import annotations

from tests.integration.fakeapi import fake_api
from tests.integration.receivers import receiver

__all__ = ["fake_api", "receiver"]
