"""The statistical judge's count queries on a real Prometheus: for every observer, canary and primary series with
different known rates of 2xx and 5xx and different latency distributions, and CanaryMetrics.observe must read
each version's own increases over the window (within increase()'s extrapolation)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from serinus.api import Canary
from serinus.engine.judge.types import Observation
from serinus.metrics.builtin import observers
from serinus.metrics.checks import plan_checks
from serinus.metrics.port import CanaryMetrics
from tests.integration.conftest import Prometheus
from tests.integration.exporter import ScenarioExporter

pytestmark = pytest.mark.integration

WINDOW_S = 20.0
#: per version: 2xx/s, 5xx/s, cumulative latency shares (ms bounds), and the mean latency in seconds
TRAFFIC = {
    "canary": (10.0, 2.0, {50.0: 0.5, 250.0: 0.9, 1000.0: 1.0}, 0.2),
    "primary": (30.0, 0.5, {50.0: 0.8, 250.0: 0.95, 1000.0: 1.0}, 0.1),
}
#: Flagger's provider names, by observer (the http observer is the kubernetes provider's)
PROVIDER = {"http": "kubernetes"}
PRIMARY_REVISION = "podinfo-00001"


def _seconds(shares: dict[float, float]) -> dict[float, float]:
    return {bound / 1000: share for bound, share in shares.items()}


def _play(exp: ScenarioExporter, observer: str, ns: str, version: str) -> None:
    """Create the series `observer`'s count queries read for one version of podinfo in namespace `ns`."""
    ok, bad, shares, mean = TRAFFIC[version]
    primary = version == "primary"
    name = "podinfo-primary" if primary else "podinfo"
    suffix = "primary" if primary else "canary"

    def split(metric: str, labels: dict[str, str], code: str, good: str = "200", fail: str = "503") -> None:
        exp.counter(metric, {**labels, code: good}, per_second=ok)
        exp.counter(metric, {**labels, code: fail}, per_second=bad)

    def by_code(metric: str, labels: dict[str, str], code: str, buckets: dict[float, float]) -> None:
        exp.histogram(metric, {**labels, code: "200"}, per_second=ok, buckets=buckets, mean=mean)
        exp.histogram(metric, {**labels, code: "500"}, per_second=bad, buckets=buckets, mean=mean)

    total = ok + bad
    if observer == "istio":
        labels = {"reporter": "destination", "destination_workload_namespace": ns, "destination_workload": name}
        split("istio_requests_total", labels, "response_code")
        exp.histogram("istio_request_duration_milliseconds", labels, per_second=total, buckets=shares)
    elif observer == "linkerd":
        labels = {"namespace": ns, "deployment": name, "direction": "inbound"}
        split("response_total", labels, "classification", "success", "failure")
        exp.histogram("response_latency_ms", labels, per_second=total, buckets=shares)
    elif observer == "osm":
        labels = {"destination_namespace": ns, "destination_kind": "Deployment", "destination_name": name}
        split("osm_request_total", labels, "response_code")
        exp.histogram("osm_request_duration_ms", labels, per_second=total, buckets=shares)
    elif observer == "http":
        pod = {"kubernetes_namespace": ns, "kubernetes_pod_name": f"{name}-5d8f7c9b4-x2x7k"}
        by_code("http_request_duration_seconds", pod, "status", _seconds(shares))
    elif observer in ("appmesh", "contour", "gloo", "kuma", "knative"):
        labels = {
            "appmesh": {"kubernetes_namespace": ns, "kubernetes_pod_name": f"{name}-7f9c8d6b5-q8w2z"},
            "contour": {"envoy_cluster_name": f"{ns}_podinfo-{suffix}_80"},
            "gloo": {"envoy_cluster_name": f"{ns}-podinfo-{suffix}upstream-9898_gloo-system"},
            "kuma": {"service": f"podinfo-{suffix}_{ns}_svc_80"},
            "knative": {"envoy_cluster_name": f"{ns}/{PRIMARY_REVISION if primary else 'podinfo-00002'}"},
        }[observer]
        split("envoy_cluster_upstream_rq", labels, "envoy_response_code")
        exp.histogram("envoy_cluster_upstream_rq_time", labels, per_second=total, buckets=shares)
    elif observer == "nginx":
        labels = {"namespace": ns, "ingress": "podinfo", "canary": "" if primary else f"{ns}-podinfo-canary-80"}
        split("nginx_ingress_controller_requests", labels, "status")
        exp.histogram(
            "nginx_ingress_controller_response_duration_seconds",
            labels,
            per_second=total,
            buckets=_seconds(shares),
            mean=mean,
        )
    elif observer == "skipper":
        route = {"route": f"kube_{ns.replace('-', '_')}__podinfo_canary__podinfo__podinfo_{suffix}"}
        by_code("skipper_response_duration_seconds", route, "code", {1.0: 1.0})
        exp.histogram("skipper_serve_route_duration_seconds", route, per_second=total, buckets=_seconds(shares))
    elif observer == "traefik":
        by_code(
            "traefik_service_request_duration_seconds",
            {"service": f"{ns}-podinfo-{suffix}-80@kubernetescrd"},
            "code",
            _seconds(shares),
        )
    elif observer == "apisix":
        route = {"route": f"{ns}_podinfo-podinfo-{suffix}_0"}
        split("apisix_http_status", route, "code", fail="500")
        exp.histogram("apisix_http_latency", {**route, "type": "request"}, per_second=total, buckets=shares)
    else:
        raise AssertionError(f"no scenario for {observer}")


def _canary(observer: str, ns: str) -> Canary:
    knative = observer == "knative"
    target = (
        {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "podinfo"}
        if knative
        else {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    )
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": ns},
            "spec": {
                "provider": PROVIDER.get(observer, observer),
                "targetRef": target,
                "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"},
                "routeRef": {"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {
                    "interval": "20s",
                    "metrics": [
                        {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
                        {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"},
                    ],
                },
            },
        }
    )


async def _observe(prom: Prometheus, observer: str, ns: str) -> list[Observation]:
    canary = _canary(observer, ns)
    knative = observer == "knative"
    plans = plan_checks(
        canary,
        mesh_provider="istio",
        metrics_server=prom.url,
        templates={},
        secrets={},
        route="podinfo-00002" if knative else None,
    )
    metrics = CanaryMetrics(plans, observer=observer, namespace=ns, primary_route=PRIMARY_REVISION if knative else None)
    return [await metrics.observe(metric, WINDOW_S, True) for metric in canary.analysis_or_default().metrics]


def _close(got: float | None, want: float, what: Any) -> None:
    assert got is not None, what
    assert got == pytest.approx(want, rel=0.1), what


async def test_every_observer_counts_both_versions(prometheus: Prometheus) -> None:
    """Over a 20 s window, every observer's counts read each version's own requests, 5xx and latency: the
    canary's 12 req/s with 2 failing, the primary's 30.5 req/s with 0.5 failing, and their different bucket
    shares (bounds in ms whatever the observer's unit); NGINX gives the mean latency in ms instead."""
    run = uuid.uuid4().hex[:6]
    namespaces = {name: f"ns-{run}-{name}" for name in sorted(observers())}
    for name, ns in namespaces.items():
        for version in TRAFFIC:
            _play(prometheus.exporter, name, ns, version)
    started = time.monotonic()
    await asyncio.sleep(WINDOW_S + 6)  # a full window of scrapes, one second apart
    results = {name: await _observe(prometheus, name, ns) for name, ns in namespaces.items()}
    assert time.monotonic() - started < 60
    for name, (ratio, latency) in results.items():
        assert ratio.error is None, (name, ratio.error)
        assert latency.error is None, (name, latency.error)
        assert ratio.kind == "ratio"
        assert latency.kind == ("scalar" if name == "nginx" else "histogram"), name
        for version, counts in (("canary", ratio.canary), ("primary", ratio.primary)):
            ok, bad, shares, mean = TRAFFIC[version]
            assert counts is not None
            _close(counts.requests, (ok + bad) * WINDOW_S, (name, version, "requests", ratio.queries))
            _close(counts.bad, bad * WINDOW_S, (name, version, "bad", ratio.queries))
        for version, counts in (("canary", latency.canary), ("primary", latency.primary)):
            ok, bad, shares, mean = TRAFFIC[version]
            assert counts is not None
            if name == "nginx":
                _close(counts.value, mean * 1000, (name, version, "mean ms"))
                continue
            got = dict(counts.buckets)
            assert list(got)[-1] == float("inf"), (name, counts.buckets)
            for bound, share in shares.items():
                _close(got.get(float(bound)), share * (ok + bad) * WINDOW_S, (name, version, bound, got))
            _close(got[float("inf")], (ok + bad) * WINDOW_S, (name, version, "+Inf", got))
        assert len(ratio.queries) == 4
        assert all(f"[{int(WINDOW_S)}s]" in q for q in ratio.queries + latency.queries)
