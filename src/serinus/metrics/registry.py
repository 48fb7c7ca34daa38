"""Metric providers by MetricTemplate `spec.provider.type`: one module each, one line here.

A provider is built from a ProviderConfig (the template's provider block with its Secret's data already read)
and answers `query()` with one number or raises one of serinus.errors' MetricsError subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from serinus.errors import InvalidSpecError
from serinus.metrics import prometheus


class MetricsProvider(Protocol):
    """What every metric back-end offers (Flagger's RunQuery and IsOnline)."""

    name: str

    async def query(self, query: str) -> float:
        """The single number a rendered query evaluates to now."""
        ...

    async def is_online(self) -> bool:
        """Whether the back-end answers; raises a MetricsError saying why not."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class ProviderConfig:
    """A MetricTemplate's provider block, with the referenced Secret's data decoded."""

    type: str
    address: str = ""
    headers: Mapping[str, list[str]] = field(default_factory=dict)
    secret: Mapping[str, str] = field(default_factory=dict)
    region: str = ""
    insecure_skip_verify: bool = False
    #: the metric's interval in seconds, for providers that query a time window (datadog, cloudwatch, ...)
    interval_s: float | None = None


def _prometheus(config: ProviderConfig) -> MetricsProvider:
    secret = config.secret
    return prometheus.PrometheusProvider(
        config.address, token=secret.get("token") or None,
        username=secret.get("username") if "username" in secret or "password" in secret else None,
        password=secret.get("password") if "username" in secret or "password" in secret else None,
        headers={k: ", ".join(v) for k, v in config.headers.items()},
        insecure_skip_verify=config.insecure_skip_verify)


PROVIDERS: dict[str, Callable[[ProviderConfig], MetricsProvider]] = {
    "prometheus": _prometheus,
}


def make_provider(config: ProviderConfig) -> MetricsProvider:
    """The provider for `config.type`; an unknown type is an error on the Canary, never a silent fallback."""
    factory = PROVIDERS.get(config.type)
    if factory is None:
        raise InvalidSpecError(f"unknown metrics provider {config.type!r}; known: {', '.join(sorted(PROVIDERS))}")
    return factory(config)
