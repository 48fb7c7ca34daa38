"""Providers are chosen by type; an unknown type, a missing credential or a missing interval is an error that names
what to fix, never a silent fallback to Prometheus."""

from __future__ import annotations

import pytest

from serinus.api import MetricProviderType
from serinus.errors import InvalidSpecError
from serinus.metrics.registry import PROVIDERS, ProviderConfig, make_provider

CREDENTIALS = {
    "datadog": {"datadog_api_key": "k", "datadog_application_key": "a"},
    "newrelic": {"newrelic_account_id": "1", "newrelic_query_key": "q"},
    "dynatrace": {"dynatrace_token": "t"},
    "splunk": {"sf_token_key": "t"},
}


def test_every_metric_provider_type_of_the_crd_has_a_provider() -> None:
    """Each `spec.provider.type` a MetricTemplate may name is implemented, and nothing else is."""
    assert set(PROVIDERS) == {t.value for t in MetricProviderType}


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
async def test_each_type_builds_its_own_provider(kind: str) -> None:
    """The type picks the provider; the provider says which back-end it is."""
    provider = make_provider(ProviderConfig(kind, "https://example.test", secret=CREDENTIALS[kind], interval_s=60))
    assert provider.name == kind
    await provider.close()


def test_unknown_type_is_an_error() -> None:
    """An unknown provider type is an error naming it and the known ones."""
    with pytest.raises(InvalidSpecError, match="unknown metrics provider 'skywalking'; known: cloudwatch, datadog"):
        make_provider(ProviderConfig("skywalking"))


@pytest.mark.parametrize("kind", ["datadog", "newrelic", "dynatrace", "splunk", "cloudwatch"])
def test_window_providers_need_the_metric_interval(kind: str) -> None:
    """Providers that query ten intervals back refuse a metric without an interval, as Flagger does."""
    with pytest.raises(InvalidSpecError, match=f"^{kind}: the metric needs an interval"):
        make_provider(
            ProviderConfig(kind, "https://example.test", secret=CREDENTIALS.get(kind, {}), region="eu-west-1")
        )


@pytest.mark.parametrize(
    ("kind", "secret", "missing"),
    [
        ("datadog", {"datadog_api_key": "SECRET-VALUE"}, "datadog_application_key"),
        ("datadog", {}, "datadog_api_key or datadog_application_key"),
        ("newrelic", {"newrelic_query_key": "SECRET-VALUE"}, "newrelic_account_id"),
        ("dynatrace", {"token": "SECRET-VALUE"}, "dynatrace_token"),
        ("splunk", {"token": "SECRET-VALUE"}, "sf_token_key"),
        ("influxdb", {"token": "SECRET-VALUE"}, "org"),
        ("graphite", {"username": "SECRET-VALUE"}, "password"),
    ],
)
def test_a_missing_credential_is_named_and_no_value_is_shown(kind: str, secret: dict[str, str], missing: str) -> None:
    """The error names the Secret key to add, and never echoes a value it did find."""
    with pytest.raises(InvalidSpecError) as caught:
        make_provider(ProviderConfig(kind, "https://example.test", secret=secret, interval_s=60))
    assert str(caught.value) == f"{kind}: the secret has no {missing}"
    assert "SECRET-VALUE" not in str(caught.value)


def test_dynatrace_splunk_and_cloudwatch_need_their_location() -> None:
    """Dynatrace and Splunk have no default address and CloudWatch no default region: each says which field is
    missing."""
    with pytest.raises(InvalidSpecError, match=r"splunk: spec\.provider\.address is required"):
        make_provider(ProviderConfig("splunk", "", secret=CREDENTIALS["splunk"], interval_s=60))
    with pytest.raises(InvalidSpecError, match=r"dynatrace: spec\.provider\.address is required"):
        make_provider(ProviderConfig("dynatrace", "", secret=CREDENTIALS["dynatrace"], interval_s=60))
    with pytest.raises(InvalidSpecError, match=r"cloudwatch: spec\.provider\.region is required"):
        make_provider(ProviderConfig("cloudwatch", interval_s=60))


def test_kubernetes_providers_without_a_cluster_say_so() -> None:
    """keptn reads the cluster's API; outside the operator without a kubeconfig it says what it needs."""
    with pytest.raises(InvalidSpecError, match="keptn: needs the Kubernetes API"):
        make_provider(ProviderConfig("keptn"))
