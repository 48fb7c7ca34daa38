"""MetricTemplates and AlertProviders: what each provider refuses when Flagger builds its client."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.api.check import check_object


def template(provider: dict[str, Any], query: str = "up") -> dict[str, Any]:
    """A MetricTemplate manifest."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "t", "namespace": "test"},
        "spec": {"provider": provider, "query": query},
    }


def alert(spec: dict[str, Any]) -> dict[str, Any]:
    """An AlertProvider manifest."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call", "namespace": "test"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    "provider",
    [
        {"type": "prometheus", "address": "http://prometheus.monitoring:9090"},
        {"type": "datadog", "secretRef": {"name": "dd"}},
        {"type": "cloudwatch", "region": "eu-west-1"},
        {"type": "newrelic", "secretRef": {"name": "nr"}},
        {"type": "dynatrace", "address": "https://x.live.dynatrace.com", "secretRef": {"name": "dt"}},
        {"type": "splunk", "address": "https://api.us1.signalfx.com", "secretRef": {"name": "sf"}},
        {"type": "graphite", "address": "http://graphite"},
        {"type": "influxdb", "address": "http://influx:8086"},
        {"type": "stackdriver"},
        {"type": "keptn"},
        {"type": "externalmetrics"},
    ],
    ids=lambda p: p["type"],
)
def test_well_formed_templates_are_clean(provider: dict[str, Any]) -> None:
    """Each provider type with what its client needs is valid without warnings."""
    assert check_object(template(provider)).problems == ()


@pytest.mark.parametrize(
    ("provider", "query", "expected", "flagger"),
    [
        (
            {"type": "prometheus"},
            "up",
            "spec.provider.address: is required for a prometheus provider",
            "prometheus address  is not a valid URL",
        ),
        (
            {"type": "dynatrace", "secretRef": {"name": "d"}},
            "x",
            "spec.provider.address: is required for a dynatrace provider",
            "dynatrace endpoint is not set",
        ),
        (
            {"type": "splunk", "secretRef": {"name": "s"}},
            "x",
            "spec.provider.address: is required for a splunk provider",
            "splunk endpoint is not set",
        ),
        (
            {"type": "cloudwatch"},
            "x",
            "spec.provider.region: is required for a cloudwatch provider",
            "region not specified",
        ),
        (
            {"type": "datadog"},
            "x",
            "spec.provider.secretRef: is required for a datadog provider: a Secret with "
            "datadog_api_key and datadog_application_key",
            "",
        ),
        (
            {"type": "graphite", "address": "graphite:8080"},
            "x",
            'spec.provider.address: must be an absolute http or https URL, got "graphite:8080"',
            "",
        ),
        (
            {"type": "prometheus", "address": "http://p"},
            "rate(x[{{ interval }])",
            "spec.query: has unbalanced {{ and }}; the Go template cannot be parsed",
            "",
        ),
        ({"type": "prometheus", "address": "http://p"}, "  ", "spec.query: is empty", ""),
    ],
)
def test_broken_template_fails_with_the_expected_message(
    provider: dict[str, Any], query: str, expected: str, flagger: str
) -> None:
    """A template its provider would refuse is invalid, with the field, the reason and Flagger's own words."""
    report = check_object(template(provider, query))
    assert not report.valid
    (problem,) = [p for p in report.errors if str(p) == expected]
    assert problem.flagger_message == flagger


def test_template_settings_other_providers_ignore_are_warnings() -> None:
    """headers, region and insecureSkipVerify on a provider that does not read them are reported, not fatal."""
    report = check_object(
        template({"type": "graphite", "address": "http://g", "headers": {"A": ["b"]}, "region": "eu-west-1"})
    )
    assert report.valid
    assert [str(p) for p in report.warnings] == [
        "warning: spec.provider.headers: is only sent by the prometheus provider; ignored by graphite",
        "warning: spec.provider.region: is only used by the cloudwatch provider; ignored by graphite",
    ]


def test_template_without_provider_or_query_fails_the_schema() -> None:
    """spec.provider and spec.query are required, and provider.type too."""
    doc = template({"address": "http://p"})
    del doc["spec"]["query"]
    assert sorted(str(p) for p in check_object(doc).errors) == [
        "spec.provider.type: is required",
        "spec.query: is required",
    ]


@pytest.mark.parametrize("kind", ["slack", "msteams", "discord", "rocket", "gchat", "webhook", "alertmanager"])
def test_every_alert_provider_type_validates(kind: str) -> None:
    """All seven types are valid with an address."""
    assert check_object(alert({"type": kind, "address": "https://hooks.example.com/x"})).valid


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "slack"}, "spec: must set one of address or secretRef"),
        (
            {"type": "slack", "address": "https://h", "secretRef": {"name": "s"}},
            "spec: must set only one of address or secretRef, got address and secretRef",
        ),
        ({"address": "https://h"}, "spec.type: is required"),
        (
            {"type": "slack", "address": "hooks.slack.com/services/x"},
            'spec.address: must be an absolute http or https URL, got "hooks.slack.com/services/x"',
        ),
        (
            {"type": "slack", "address": "https://h", "proxy": "proxy:3128"},
            'spec.proxy: must be an absolute http or https URL, got "proxy:3128"',
        ),
        (
            {"type": "pagerduty", "address": "https://h"},
            "spec.type: must be one of slack, msteams, discord, rocket, gchat, webhook or alertmanager, "
            'got "pagerduty"',
        ),
    ],
)
def test_broken_alert_provider_fails_with_the_expected_message(spec: dict[str, Any], expected: str) -> None:
    """Flagger's CRD wants exactly one of address and secretRef; addresses must be URLs; types are an enum."""
    report = check_object(alert(spec))
    assert expected in [str(p) for p in report.errors], [str(p) for p in report.problems]


def test_channel_on_a_provider_without_channels_is_a_warning() -> None:
    """A channel on msteams is ignored, and said so."""
    report = check_object(alert({"type": "msteams", "address": "https://h", "channel": "ops"}))
    assert report.valid
    assert [str(p) for p in report.warnings] == [
        "warning: spec.channel: is only used by slack, discord and rocket; ignored by msteams"
    ]
