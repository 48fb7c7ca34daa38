"""The one error hierarchy of Serinus."""

from __future__ import annotations


class SerinusError(Exception):
    """Base of every error Serinus raises on purpose."""


class InvalidSpecError(SerinusError):
    """A Canary, MetricTemplate or AlertProvider is not valid; the message names the field."""


class ProviderError(SerinusError):
    """A metrics, router or alert provider failed; the message names the provider and the address."""
