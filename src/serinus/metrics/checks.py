"""From a Canary to the metric checks of one analysis step: which query, rendered how, run where, judged how.

Order is Flagger's: built-in and inline-query metrics first (on the Canary's Prometheus), then MetricTemplate
metrics. A metric that cannot be planned (missing template, missing Secret, bad template) is reported on its
own; the others still run.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from serinus.api import Canary, CanaryMetric, MetricTemplate
from serinus.api.duration import duration_seconds
from serinus.engine.templating import TemplateContext, render
from serinus.engine.thresholds import MetricKind, within
from serinus.errors import InvalidSpecError, SerinusError
from serinus.metrics.builtin import (
    DURATION,
    SUCCESS_RATE,
    Observer,
    builtin_query,
    duration_ms,
    metrics_provider,
    observer_for,
)
from serinus.metrics.registry import ProviderConfig

DEFAULT_METRICS_SERVER = "http://prometheus:9090"


@dataclass(frozen=True)
class MetricCheck:
    """One planned check: the rendered query, where it runs, and how its value is judged."""

    metric: CanaryMetric
    kind: MetricKind
    query: str
    provider: ProviderConfig
    observer: Observer | None = None

    def judged_value(self, raw: float) -> float:
        """The value thresholds apply to: built-in durations in whole milliseconds, everything else as returned."""
        if self.kind is MetricKind.DURATION_MS and self.observer is not None:
            return float(duration_ms(self.observer, raw))
        return raw

    def passes(self, raw: float) -> bool:
        """Whether the value is acceptable."""
        return within(self.kind, self.judged_value(raw), self.metric.threshold_range, self.metric.threshold)


@dataclass(frozen=True)
class PlanError:
    """A metric that cannot be checked, and why."""

    metric: CanaryMetric
    error: SerinusError
    #: where planning failed: template, secret, provider, render or unusable (Flagger words each differently)
    stage: str = "template"


def context(canary: Canary, interval: str, variables: Mapping[str, str], route: str | None = None) -> TemplateContext:
    """The names a query template sees (Flagger's MetricTemplateModel); `route` replaces the route name (Knative
    targets: the latest created revision)."""
    spec = canary.spec
    target = spec.target_ref.name
    return TemplateContext(
        name=canary.metadata.name or "", namespace=canary.metadata.namespace or "default", target=target,
        service=spec.service.name if spec.service is not None and spec.service.name else target,
        ingress=spec.ingress_ref.name if spec.ingress_ref is not None else target,
        route=route or (spec.route_ref.name if spec.route_ref is not None else target),
        interval=interval, variables=dict(variables))


def decode_secret(secret: Mapping[str, object]) -> dict[str, str]:
    """A Secret's data (base64) and stringData merged into plain strings."""
    data: Mapping[str, object] = secret.get("data") or {}  # type: ignore[assignment]
    string_data: Mapping[str, object] = secret.get("stringData") or {}  # type: ignore[assignment]
    out = {k: base64.b64decode(str(v)).decode() for k, v in data.items()}
    out.update({k: str(v) for k, v in string_data.items()})
    return out


def plan_checks(canary: Canary, *, mesh_provider: str, metrics_server: str,
                templates: Mapping[tuple[str, str], MetricTemplate],
                secrets: Mapping[tuple[str, str], Mapping[str, object]],
                route: str | None = None) -> list[MetricCheck | PlanError]:
    """Every metric of the Canary's analysis, planned, in the order Flagger runs them (`route`: see context)."""
    namespace = canary.metadata.namespace or "default"
    server = canary.spec.metrics_server or metrics_server or DEFAULT_METRICS_SERVER
    prometheus = ProviderConfig("prometheus", server)
    metrics = canary.analysis_or_default().metrics
    first = [m for m in metrics if m.template_ref is None]
    second = [m for m in metrics if m.template_ref is not None]
    plans: list[MetricCheck | PlanError] = []
    for metric in first:
        stage = "render"
        try:
            ctx = context(canary, metric.interval_or_default(), metric.template_variables, route)
            if metric.name in (SUCCESS_RATE, DURATION) and not metric.query:
                observer = observer_for(metrics_provider(mesh_provider, canary.spec.provider,
                                                         str(canary.spec.target_ref.kind),
                                                         canary.spec.target_ref.api_version))
                kind = MetricKind.SUCCESS_RATE if metric.name == SUCCESS_RATE else MetricKind.DURATION_MS
                plans.append(MetricCheck(metric, kind, builtin_query(observer, metric.name, ctx), prometheus,
                                         observer))
            elif metric.query:
                plans.append(MetricCheck(metric, MetricKind.CUSTOM, render(metric.query, ctx), prometheus))
            else:
                stage = "unusable"
                raise InvalidSpecError(f"metric {metric.name} is neither built in nor has a templateRef or query")
        except SerinusError as err:
            plans.append(PlanError(metric, err, stage))
    for metric in second:
        assert metric.template_ref is not None
        ref_ns = metric.template_ref.namespace_or(namespace)
        stage = "template"
        try:
            template = templates.get((ref_ns, metric.template_ref.name))
            if template is None:
                raise InvalidSpecError(f"metric template {metric.template_ref.name}.{ref_ns} not found")
            provider = template.spec.provider
            secret: dict[str, str] = {}
            if provider.secret_ref is not None:
                stage = "secret"
                raw = secrets.get((ref_ns, provider.secret_ref.name))
                if raw is None:
                    raise InvalidSpecError(f"secret {provider.secret_ref.name}.{ref_ns} not found")
                secret = decode_secret(raw)
            stage = "render"
            query = render(template.spec.query, context(canary, metric.interval_or_default(),
                                                        metric.template_variables, route))
            # As in Flagger, a template's provider uses its own address only (no fallback to the metrics server).
            stage = "provider"
            config = ProviderConfig(str(provider.type), provider.address, headers=provider.headers, secret=secret,
                                    region=provider.region, insecure_skip_verify=provider.insecure_skip_verify,
                                    interval_s=duration_seconds(metric.interval) if metric.interval else None)
            plans.append(MetricCheck(metric, MetricKind.CUSTOM, query, config))
        except SerinusError as err:
            plans.append(PlanError(metric, err, stage))
    return plans
