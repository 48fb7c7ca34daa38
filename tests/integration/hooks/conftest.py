"""Webhook test fixtures: the recording receiver."""

from __future__ import annotations

from tests.integration.receivers import receiver

__all__ = ["receiver"]
