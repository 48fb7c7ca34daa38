"""The operator's provider pool: one provider (and connection pool) per back-end configuration across steps; a
rotated Secret gets a fresh provider; idle providers are closed."""

from __future__ import annotations

from serinus.metrics.pool import ProviderPool
from serinus.metrics.registry import ProviderConfig

DD = {"datadog_api_key": "k", "datadog_application_key": "a"}


async def test_same_configuration_same_provider_until_the_secret_rotates() -> None:
    """Steps of any Canary asking for the same back-end share a provider; new Secret values get a new one."""
    pool = ProviderPool()
    try:
        first = await pool.get(ProviderConfig("datadog", "https://dd.test", secret=DD, interval_s=60))
        again = await pool.get(ProviderConfig("datadog", "https://dd.test", secret=dict(DD), interval_s=60))
        rotated = await pool.get(
            ProviderConfig("datadog", "https://dd.test", secret={**DD, "datadog_api_key": "k2"}, interval_s=60)
        )
        other_window = await pool.get(ProviderConfig("datadog", "https://dd.test", secret=DD, interval_s=30))
        assert again is first
        assert rotated is not first
        assert other_window is not first
        assert len(pool) == 3
    finally:
        await pool.close()
    assert len(pool) == 0


async def test_idle_providers_are_closed() -> None:
    """A provider nobody asked for within idle_s is closed and dropped at the next request."""
    now = [0.0]
    pool = ProviderPool(idle_s=600, clock=lambda: now[0])
    old = await pool.get(ProviderConfig("prometheus", "http://a:9090"))
    now[0] = 300.0
    kept = await pool.get(ProviderConfig("prometheus", "http://b:9090"))
    now[0] = 700.0
    assert await pool.get(ProviderConfig("prometheus", "http://b:9090")) is kept
    assert len(pool) == 1
    assert old.http._client.is_closed  # type: ignore[attr-defined]
    assert not kept.http._client.is_closed  # type: ignore[attr-defined]
    await pool.close()
    assert kept.http._client.is_closed  # type: ignore[attr-defined]
