"""Rules for MetricTemplates and AlertProviders: what each provider's client refuses when it is built."""

from __future__ import annotations

from serinus.api.alert_provider import AlertProvider, AlertProviderType
from serinus.api.metric_template import MetricProviderType, MetricTemplate
from serinus.api.problems import Problem, error, show, warning
from serinus.api.rules.context import is_http_url

#: Providers that refuse to start without an address, and Flagger's words for it.
_ADDRESS_REQUIRED = {
    MetricProviderType.PROMETHEUS: "{type} address {address} is not a valid URL",
    MetricProviderType.GRAPHITE: "{type} address {address} is not a valid URL",
    MetricProviderType.INFLUXDB: "{type} address {address} is not a valid URL",
    MetricProviderType.DYNATRACE: "dynatrace endpoint is not set",
    MetricProviderType.SPLUNK: "splunk endpoint is not set",
}
#: Providers that read credentials from spec.provider.secretRef and fail without them.
_SECRET_KEYS = {
    MetricProviderType.DATADOG: "datadog_api_key and datadog_application_key",
    MetricProviderType.NEWRELIC: "newrelic_account_id and newrelic_query_key",
    MetricProviderType.DYNATRACE: "dynatrace_token",
    MetricProviderType.SPLUNK: "sf_token_key",
}
_TLS_OPTIONAL = {
    MetricProviderType.PROMETHEUS,
    MetricProviderType.GRAPHITE,
    MetricProviderType.EXTERNALMETRICS,
    MetricProviderType.INFLUXDB,
}
_CHAT = {AlertProviderType.SLACK, AlertProviderType.DISCORD, AlertProviderType.ROCKET}


def check_metric_template(template: MetricTemplate) -> list[Problem]:
    """What stops this template's provider client from being built or its query from rendering."""
    provider = template.spec.provider
    kind = provider.type
    base = ("spec", "provider")
    out: list[Problem] = []
    if kind in _ADDRESS_REQUIRED and not provider.address:
        out.append(
            error(
                (*base, "address"),
                f"is required for a {kind.value} provider",
                "template-address",
                _ADDRESS_REQUIRED[kind].format(type=kind.value, address=provider.address),
            )
        )
    if provider.address and not is_http_url(provider.address) and kind is not MetricProviderType.KEPTN:
        out.append(
            error(
                (*base, "address"),
                f"must be an absolute http or https URL, got {show(provider.address)}",
                "template-address",
            )
        )
    if kind is MetricProviderType.CLOUDWATCH and not provider.region:
        out.append(
            error((*base, "region"), "is required for a cloudwatch provider", "template-region", "region not specified")
        )
    if kind in _SECRET_KEYS and provider.secret_ref is None:
        out.append(
            error(
                (*base, "secretRef"),
                f"is required for a {kind.value} provider: a Secret with {_SECRET_KEYS[kind]}",
                "template-secret",
            )
        )
    if provider.headers and kind is not MetricProviderType.PROMETHEUS:
        out.append(
            warning(
                (*base, "headers"),
                f"is only sent by the prometheus provider; ignored by {kind.value}",
                "provider-field",
            )
        )
    if provider.region and kind is not MetricProviderType.CLOUDWATCH:
        out.append(
            warning(
                (*base, "region"), f"is only used by the cloudwatch provider; ignored by {kind.value}", "provider-field"
            )
        )
    if provider.insecure_skip_verify and kind not in _TLS_OPTIONAL:
        out.append(warning((*base, "insecureSkipVerify"), f"is ignored by the {kind.value} provider", "provider-field"))
    query = template.spec.query
    if not query.strip():
        out.append(error(("spec", "query"), "is empty", "template-query"))
    elif query.count("{{") != query.count("}}"):
        out.append(
            error(("spec", "query"), "has unbalanced {{ and }}; the Go template cannot be parsed", "template-query")
        )
    return out


def check_alert_provider(provider: AlertProvider) -> list[Problem]:
    """What stops this provider from delivering alerts."""
    spec = provider.spec
    out: list[Problem] = []
    if spec.address and not is_http_url(spec.address):
        out.append(
            error(
                ("spec", "address"), f"must be an absolute http or https URL, got {show(spec.address)}", "alert-address"
            )
        )
    if spec.proxy and not is_http_url(spec.proxy):
        out.append(
            error(("spec", "proxy"), f"must be an absolute http or https URL, got {show(spec.proxy)}", "alert-proxy")
        )
    if spec.channel and spec.type not in _CHAT:
        out.append(
            warning(
                ("spec", "channel"),
                f"is only used by slack, discord and rocket; ignored by {spec.type.value}",
                "provider-field",
            )
        )
    return out
