"""Providers are chosen by type; an unknown type is refused rather than silently replaced by Prometheus."""

from __future__ import annotations

import pytest

from serinus.errors import InvalidSpecError
from serinus.metrics.prometheus import PrometheusProvider
from serinus.metrics.registry import ProviderConfig, make_provider


async def test_prometheus_gets_its_credentials_from_the_secret() -> None:
    """A prometheus template's Secret token becomes a bearer header; custom headers are kept."""
    provider = make_provider(ProviderConfig("prometheus", "http://prom:9090", headers={"X-Org": ["a", "b"]},
                                            secret={"token": "s3cret"}))
    assert isinstance(provider, PrometheusProvider)
    assert provider.headers == {"X-Org": "a, b", "Authorization": "Bearer s3cret"}
    await provider.close()


def test_unknown_type_is_an_error() -> None:
    """An unknown provider type is an error naming it and the known ones."""
    with pytest.raises(InvalidSpecError, match="unknown metrics provider 'skywalking'; known: prometheus"):
        make_provider(ProviderConfig("skywalking"))
