"""The statistical judge's count queries: every observer's, for the canary and the primary, and what
CanaryMetrics.observe makes of their answers."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from serinus.api import Canary, CanaryMetric
from serinus.engine.templating import TemplateContext
from serinus.errors import InvalidSpecError
from serinus.metrics.builtin import count_queries, observers, window_text
from serinus.metrics.checks import MetricCheck, plan_checks
from serinus.metrics.port import CanaryMetrics
from serinus.metrics.prometheus import PrometheusProvider
from serinus.metrics.registry import MetricsProvider, ProviderConfig

CTX = TemplateContext(
    name="podinfo",
    namespace="test",
    target="podinfo",
    service="podinfo",
    ingress="podinfo",
    route="podinfo",
    interval="1m",
    variables={},
)

#: the selector each version's queries must carry, per observer
SELECTORS = {
    "istio": ('destination_workload=~"podinfo"', 'destination_workload=~"podinfo-primary"'),
    "linkerd": ('deployment=~"podinfo"', 'deployment=~"podinfo-primary"'),
    "appmesh": (
        'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
        'kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
    ),
    "http": (
        'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
        'kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"',
    ),
    "osm": ('destination_name="podinfo"', 'destination_name="podinfo-primary"'),
    "contour": (
        'envoy_cluster_name=~"test_podinfo-canary_[0-9a-zA-Z-]+"',
        'envoy_cluster_name=~"test_podinfo-primary_[0-9a-zA-Z-]+"',
    ),
    "gloo": (
        'envoy_cluster_name=~"test-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"',
        'envoy_cluster_name=~"test-podinfo-primaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"',
    ),
    "kuma": ('service=~"podinfo-canary_test_svc_[0-9a-zA-Z-]+"', 'service=~"podinfo-primary_test_svc_[0-9a-zA-Z-]+"'),
    "traefik": (
        'service=~"test-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd"',
        'service=~"test-podinfo-primary-[0-9a-zA-Z-]+@kubernetescrd"',
    ),
    "skipper": (
        'route=~"kube(ew)?_test__podinfo_canary__.*__podinfo_canary(_[0-9]+)?"',
        'route=~"kube(ew)?_test__podinfo_canary__.*__podinfo_primary(_[0-9]+)?"',
    ),
    "apisix": ('route=~"test_podinfo-podinfo-canary_.+"', 'route=~"test_podinfo-podinfo-primary_.+"'),
    "nginx": ('ingress="podinfo", canary!=""', 'ingress="podinfo", canary=""'),
    "knative": ('envoy_cluster_name=~"test/podinfo"', 'envoy_cluster_name=~"test/podinfo-00001"'),
}
#: the 5xx (or failure) filter of each observer's bad-request query: the complement of its success filter
BAD = {
    "linkerd": 'classification="failure"',
    "skipper": 'code=~"5.."',
    "traefik": 'code=~"5.."',
    "apisix": 'code=~"5.."',
    "http": 'status=~"5.*"',
    "nginx": 'status=~"5.*"',
    "istio": 'response_code=~"5.*"',
    "osm": 'response_code=~"5.*"',
}


def flat(query: str) -> str:
    return " ".join(query.split())


@pytest.mark.parametrize("observer", sorted(observers()))
@pytest.mark.parametrize("version", ["canary", "primary"])
def test_count_queries_select_each_version(observer: str, version: str) -> None:
    """Every query of a version carries that version's selector and never the other's; every one counts an
    increase over the window; the bad query adds the observer's own failure filter to the requests query."""
    queries = count_queries(observers()[observer], CTX, version, "45s", primary_route="podinfo-00001")  # type: ignore[arg-type]
    mine, other = SELECTORS[observer] if version == "canary" else SELECTORS[observer][::-1]
    for query in map(flat, queries.all()):
        assert mine in query, (observer, version, query)
        assert other not in query, (observer, version, query)
        assert "increase(" in query
        assert "[45s]" in query
        assert "rate(" not in query
        assert "{{" not in query
    assert BAD.get(observer, 'envoy_response_code=~"5.*"') in flat(queries.errors)
    assert flat(queries.errors).replace(BAD.get(observer, 'envoy_response_code=~"5.*"'), "") != flat(queries.requests)


def test_latency_data_per_observer() -> None:
    """Every observer but NGINX has a histogram (bounds in ms or s); NGINX has only the sum and count."""
    without = {name for name, o in observers().items() if o.counts is not None and not o.counts.buckets}
    assert without == {"nginx"}
    nginx = count_queries(observers()["nginx"], CTX, "canary", "1m")
    assert "_sum{" in nginx.duration_sum
    assert "_count{" in nginx.duration_count
    assert nginx.unit == "s"
    units = {name: o.counts.unit for name, o in observers().items() if o.counts is not None}
    assert {n for n, u in units.items() if u == "s"} == {"http", "nginx", "skipper", "traefik"}
    for name in set(observers()) - {"nginx"}:
        assert flat(count_queries(observers()[name], CTX, "canary", "1m").buckets).startswith("sum by (le) (increase(")


def test_knative_primary_needs_the_primary_revision() -> None:
    """Knative's route is the latest created revision; the primary's counts need the primary's revision."""
    with pytest.raises(InvalidSpecError, match="primary's revision"):
        count_queries(observers()["knative"], CTX, "primary", "1m")


def test_skipper_names_are_sanitized_in_counts() -> None:
    """Skipper's `\\W` → `_` rule applies to the count queries too."""
    ctx = TemplateContext(
        name="p",
        namespace="my-ns",
        target="podinfo",
        service="podinfo",
        ingress="podinfo.ing",
        route="podinfo",
        interval="1m",
        variables={},
    )
    query = count_queries(observers()["skipper"], ctx, "primary", "1m").requests
    assert 'route=~"kube(ew)?_my_ns__podinfo_ing_canary__.*__podinfo_primary(_[0-9]+)?"' in query


@pytest.mark.parametrize(("seconds", "text"), [(60, "60s"), (15.0, "15s"), (37.5, "37500ms"), (0.25, "250ms")])
def test_window_text(seconds: float, text: str) -> None:
    """Windows are PromQL durations: whole seconds, else milliseconds."""
    assert window_text(seconds) == text


# --- observe() on a fake Prometheus ---------------------------------------------------------------------------


def _vector(*series: tuple[dict[str, str], float]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": m, "value": [0, str(v)]} for m, v in series]},
    }


class FakeMetrics(CanaryMetrics):
    """CanaryMetrics whose every provider is a Prometheus answering from `answer(query)`."""

    def __init__(self, *args: Any, answer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer = answer
        self.seen: list[str] = []

    async def _open(self, config: ProviderConfig) -> MetricsProvider:
        def handle(request: httpx2.Request) -> httpx2.Response:
            query = request.url.params["query"]
            self.seen.append(query)
            return httpx2.Response(200, json=self.answer(query))

        return PrometheusProvider(config.address or "http://prom", transport=httpx2.MockTransport(handle))


def _canary(metrics: list[dict[str, Any]], provider: str = "istio") -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {"interval": "30s", "metrics": metrics},
            },
        }
    )


def _metrics(canary: Canary, answer: Any, **kwargs: Any) -> FakeMetrics:
    plans = plan_checks(canary, mesh_provider="istio", metrics_server="http://prom", templates={}, secrets={})
    return FakeMetrics(plans, observer="istio", namespace="test", answer=answer, **kwargs)


def _metric(canary: Canary, name: str) -> CanaryMetric:
    return next(m for m in canary.analysis_or_default().metrics if m.name == name)


def _istio_answer(query: str) -> dict[str, Any]:
    primary = "podinfo-primary" in query
    if query.startswith("sum by (le)"):  # ms bounds
        total = 400.0 if primary else 100.0
        return _vector(({"le": "250"}, total * 0.9), ({"le": "50"}, total * 0.5), ({"le": "+Inf"}, total))
    if "5.*" in query:
        return _vector(({}, 4.0)) if primary else _vector()
    return _vector(({}, 400.0 if primary else 100.0))


async def test_observe_builtin_ratio_and_histogram() -> None:
    """request-success-rate is a ratio of requests and 5xx for both versions (no 5xx series beside a request count:
    zero errors, since the 5xx series only appears with the first error), and
    request-duration a histogram in ms, ascending with +Inf last; the rendered queries come along."""
    canary = _canary(
        [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
            {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"},
        ]
    )
    metrics = _metrics(canary, _istio_answer)
    ratio = await metrics.observe(_metric(canary, "request-success-rate"), 30, True)
    assert ratio.error is None
    assert ratio.kind == "ratio"
    assert (ratio.canary.requests, ratio.canary.bad) == (100.0, 0.0)
    assert ratio.primary is not None
    assert (ratio.primary.requests, ratio.primary.bad) == (400.0, 4.0)
    assert len(ratio.queries) == 4
    assert all("[30s]" in q for q in ratio.queries)
    hist = await metrics.observe(_metric(canary, "request-duration"), 30, True)
    assert hist.kind == "histogram"
    assert hist.canary.buckets == ((50.0, 50.0), (250.0, 90.0), (float("inf"), 100.0))
    assert hist.primary is not None
    assert hist.primary.buckets[-1] == (float("inf"), 400.0)
    alone = await metrics.observe(_metric(canary, "request-success-rate"), 30, False)
    assert alone.primary is None
    assert len(alone.queries) == 2


async def test_observe_seconds_histogram_and_nginx_mean() -> None:
    """Bounds in seconds become ms (traefik); NGINX latency is the mean in ms of sum / count (a scalar)."""

    def answer(query: str) -> dict[str, Any]:
        if query.startswith("sum by (le)"):
            return _vector(({"le": "0.05"}, 9.0), ({"le": "+Inf"}, 10.0), ({"le": "0.25"}, 9.95))
        if "_sum{" in query:
            return _vector(({}, 12.0 if 'canary=""' in query else 3.0))
        if "_count{" in query:
            return _vector(({}, 100.0 if 'canary=""' in query else 20.0))
        return _vector(({}, 1.0))

    duration = [{"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"}]
    traefik = _canary(duration, "traefik")
    obs = await _metrics(traefik, answer).observe(_metric(traefik, "request-duration"), 60, True)
    assert obs.canary.buckets == ((50.0, 9.0), (250.0, 9.95), (float("inf"), 10.0))
    nginx = _canary(duration, "nginx")
    obs = await _metrics(nginx, answer).observe(_metric(nginx, "request-duration"), 60, True)
    assert obs.kind == "scalar"
    assert obs.canary.value == pytest.approx(150.0)
    assert obs.canary.requests == 20.0
    assert obs.primary is not None
    assert obs.primary.value == pytest.approx(120.0)


async def test_observe_custom_ratio_uses_primary_target_and_variables() -> None:
    """A custom metric with requestsQuery and badQuery is a ratio; the primary's rendering has target
    <target>-primary and judge.primaryVariables over the template variables; `{{ interval }}` is the window."""
    canary = _canary(
        [
            {
                "name": "errors",
                "query": 'sum(rate(x{app="{{ target }}"}[{{ interval }}]))',
                "interval": "1m",
                "thresholdRange": {"max": 1},
                "templateVariables": {"track": "canary"},
                "judge": {
                    "requestsQuery": 'sum(increase(req{app="{{ target }}",'
                    'track="{{ variables.track }}"}[{{ interval }}]))',
                    "badQuery": 'sum(increase(req{app="{{ target }}",code="500"}[{{ interval }}]))',
                    "primaryVariables": {"track": "stable"},
                },
            }
        ]
    )
    metrics = _metrics(canary, lambda q: _vector(({}, 7.0 if "podinfo-primary" in q else 3.0)))
    obs = await metrics.observe(_metric(canary, "errors"), 20, True)
    assert obs.kind == "ratio"
    assert obs.canary.requests == 3.0
    assert obs.primary is not None
    assert obs.primary.bad == 7.0
    assert obs.queries == (
        'sum(increase(req{app="podinfo",track="canary"}[20s]))',
        'sum(increase(req{app="podinfo",code="500"}[20s]))',
        'sum(increase(req{app="podinfo-primary",track="stable"}[20s]))',
        'sum(increase(req{app="podinfo-primary",code="500"}[20s]))',
    )


async def test_observe_custom_absolute_reads_both_versions_counts() -> None:
    """kind absolute with maxBadShare counts the custom metric's requests and bad requests like a ratio; the
    primary's counts come along, because an interval in which the primary breaks the bound too is not counted."""
    canary = _canary(
        [
            {
                "name": "errors",
                "query": "sum(x)",
                "interval": "1m",
                "thresholdRange": {"max": 1},
                "judge": {
                    "kind": "absolute",
                    "maxBadShare": "1%",
                    "requestsQuery": 'sum(req{app="{{ target }}"})',
                    "badQuery": 'sum(bad{app="{{ target }}"})',
                },
            }
        ]
    )
    metrics = _metrics(
        canary,
        lambda q: _vector(
            ({}, (50.0 if "bad" in q else 900.0) if "podinfo-primary" in q else (2.0 if "bad" in q else 100.0))
        ),
    )
    obs = await metrics.observe(_metric(canary, "errors"), 60, True)
    assert obs.kind == "absolute"
    assert (obs.canary.requests, obs.canary.bad) == (100.0, 2.0)
    assert obs.primary is not None
    assert (obs.primary.requests, obs.primary.bad) == (900.0, 50.0)


async def test_observe_custom_scalar_is_its_own_query_for_both_versions() -> None:
    """Without count queries a custom metric is a scalar: its own query (own interval), canary and primary."""
    canary = _canary(
        [
            {
                "name": "p99",
                "query": 'max(lat{app="{{ target }}"}[{{ interval }}])',
                "interval": "2m",
                "thresholdRange": {"max": 1},
            }
        ]
    )
    metrics = _metrics(canary, lambda q: _vector(({}, 2.0 if "primary" in q else 1.0)))
    obs = await metrics.observe(_metric(canary, "p99"), 30, True)
    assert obs.kind == "scalar"
    assert obs.canary.value == 1.0
    assert obs.primary is not None
    assert obs.primary.value == 2.0
    assert obs.queries == ('max(lat{app="podinfo"}[2m])', 'max(lat{app="podinfo-primary"}[2m])')


async def test_observe_custom_histogram_only_with_kind_histogram() -> None:
    """bucketsQuery makes a custom metric a histogram when its judge says `kind: histogram` (rendered for both
    versions over the window); without the kind the metric stays a scalar, as the judge's settings read it."""
    buckets = 'sum by (le) (increase(lat_bucket{app="{{ target }}"}[{{ interval }}]))'
    base = {
        "name": "lat",
        "query": 'max(lat{app="{{ target }}"}[{{ interval }}])',
        "interval": "1m",
        "thresholdRange": {"max": 1},
    }
    canary = _canary([{**base, "judge": {"kind": "histogram", "bucketsQuery": buckets}}])

    def answer(query: str) -> dict[str, Any]:
        if "by (le)" in query:
            return _vector(({"le": "100"}, 9.0), ({"le": "+Inf"}, 10.0))
        return _vector(({}, 1.0))

    obs = await _metrics(canary, answer).observe(_metric(canary, "lat"), 30, True)
    assert obs.kind == "histogram"
    assert obs.canary.buckets == ((100.0, 9.0), (float("inf"), 10.0))
    assert obs.queries == (
        'sum by (le) (increase(lat_bucket{app="podinfo"}[30s]))',
        'sum by (le) (increase(lat_bucket{app="podinfo-primary"}[30s]))',
    )
    plain = _canary([{**base, "judge": {"bucketsQuery": buckets}}])
    obs = await _metrics(plain, answer).observe(_metric(plain, "lat"), 30, True)
    assert obs.kind == "scalar"


async def test_observe_provider_error_is_the_checks_text() -> None:
    """A failing query sets Observation.error to the provider's classified text, as the check would report."""
    canary = _canary([{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}])
    plans = plan_checks(canary, mesh_provider="istio", metrics_server="http://prom", templates={}, secrets={})
    check = plans[0]
    assert isinstance(check, MetricCheck)

    class Failing(FakeMetrics):
        async def _open(self, config: ProviderConfig) -> MetricsProvider:
            def handle(request: httpx2.Request) -> httpx2.Response:
                return httpx2.Response(400, json={"status": "error", "errorType": "bad_data", "error": "parse error"})

            return PrometheusProvider("http://prom", transport=httpx2.MockTransport(handle))

    obs = await Failing(plans, observer="istio", namespace="test", answer=None).observe(check.metric, 30, True)
    assert obs.error is not None
    assert obs.error.startswith("prometheus http://prom: query failed (HTTP 400 bad_data")
    # the error says what failed once; the rendered query that failed is in queries, not repeated in the text
    assert "query:" not in obs.error
    assert obs.queries[0].startswith("sum(increase(istio_requests_total")
    assert json.dumps(obs.queries)
