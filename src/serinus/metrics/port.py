"""The engine's Metrics port: the planned checks of one Canary, run against their providers.

Flagger's error texts depend on where a metric failed (template lookup, Secret, provider, render, query), so a
Measurement says which; the engine words it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from serinus.api import CanaryMetric
from serinus.api.judge import MetricJudge
from serinus.engine.faults import describe
from serinus.engine.judge.types import MALFORMED, Observation, VersionCounts
from serinus.engine.ports import Measurement, MetricFailure
from serinus.errors import MalformedAnswer, MetricsError, NoValuesFound, QueryFailed, SerinusError
from serinus.metrics import answers
from serinus.metrics.answers import Fail, finite
from serinus.metrics.builtin import metrics_provider
from serinus.metrics.checks import MetricCheck, PlanError, VersionQueries, plan_observation
from serinus.metrics.http import ProviderHttp
from serinus.metrics.pool import ProviderPool
from serinus.metrics.prometheus import PrometheusProvider, collapse
from serinus.metrics.registry import MetricsProvider, ProviderConfig, make_provider

log = logging.getLogger("serinus.metrics")

_STAGES = {
    "template": MetricFailure.TEMPLATE,
    "secret": MetricFailure.SECRET,
    "provider": MetricFailure.PROVIDER,
    "render": MetricFailure.RENDER,
    "unusable": MetricFailure.UNUSABLE,
}


class CanaryMetrics:
    """Runs the planned checks of one Canary's analysis step."""

    def __init__(
        self,
        plans: Sequence[MetricCheck | PlanError],
        *,
        observer: str,
        namespace: str,
        cluster: Any = None,
        pool: ProviderPool | None = None,
        judges: Mapping[str, MetricJudge] | None = None,
        primary_route: str | None = None,
    ) -> None:
        self.plans = {plan.metric.name: plan for plan in plans}
        #: the metrics' judge blocks in effect (serinus.api.judge.effective_judge: spec or annotations); a metric
        #: missing here uses its own `judge`
        self.judges = dict(judges or {})
        #: Knative: the primary's revision (flagger.app/primary-revision), which the built-in counts select
        self.primary_route = primary_route
        #: the operator's lightkube client, for providers that read the Kubernetes API (keptn, externalmetrics)
        self.cluster = cluster
        #: the operator's providers, kept across steps; without one each check builds and closes its own
        self.pool = pool
        self.observer = observer
        self.namespace = namespace

    async def _open(self, config: ProviderConfig) -> MetricsProvider:
        if self.pool is not None:
            return await self.pool.get(config)
        return make_provider(config, cluster=self.cluster)

    async def _release(self, provider: MetricsProvider) -> None:
        if self.pool is None:
            try:
                await provider.close()
            except Exception:  # closing must never hide the answer (or the error) of the query itself
                log.exception("closing the %s provider failed", provider.name)

    async def providers_online(self) -> str | None:
        """Flagger's checkMetricProviderAvailability, texts included (its spelling too)."""
        seen: set[tuple[str, str]] = set()
        for plan in self.plans.values():
            if isinstance(plan, PlanError):
                if plan.stage in ("template", "secret", "provider"):
                    ref = plan.metric.template_ref
                    name = f"{ref.name}.{ref.namespace_or(self.namespace)}" if ref is not None else plan.metric.name
                    return f"metric template {name} error: {plan.error}"
                continue
            ident = (plan.provider.type, plan.provider.address)
            if ident in seen:
                continue
            seen.add(ident)
            try:
                provider = await self._open(plan.provider)
            except SerinusError as err:
                return f"metric template provider {plan.provider.type} error: {err}"
            try:
                await provider.is_online()
            except MetricsError as err:
                if plan.metric.template_ref is None:
                    return f"prometheus not avaiable: {err}"
                ref = plan.metric.template_ref
                return (
                    f"{plan.provider.type} in metric template {ref.name}.{ref.namespace_or(self.namespace)} "
                    f"not avaiable: {err}"
                )
            finally:
                await self._release(provider)
        return None

    async def measure(self, metric: CanaryMetric) -> Measurement:
        """Run one metric's query now. Never raises: a provider's error, a malformed answer and anything
        unexpected each come back as a Measurement failure the engine words as Flagger does."""
        plan = self.plans.get(metric.name)
        template = ""
        if metric.template_ref is not None:
            template = f"{metric.template_ref.name}.{metric.template_ref.namespace_or(self.namespace)}"
        if plan is None:
            return Measurement(failure=MetricFailure.UNUSABLE, error="not planned", template=template)
        if isinstance(plan, PlanError):
            error = str(plan.error)
            if plan.stage == "secret":
                error = error.removeprefix("secret ")  # the engine says "secret <what went wrong>"
            return Measurement(
                failure=_STAGES.get(plan.stage, MetricFailure.QUERY_FAILED),
                error=error,
                template=template,
                observer=self.observer,
            )
        try:
            provider = await self._open(plan.provider)
        except SerinusError as err:
            return Measurement(
                failure=MetricFailure.PROVIDER, error=str(err), template=template, provider_type=plan.provider.type
            )
        except Exception as err:  # a provider that cannot even be built must fail the check, not the step
            log.exception("metric %s: building the %s provider failed", metric.name, plan.provider.type)
            return Measurement(
                failure=MetricFailure.PROVIDER,
                error=unexpected(err),
                template=template,
                provider_type=plan.provider.type,
            )
        # the built-ins' texts do not name the metric (Flagger's "Prometheus query failed: ..."): a malformed
        # answer says which one it was
        named = f"{metric.name}: " if plan.observer is not None else ""
        common: dict[str, Any] = {"observer": self.observer, "template": template, "query": plan.query}
        fail = _malformed(provider, plan.query)
        try:
            raw = await provider.query(plan.query)
            if isinstance(raw, float) and math.isnan(raw):  # every provider's rule for NaN: no values found
                raise NoValuesFound(f"{provider.name}: no values found (NaN)", provider=provider.name)
            raw = finite(raw, "the answer", fail)
            value = plan.judged_value(raw)
            if not math.isfinite(value):
                raise fail(f"the answer {raw:g} is out of range for {metric.name}")
        except NoValuesFound as err:
            return Measurement(failure=MetricFailure.NO_DATA, error=str(err), **common)
        except MalformedAnswer as err:
            return Measurement(failure=MetricFailure.MALFORMED, error=named + str(err), **common)
        except MetricsError as err:
            return Measurement(failure=MetricFailure.QUERY_FAILED, error=str(err), **common)
        except Exception as err:  # a bug or an answer no parser expected: a failed check that says so
            log.exception("metric %s: the %s query failed unexpectedly", metric.name, plan.provider.type)
            return Measurement(
                failure=MetricFailure.ERROR, error=f"{named}{provider.name}: {unexpected(err)}", **common
            )
        finally:
            await self._release(provider)
        return Measurement(value=value, **common)

    async def observe(self, metric: CanaryMetric, window_s: float, baseline: bool) -> Observation:
        """The statistical judge's data for one metric over the last `window_s` seconds (see
        serinus.metrics.checks.plan_observation for which queries), run on the provider the metric's check uses.

        A count query that finds no series gives None for that count (no data; the judge decides what it means);
        any other provider failure sets `error` to the text the check itself would report.
        """
        plan = self.plans.get(metric.name)
        if plan is None:
            return Observation(metric.name, error="not planned")
        if isinstance(plan, PlanError):
            return Observation(metric.name, error=str(plan.error))
        judge = self.judges.get(metric.name) or metric.judge
        try:
            wanted = plan_observation(plan, judge, window_s, baseline=baseline, primary_route=self.primary_route)
        except SerinusError as err:
            return Observation(metric.name, error=str(err))
        queries = tuple(" ".join(q.split()) for q in wanted.queries())
        try:
            provider = await self._open(plan.provider)
        except SerinusError as err:
            return Observation(metric.name, wanted.kind, error=str(err), queries=queries)
        try:
            canary = await version_counts(provider, wanted.canary)
            primary = await version_counts(provider, wanted.primary) if wanted.primary is not None else None
        except MalformedAnswer as err:
            return Observation(metric.name, wanted.kind, error=_without_query(err), queries=queries, failure=MALFORMED)
        except MetricsError as err:
            return Observation(metric.name, wanted.kind, error=_without_query(err), queries=queries)
        finally:
            await self._release(provider)
        return Observation(metric.name, wanted.kind, canary, primary, queries=queries)


def _without_query(err: MetricsError) -> str:
    """The error's text without its `; query: ...` tail: an Observation carries its rendered queries already."""
    return str(err).removesuffix(f"; query: {err.query}") if err.query else str(err)


def _malformed(provider: MetricsProvider, query: str) -> Fail:
    """A MalformedAnswer naming the provider (and its address where it has one) and the query."""
    http = getattr(provider, "http", None)
    if isinstance(http, ProviderHttp):
        return http.malformed(query)
    return lambda what: MalformedAnswer(f"{provider.name}: {what}; query: {query}", provider=provider.name, query=query)


def unexpected(err: BaseException) -> str:
    """An exception no code path expected, for a message: its type and the start of its text."""
    return f"unexpected {describe(err)}"


async def _number(provider: MetricsProvider, query: str, what: str) -> float | None:
    """One count or value; None when the query finds no series (or NaN). A count is never negative or
    infinite: such an answer is MalformedAnswer, as the check itself would report it."""
    if not query:
        return None
    try:
        value = await provider.query(query)
    except NoValuesFound:
        return None
    value = finite(value, what, _malformed(provider, query))
    if what != "value" and value < 0:
        raise _malformed(provider, query)(f"{what} is {value:g}, a count cannot be negative")
    return value


async def _buckets(provider: MetricsProvider, query: str, unit: str) -> tuple[tuple[float, float], ...]:
    """A `sum by (le)` vector as cumulative (upper bound in ms, count) pairs, ascending, +Inf last; () when the
    query finds no series. Counts are made non-decreasing in `le`, as histogram_quantile does: increase()
    extrapolates each bucket's series on its own, so neighbours can cross by a fraction. A bound or count that is
    not a number, a negative or infinite count, and a body of the wrong shape are MalformedAnswer."""
    if not isinstance(provider, PrometheusProvider):
        raise QueryFailed(
            f"{provider.name}: bucket queries need a Prometheus-compatible provider",
            provider=provider.name,
            query=query,
        )
    query = collapse(query)
    fail = provider.malformed(query)
    body = await provider._get(query)  # the provider's own request, errors and all
    data = answers.obj(body.get("data"), "data", fail)
    if data.get("resultType") != "vector":
        raise provider.http.error(
            QueryFailed, f"a bucket query must return a vector by le, not {data.get('resultType')}", query
        )
    pairs: list[tuple[float, float]] = []
    for series in answers.items(data.get("result"), "data.result", fail):
        series = answers.obj(series, "a series of data.result", fail)
        le, sample = answers.obj(series.get("metric"), "a series' metric", fail).get("le"), series.get("value")
        if le is None or not sample:
            continue
        if not isinstance(sample, list) or len(sample) != 2:
            raise fail(f'a sample is {answers.shown(sample)}, not [<time>, "<value>"]')
        bound = _bound(le, fail)
        count = answers.number(sample[1], f"the count of bucket le={le}", fail)
        if count is None or math.isnan(count):
            continue
        if count < 0:
            raise fail(f"the count of bucket le={le} is {count:g}, a count cannot be negative")
        pairs.append((bound * 1000 if unit == "s" else bound, count))
    pairs.sort()
    out: list[tuple[float, float]] = []
    for bound, count in pairs:
        out.append((bound, max(count, out[-1][1]) if out else count))
    return tuple(out)


def _bound(le: Any, fail: Fail) -> float:
    """A histogram bucket's `le` label: a number, `+Inf` for the last; NaN, -Inf or a negative bound is malformed."""
    try:
        bound = float(le) if isinstance(le, str) else math.nan
    except ValueError:
        bound = math.nan
    if math.isnan(bound) or bound < 0:
        raise fail(f"bucket bound le={answers.shown(le)} is not a non-negative number")
    return bound


async def version_counts(provider: MetricsProvider, queries: VersionQueries) -> VersionCounts:
    """Run one version's queries. Where latency is only a sum and a count, `value` is the mean in ms and
    `requests` the count it is the mean of. No bad-request series beside a request count means no bad requests."""
    requests = await _number(provider, queries.requests, "the request count")
    bad = await _number(provider, queries.bad, "the bad-request count")
    buckets = await _buckets(provider, queries.buckets, queries.unit) if queries.buckets else ()
    value = await _number(provider, queries.value, "value")
    if queries.duration_sum and queries.duration_count:
        total = await _number(provider, queries.duration_sum, "the duration sum")
        count = await _number(provider, queries.duration_count, "the duration count")
        requests = count
        if total is not None and count:
            value = finite(
                total / count * (1000 if queries.unit == "s" else 1),
                "the mean duration",
                _malformed(provider, queries.duration_sum),
            )
    if bad is None and requests is not None and queries.bad:
        bad = 0.0  # a 5xx series appears with the first error: none found next to a request count means none
    return VersionCounts(requests=requests, bad=bad, buckets=buckets, value=value)


def observer_name(mesh_provider: str, provider: str | None, kind: str, api_version: str) -> str:
    """The metrics provider named in Flagger's no-data text (istio, nginx, kubernetes:service, ...)."""
    return metrics_provider(mesh_provider, provider, kind, api_version)
