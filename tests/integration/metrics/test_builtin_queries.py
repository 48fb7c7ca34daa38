"""Built-in queries on a real Prometheus: every one parses, and on known traffic they give the known answer."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from serinus.engine.templating import TemplateContext
from serinus.errors import NoValuesFound
from serinus.metrics.builtin import BUILTINS, builtin_query, duration_ms, observers
from serinus.metrics.prometheus import PrometheusProvider
from tests.integration.conftest import Prometheus
from tests.integration.exporter import ScenarioExporter

pytestmark = pytest.mark.integration


@pytest.fixture(params=["prometheus", "victoria_metrics"])
def tsdb(request: pytest.FixtureRequest) -> Prometheus:
    """Each Prometheus-compatible server a Canary's metricsServer may point at: Prometheus and VictoriaMetrics."""
    server: Prometheus = request.getfixturevalue(request.param)
    return server


def _ctx(namespace: str) -> TemplateContext:
    return TemplateContext(
        name="podinfo",
        namespace=namespace,
        target="podinfo",
        service="podinfo",
        ingress="podinfo",
        route="podinfo",
        interval="15s",
        variables={},
    )


@pytest.mark.parametrize("observer", sorted(observers()))
async def test_every_builtin_query_is_valid_promql(tsdb: Prometheus, observer: str) -> None:
    """Both built-in queries of every observer are accepted by Prometheus (no data yet is fine, a parse error not)."""
    prom = PrometheusProvider(tsdb.url)
    try:
        for metric in BUILTINS:
            with pytest.raises(NoValuesFound):
                await prom.query(builtin_query(observers()[observer], metric, _ctx(f"none-{uuid.uuid4().hex[:6]}")))
    finally:
        await prom.close()


async def _settled(prom: PrometheusProvider, query: str, within: float = 45.0) -> float:
    deadline, first = time.monotonic() + within, None
    while time.monotonic() < deadline:
        try:
            value = await prom.query(query)
        except NoValuesFound:
            value = None
        if value is not None:
            first = first or time.monotonic()
            if time.monotonic() - first >= 16:
                return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"no settled value for {query}")


OK, ERR = 24.0, 1.0  # 96 % success
MS: dict[float, float] = {50: 0.9, 250: 1.0}  # p99 = 230 ms by linear interpolation in the last bucket
SECONDS: dict[float, float] = {0.05: 0.9, 0.25: 1.0}  # the same in seconds
MEAN_S = 0.12  # for observers that report mean latency (sum / count): 120 ms


def _scenario(exp: ScenarioExporter, observer: str, ns: str) -> int:
    """Create the series `observer`'s queries read, for 25 req/s in namespace `ns`; return the expected ms."""

    def split(name: str, labels: dict[str, str], code_label: str, ok: str = "200", bad: str = "503") -> None:
        exp.counter(name, {**labels, code_label: ok}, per_second=OK)
        exp.counter(name, {**labels, code_label: bad}, per_second=ERR)

    safe_ns = ns.replace("-", "_")
    if observer == "istio":
        labels = {"reporter": "destination", "destination_workload_namespace": ns, "destination_workload": "podinfo"}
        split("istio_requests_total", labels, "response_code")
        exp.histogram("istio_request_duration_milliseconds", labels, per_second=25, buckets=MS)
    elif observer == "http":
        pod = {"kubernetes_namespace": ns, "kubernetes_pod_name": "podinfo-5d8f7c9b4-x2x7k"}
        exp.histogram("http_request_duration_seconds", {**pod, "status": "200"}, per_second=OK, buckets=SECONDS)
        exp.histogram("http_request_duration_seconds", {**pod, "status": "500"}, per_second=ERR, buckets=SECONDS)
    elif observer == "linkerd":
        labels = {"namespace": ns, "deployment": "podinfo", "direction": "inbound"}
        split("response_total", labels, "classification", "success", "failure")
        exp.histogram("response_latency_ms", labels, per_second=25, buckets=MS)
    elif observer in ("appmesh", "contour", "gloo", "kuma", "knative"):
        labels = {
            "appmesh": {"kubernetes_namespace": ns, "kubernetes_pod_name": "podinfo-7f9c8d6b5-q8w2z"},
            "contour": {"envoy_cluster_name": f"{ns}_podinfo-canary_80"},
            "gloo": {"envoy_cluster_name": f"{ns}-podinfo-canaryupstream-9898_gloo-system"},
            "kuma": {"service": f"podinfo-canary_{ns}_svc_80"},
            "knative": {"envoy_cluster_name": f"{ns}/podinfo"},
        }[observer]
        split("envoy_cluster_upstream_rq", labels, "envoy_response_code")
        exp.histogram("envoy_cluster_upstream_rq_time", labels, per_second=25, buckets=MS)
    elif observer == "nginx":
        labels = {"namespace": ns, "ingress": "podinfo", "canary": "test-podinfo-canary-80"}
        split("nginx_ingress_controller_requests", labels, "status")
        exp.histogram(
            "nginx_ingress_controller_response_duration_seconds", labels, per_second=25, buckets=SECONDS, mean=MEAN_S
        )
        return 120
    elif observer == "skipper":
        route = {"route": f"kube_{safe_ns}__podinfo_canary__podinfo__podinfo_canary"}
        exp.histogram("skipper_response_duration_seconds", {**route, "code": "200"}, per_second=OK, buckets=SECONDS)
        exp.histogram("skipper_response_duration_seconds", {**route, "code": "500"}, per_second=ERR, buckets=SECONDS)
        exp.histogram("skipper_serve_route_duration_seconds", route, per_second=25, buckets=SECONDS, mean=MEAN_S)
        return 120
    elif observer == "traefik":
        service = {"service": f"{ns}-podinfo-canary-80@kubernetescrd"}
        exp.histogram(
            "traefik_service_request_duration_seconds", {**service, "code": "200"}, per_second=OK, buckets=SECONDS
        )
        exp.histogram(
            "traefik_service_request_duration_seconds", {**service, "code": "500"}, per_second=ERR, buckets=SECONDS
        )
    elif observer == "osm":
        labels = {"destination_namespace": ns, "destination_kind": "Deployment", "destination_name": "podinfo"}
        split("osm_request_total", labels, "response_code")
        exp.histogram("osm_request_duration_ms", labels, per_second=25, buckets=MS)
    elif observer == "apisix":
        route = {"route": f"{ns}_podinfo-podinfo-canary_0"}
        split("apisix_http_status", route, "code", bad="500")
        exp.histogram("apisix_http_latency", {**route, "type": "request"}, per_second=25, buckets=MS)
    else:
        raise AssertionError(f"no scenario for {observer}")
    return 230


async def test_every_observer_measures_the_scenario(tsdb: Prometheus) -> None:
    """For every observer, traffic with 4 % errors gives a 96 % success rate, and the latency distribution gives
    Flagger's request-duration in ms: p99 = 230 ms, or a 120 ms mean for NGINX and Skipper."""
    run = uuid.uuid4().hex[:6]
    expected = {
        name: (f"ns-{run}-{name}", _scenario(tsdb.exporter, name, f"ns-{run}-{name}")) for name in sorted(observers())
    }
    prom = PrometheusProvider(tsdb.url)
    try:
        first = observers()["istio"]
        await _settled(prom, builtin_query(first, "request-success-rate", _ctx(expected["istio"][0])))
        got = {}
        for name, (ns, _) in expected.items():
            observer = observers()[name]
            rate = await prom.query(builtin_query(observer, "request-success-rate", _ctx(ns)))
            ms = duration_ms(observer, await prom.query(builtin_query(observer, "request-duration", _ctx(ns))))
            got[name] = (round(rate, 1), ms)
    finally:
        await prom.close()
    for name, (rate, ms) in got.items():
        assert rate == pytest.approx(96.0, abs=0.5), (name, got)
        assert abs(ms - expected[name][1]) <= 5, (name, got)
