"""Rules for MetricTemplates and AlertProviders: what each provider's client refuses when it is built."""

from __future__ import annotations

from serinus.api.alert_provider import AlertProvider
from serinus.api.capabilities import CHAT, METRIC_PROVIDERS, METRICS
from serinus.api.metric_template import MetricTemplate
from serinus.api.problems import Problem, error, one_of, show, warning
from serinus.api.rules.context import is_http_url


def _only(flag: str) -> str:
    """The providers that use a field (`headers`, `region`), for the warning on the others."""
    return one_of([p.type.value for p in METRIC_PROVIDERS if getattr(p, flag)], "and")


def check_metric_template(template: MetricTemplate) -> list[Problem]:
    """What stops this template's provider client from being built or its query from rendering."""
    provider = template.spec.provider
    kind = provider.type
    facts = METRICS[kind]
    base = ("spec", "provider")
    out: list[Problem] = []
    if facts.address_required and not provider.address:
        out.append(
            error(
                (*base, "address"),
                f"is required for a {kind.value} provider",
                "template-address",
                facts.address_required.format(type=kind.value, address=provider.address),
            )
        )
    if provider.address and not is_http_url(provider.address) and facts.url_address:
        out.append(
            error(
                (*base, "address"),
                f"must be an absolute http or https URL, got {show(provider.address)}",
                "template-address",
            )
        )
    if facts.region and not provider.region:
        out.append(
            error(
                (*base, "region"), f"is required for a {kind.value} provider", "template-region", "region not specified"
            )
        )
    if facts.secret_keys and provider.secret_ref is None:
        out.append(
            error(
                (*base, "secretRef"),
                f"is required for a {kind.value} provider: a Secret with {facts.secret_keys}",
                "template-secret",
            )
        )
    if provider.headers and not facts.headers:
        out.append(
            warning(
                (*base, "headers"),
                f"is only sent by the {_only('headers')} provider; ignored by {kind.value}",
                "provider-field",
            )
        )
    if provider.region and not facts.region:
        out.append(
            warning(
                (*base, "region"),
                f"is only used by the {_only('region')} provider; ignored by {kind.value}",
                "provider-field",
            )
        )
    if provider.insecure_skip_verify and not facts.tls_optional:
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
    if spec.channel and spec.type not in CHAT:
        out.append(
            warning(
                ("spec", "channel"),
                f"is only used by slack, discord and rocket; ignored by {spec.type.value}",
                "provider-field",
            )
        )
    return out
