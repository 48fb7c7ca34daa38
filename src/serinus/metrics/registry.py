"""Metric providers by MetricTemplate `spec.provider.type`: one module each (the one serinus.api.capabilities'
METRIC_PROVIDERS names for the type), one factory here.

A provider is built from a ProviderConfig (the template's provider block with its Secret's data already read)
and answers `query()` with one number or raises one of serinus.errors' MetricsError subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from serinus.api import capabilities
from serinus.errors import InvalidSpecError
from serinus.metrics import (
    cloudwatch,
    datadog,
    dynatrace,
    externalmetrics,
    graphite,
    influxdb,
    kayenta,
    keptn,
    newrelic,
    prometheus,
    splunk,
    stackdriver,
)


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


def _interval(config: ProviderConfig) -> float:
    """The metric's interval, which providers that query a time window are built from (as in Flagger)."""
    if not config.interval_s:
        raise InvalidSpecError(
            f"{config.type}: the metric needs an interval (the provider queries a window of ten intervals)"
        )
    return config.interval_s


def _prometheus(config: ProviderConfig, _: Any = None) -> MetricsProvider:
    secret = config.secret
    return prometheus.PrometheusProvider(
        config.address,
        token=secret.get("token") or None,
        username=secret.get("username") if "username" in secret or "password" in secret else None,
        password=secret.get("password") if "username" in secret or "password" in secret else None,
        headers={k: ", ".join(v) for k, v in config.headers.items()},
        insecure_skip_verify=config.insecure_skip_verify,
    )


#: type -> factory(config, cluster), where cluster is the operator's lightkube client (or None outside it); the
#: types are those of METRIC_PROVIDERS, and each factory builds the class of the module it names
PROVIDERS: dict[str, Callable[[ProviderConfig, Any], MetricsProvider]] = {
    "prometheus": _prometheus,
    "datadog": lambda c, _: datadog.DatadogProvider(c.address, c.secret, interval_s=_interval(c)),
    "newrelic": lambda c, _: newrelic.NewRelicProvider(c.address, c.secret, interval_s=_interval(c)),
    "dynatrace": lambda c, _: dynatrace.DynatraceProvider(c.address, c.secret, interval_s=_interval(c)),
    "splunk": lambda c, _: splunk.SplunkProvider(c.address, c.secret, interval_s=_interval(c)),
    "cloudwatch": lambda c, _: cloudwatch.CloudWatchProvider(c.region, interval_s=_interval(c), address=c.address),
    "graphite": lambda c, _: graphite.GraphiteProvider(
        c.address, c.secret, insecure_skip_verify=c.insecure_skip_verify
    ),
    "influxdb": lambda c, _: influxdb.InfluxDBProvider(
        c.address, c.secret, insecure_skip_verify=c.insecure_skip_verify
    ),
    "stackdriver": lambda c, _: stackdriver.StackdriverProvider(c.address, c.secret),
    "kayenta": lambda c, _: kayenta.KayentaProvider(c.address, c.secret, interval_s=c.interval_s),
    "keptn": lambda _, cluster: keptn.KeptnProvider(cluster),
    "externalmetrics": lambda c, cluster: externalmetrics.ExternalMetricsProvider(
        c.address, c.secret, client=cluster, insecure_skip_verify=c.insecure_skip_verify
    ),
}


#: providers that read the Kubernetes API when they have no address of their own
KUBE_PROVIDERS = frozenset(str(t) for t in capabilities.KUBE_PROVIDERS)


def make_provider(config: ProviderConfig, *, cluster: Any = None) -> MetricsProvider:
    """The provider for `config.type`; an unknown type is an error on the Canary, never a silent fallback.
    `cluster` is a lightkube AsyncClient for the providers that read the Kubernetes API (keptn,
    externalmetrics)."""
    factory = PROVIDERS.get(config.type)
    if factory is None:
        raise InvalidSpecError(f"unknown metrics provider {config.type!r}; known: {', '.join(sorted(PROVIDERS))}")
    return factory(config, cluster)
