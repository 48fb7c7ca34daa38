"""From a Canary to the metric checks of one analysis step: which query, rendered how, run where, judged how.

Order is Flagger's: built-in and inline-query metrics first (on the Canary's Prometheus), then MetricTemplate
metrics. A metric that cannot be planned (missing template, missing Secret, bad template) is reported on its
own; the others still run.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from serinus.api import Canary, CanaryMetric, MetricTemplate
from serinus.api.duration import duration_seconds
from serinus.api.judge import MetricJudge
from serinus.api.judge import MetricKind as JudgeKind
from serinus.engine.dialects import dialect_of
from serinus.engine.gofmt import fits_ms
from serinus.engine.templating import TemplateContext, render
from serinus.engine.thresholds import MetricKind, within
from serinus.errors import InvalidSpecError, SerinusError
from serinus.metrics.builtin import (
    DURATION,
    PRIMARY,
    SUCCESS_RATE,
    CountQueries,
    Observer,
    Version,
    builtin_query,
    count_queries,
    duration_ms,
    metrics_provider,
    observer_for,
    render_window,
    window_text,
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
    #: what the query was rendered from (the statistical judge renders it again for the primary)
    ctx: TemplateContext | None = None
    template: str = ""  # the unrendered query of inline and template metrics

    def judged_value(self, raw: float) -> float:
        """The value thresholds apply to: built-in durations in whole milliseconds, everything else as returned.
        A duration that does not fit in whole milliseconds (±Inf, NaN, beyond a double) comes back as the
        non-finite float it is, for the caller to refuse; it never raises."""
        if self.kind is MetricKind.DURATION_MS and self.observer is not None:
            scaled = raw * 1000 if self.observer.duration_unit == "s" else raw
            if not fits_ms(scaled):  # beyond Go's time.Duration, which Flagger's conversion wraps around
                return scaled if math.isnan(scaled) else math.copysign(math.inf, scaled)
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
        name=canary.metadata.name or "",
        namespace=canary.metadata.namespace or "default",
        target=target,
        service=spec.service.name if spec.service is not None and spec.service.name else target,
        ingress=spec.ingress_ref.name if spec.ingress_ref is not None else target,
        route=route or (spec.route_ref.name if spec.route_ref is not None else target),
        interval=interval,
        variables=dict(variables),
    )


def decode_secret(secret: Mapping[str, object]) -> dict[str, str]:
    """A Secret's data (base64) and stringData merged into plain strings."""
    data: Mapping[str, object] = secret.get("data") or {}  # type: ignore[assignment]
    string_data: Mapping[str, object] = secret.get("stringData") or {}  # type: ignore[assignment]
    out = {k: base64.b64decode(str(v)).decode() for k, v in data.items()}
    out.update({k: str(v) for k, v in string_data.items()})
    return out


def plan_checks(
    canary: Canary,
    *,
    mesh_provider: str,
    metrics_server: str,
    templates: Mapping[tuple[str, str], MetricTemplate],
    secrets: Mapping[tuple[str, str], Mapping[str, object]],
    route: str | None = None,
) -> list[MetricCheck | PlanError]:
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
                observer = observer_for(
                    metrics_provider(
                        mesh_provider,
                        canary.spec.provider,
                        str(canary.spec.target_ref.kind),
                        canary.spec.target_ref.api_version,
                    )
                )
                kind = MetricKind.SUCCESS_RATE if metric.name == SUCCESS_RATE else MetricKind.DURATION_MS
                plans.append(
                    MetricCheck(metric, kind, builtin_query(observer, metric.name, ctx), prometheus, observer, ctx)
                )
            elif metric.query:
                plans.append(
                    MetricCheck(
                        metric, MetricKind.CUSTOM, render(metric.query, ctx), prometheus, ctx=ctx, template=metric.query
                    )
                )
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
            ctx = context(canary, metric.interval_or_default(), metric.template_variables, route)
            query = render(template.spec.query, ctx, dialect_of(str(provider.type)))
            # As in Flagger, a template's provider uses its own address only (no fallback to the metrics server).
            stage = "provider"
            config = ProviderConfig(
                str(provider.type),
                provider.address,
                headers=provider.headers,
                secret=secret,
                region=provider.region,
                insecure_skip_verify=provider.insecure_skip_verify,
                interval_s=duration_seconds(metric.interval) if metric.interval else None,
            )
            plans.append(MetricCheck(metric, MetricKind.CUSTOM, query, config, ctx=ctx, template=template.spec.query))
        except SerinusError as err:
            plans.append(PlanError(metric, err, stage))
    return plans


@dataclass(frozen=True)
class VersionQueries:
    """The rendered queries the statistical judge reads for one version of one metric.

    Counts (`requests`, `bad`, `duration_sum`, `duration_count`) and `value` are one number each; `buckets` is a
    vector by `le` (cumulative, upper bounds in `unit`). Only the queries of the metric's kind are set.
    """

    requests: str = ""
    bad: str = ""
    buckets: str = ""
    duration_sum: str = ""
    duration_count: str = ""
    value: str = ""  # scalar kind: the metric's own query
    unit: str = "ms"  # of the buckets' bounds and duration_sum ("s" is converted to ms)

    def all(self) -> tuple[str, ...]:
        """Every query that is set, in a fixed order."""
        return tuple(
            q for q in (self.requests, self.bad, self.buckets, self.duration_sum, self.duration_count, self.value) if q
        )

    @staticmethod
    def of_counts(counts: CountQueries) -> VersionQueries:
        """A built-in observer's count queries."""
        return VersionQueries(
            requests=counts.requests,
            bad=counts.errors,
            buckets=counts.buckets,
            duration_sum=counts.duration_sum,
            duration_count=counts.duration_count,
            unit=counts.unit,
        )


@dataclass(frozen=True)
class ObservationPlan:
    """What the statistical judge reads for one metric: the test kind and each version's queries."""

    kind: str  # ratio | histogram | absolute | scalar (serinus.api.judge.MetricKind values)
    canary: VersionQueries
    primary: VersionQueries | None  # None without a baseline

    def queries(self) -> tuple[str, ...]:
        """Every rendered query, the canary's first (for the ledger)."""
        return self.canary.all() + (self.primary.all() if self.primary is not None else ())


def primary_context(ctx: TemplateContext, judge: MetricJudge | None) -> TemplateContext:
    """A custom metric's context for the primary: `target` is `<target>-primary` (Flagger's name for the primary
    workload) and `judge.primaryVariables` override the template variables."""
    variables = {**ctx.variables, **(judge.primary_variables if judge is not None else {})}
    return dataclasses.replace(ctx, target=f"{ctx.target}-primary", variables=variables)


def plan_observation(
    check: MetricCheck, judge: MetricJudge | None, window_s: float, *, baseline: bool, primary_route: str | None = None
) -> ObservationPlan:
    """The statistical judge's queries for one planned check over the last `window_s` seconds.

    Built-ins: the observer's count queries (request-success-rate a ratio of requests and 5xx; request-duration a
    histogram, or a scalar mean where the observer has only _sum / _count). Custom metrics: `judge.requestsQuery`
    and `badQuery` make a ratio (`{{ interval }}` is the window), `bucketsQuery` with `kind: histogram` a histogram
    (bounds in ms); otherwise the metric's own query, rendered for both versions, is a scalar. The primary's
    rendering of a custom query uses primary_context. `primary_route`: the primary's revision (Knative). Raises
    InvalidSpecError (or TemplateError) when the queries cannot be made.
    """
    window = window_text(window_s)
    wanted = judge.kind if judge is not None else None
    observer, ctx = check.observer, check.ctx
    dialect = dialect_of(check.provider.type)
    if ctx is None:
        raise InvalidSpecError(f"metric {check.metric.name}: no template context to render its judge queries")
    if observer is not None:

        def builtin(version: Version) -> VersionQueries:
            return VersionQueries.of_counts(count_queries(observer, ctx, version, window, primary_route))

        canary = builtin("canary")
        primary = builtin(PRIMARY) if baseline else None
        if check.metric.name == SUCCESS_RATE:
            kind = JudgeKind.ABSOLUTE if wanted is JudgeKind.ABSOLUTE else JudgeKind.RATIO
            keys: tuple[str, ...] = ("requests", "bad")
        else:
            kind = JudgeKind.HISTOGRAM if canary.buckets else JudgeKind.SCALAR
            keys = ("buckets", "duration_sum", "duration_count")
        return ObservationPlan(str(kind), _only(canary, keys), _only(primary, keys) if primary is not None else None)
    other = primary_context(ctx, judge)
    has_counts = judge is not None and bool(judge.requests_query and judge.bad_query)
    has_buckets = judge is not None and bool(judge.buckets_query)
    if wanted in (JudgeKind.RATIO, JudgeKind.ABSOLUTE) and not has_counts:
        raise InvalidSpecError(f"metric {check.metric.name}: judge kind {wanted} needs requestsQuery and badQuery")
    if wanted is JudgeKind.HISTOGRAM and not has_buckets:
        raise InvalidSpecError(f"metric {check.metric.name}: judge kind histogram needs bucketsQuery")
    if judge is not None and has_counts and wanted in (None, JudgeKind.RATIO, JudgeKind.ABSOLUTE):

        def counts(version_ctx: TemplateContext) -> VersionQueries:
            assert judge is not None
            return VersionQueries(
                requests=render_window(judge.requests_query, version_ctx, window, dialect),
                bad=render_window(judge.bad_query, version_ctx, window, dialect),
            )

        return ObservationPlan(str(wanted or JudgeKind.RATIO), counts(ctx), counts(other) if baseline else None)
    if judge is not None and has_buckets and wanted is JudgeKind.HISTOGRAM:  # as the judge's settings read it

        def buckets(version_ctx: TemplateContext) -> VersionQueries:
            assert judge is not None
            return VersionQueries(buckets=render_window(judge.buckets_query, version_ctx, window, dialect))

        return ObservationPlan(str(JudgeKind.HISTOGRAM), buckets(ctx), buckets(other) if baseline else None)
    # a scalar: the metric's own query over its own interval, for each version
    return ObservationPlan(
        str(JudgeKind.SCALAR),
        VersionQueries(value=check.query),
        VersionQueries(value=render(check.template, other, dialect)) if baseline else None,
    )


def _only(queries: VersionQueries, keys: tuple[str, ...]) -> VersionQueries:
    """`queries` with only `keys` (and the unit) kept."""
    return VersionQueries(unit=queries.unit, **{key: getattr(queries, key) for key in keys})
