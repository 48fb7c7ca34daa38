"""Metric providers kept across analysis steps, so each check reuses its back-end's connection pool.

Building a provider costs a TLS context and a new connection (about 20 ms); a step with six checks would pay that
six times, every interval, for every Canary. The pool keys a provider by everything it is built from, Secret
values included (a rotated Secret gets a new provider), and closes providers nobody asked for in `idle_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from serinus.metrics.registry import MetricsProvider, ProviderConfig, make_provider

IDLE_S = 600.0


def _key(config: ProviderConfig) -> tuple[Any, ...]:
    return (
        config.type,
        config.address,
        tuple(sorted((k, tuple(v)) for k, v in config.headers.items())),
        tuple(sorted(config.secret.items())),
        config.region,
        config.insecure_skip_verify,
        config.interval_s,
    )


class ProviderPool:
    """Providers by configuration, shared by every Canary of one operator."""

    def __init__(
        self, *, cluster: Any = None, idle_s: float = IDLE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cluster = cluster
        self.idle_s = idle_s
        self.clock = clock
        self._providers: dict[tuple[Any, ...], tuple[MetricsProvider, float]] = {}

    def __len__(self) -> int:
        return len(self._providers)

    async def get(self, config: ProviderConfig) -> MetricsProvider:
        """The provider for `config`, built on first use; raises what make_provider raises."""
        now = self.clock()
        for key, (provider, used) in list(self._providers.items()):
            if now - used > self.idle_s:
                del self._providers[key]
                await provider.close()
        key = _key(config)
        entry = self._providers.get(key)
        provider = entry[0] if entry else make_provider(config, cluster=self.cluster)
        self._providers[key] = (provider, now)
        return provider

    async def close(self) -> None:
        """Close every provider (at shutdown)."""
        providers, self._providers = [p for p, _ in self._providers.values()], {}
        for provider in providers:
            await provider.close()
