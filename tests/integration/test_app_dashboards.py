"""The application dashboards under deploy/grafana (primary against canary, for the providers Flagger has them for:
Istio, App Mesh and Envoy/Contour): on a real Prometheus scraping known traffic, each panel's primary query reads
the primary's series and its canary query the canary's, with the request rate, success rate and latency quantiles
that traffic has; the variables find the namespace and target; every query is valid PromQL."""

from __future__ import annotations

import json
import re
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.conftest import REPO
from tests.integration.conftest import Prometheus
from tests.integration.exporter import ScenarioExporter
from tests.integration.test_dashboard import _exported

pytestmark = pytest.mark.integration
GRAFANA = REPO / "deploy" / "grafana"
#: Grafana's $__rate_interval for a 1 s scrape interval (4 scrapes, plus one)
RATE_INTERVAL = "5s"
TARGET = "podinfo"

#: per version: good and 5xx requests per second, latency buckets in ms (cumulative shares)
TRAFFIC: dict[str, tuple[float, float, dict[float, float]]] = {
    "primary": (19.6, 0.4, {50: 0.9, 250: 1.0}),
    "canary": (4.0, 1.0, {100: 0.5, 500: 1.0}),
}
#: what histogram_quantile answers for those buckets (linear interpolation inside a bucket)
QUANTILES_MS = {
    "primary": {50: 0.5 / 0.9 * 50, 90: 50.0, 99: 50 + 0.9 * 200},
    "canary": {50: 100.0, 90: 100 + 0.8 * 400, 99: 100 + 0.98 * 400},
}
WEIGHTS = {"primary": 80.0, "canary": 20.0}


@dataclass(frozen=True)
class Telemetry(ABC):
    """How a provider's proxies report one version's traffic: the counter, the histogram and their labels."""

    requests: str
    duration: str
    code_label: str

    @abstractmethod
    def labels(self, version: str, namespace: str) -> dict[str, str]:
        """The labels a proxy puts on this version's series."""


class Istio(Telemetry):
    """Istio's standard metrics, reported by the destination's sidecar."""

    def labels(self, version: str, namespace: str) -> dict[str, str]:
        """Labels of istio_requests_total for the primary or canary workload."""
        workload = f"{TARGET}-primary" if version == "primary" else TARGET
        return {
            "reporter": "destination",
            "destination_workload_namespace": namespace,
            "destination_workload": workload,
        }


class AppMesh(Telemetry):
    """App Mesh's Envoy sidecars, scraped per pod (the bundled Prometheus's appmesh-envoy job adds these labels)."""

    def labels(self, version: str, namespace: str) -> dict[str, str]:
        """Labels of the sidecar of one pod of the primary or canary Deployment."""
        pod = f"{TARGET}-primary-7f9c8d6b5-q8w2z" if version == "primary" else f"{TARGET}-5d8f7c9b4-x2x7k"
        return {"kubernetes_namespace": namespace, "kubernetes_pod_name": pod}


class Contour(Telemetry):
    """Contour's Envoy, one cluster per Service and port."""

    def labels(self, version: str, namespace: str) -> dict[str, str]:
        """Labels of the Envoy cluster of the primary or canary Service."""
        return {"envoy_cluster_name": f"{namespace}_{TARGET}-{version}_9898"}


DASHBOARDS: dict[str, Telemetry] = {
    "istio-canary.json": Istio("istio_requests_total", "istio_request_duration_milliseconds", "response_code"),
    "appmesh-canary.json": AppMesh(
        "envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_time", "envoy_response_code"
    ),
    "envoy-canary.json": Contour("envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_time", "envoy_response_code"),
}


def _dashboard(name: str) -> dict[str, Any]:
    return dict(json.loads((GRAFANA / name).read_text()))


def _fill(expr: str, namespace: str) -> str:
    """The query Grafana sends with the variables chosen."""
    for key, value in (("namespace", namespace), ("target", TARGET)):
        expr = expr.replace("${" + key + "}", value).replace("$" + key, value)
    return expr.replace("$__rate_interval", RATE_INTERVAL)


def _play(exporter: ScenarioExporter, telemetry: Telemetry, namespace: str) -> None:
    for version, (good, bad, buckets) in TRAFFIC.items():
        labels = telemetry.labels(version, namespace)
        exporter.counter(telemetry.requests, {**labels, telemetry.code_label: "200"}, per_second=good)
        exporter.counter(telemetry.requests, {**labels, telemetry.code_label: "503"}, per_second=bad)
        exporter.histogram(telemetry.duration, labels, per_second=good + bad, buckets=buckets)
        workload = f"{TARGET}-primary" if version == "primary" else TARGET
        exporter.add("flagger_canary_weight", {"namespace": namespace, "workload": workload}, WEIGHTS[version])


def _query(prometheus: Prometheus, expr: str) -> list[dict[str, Any]]:
    body = httpx2.get(f"{prometheus.url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    return list(body["data"]["result"])


def _expected(title: str, legend: str) -> float:
    version = legend.split()[0]
    good, bad, _ = TRAFFIC[version]
    if title == "Request rate":
        return good + bad
    if title == "Success rate":
        return 100 * good / (good + bad)
    if title == "Traffic weight":
        return WEIGHTS[version]
    assert title == "Latency"
    return QUANTILES_MS[version][int(legend.split()[1].removeprefix("p"))]


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["title"], t["legendFormat"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_compare_primary_and_canary(name: str) -> None:
    """Request rate, success rate and latency (p50, p90, p99) each have a primary and a canary query, beside the
    operator's traffic weights; the datasource is a variable, so the dashboard imports into any Grafana."""
    dashboard = _dashboard(name)
    legends: dict[str, set[str]] = {}
    for title, legend, _ in _targets(dashboard):
        legends.setdefault(title, set()).add(legend)
    assert legends == {
        "Request rate": {"primary", "canary"},
        "Traffic weight": {"primary", "canary"},
        "Success rate": {"primary", "canary"},
        "Latency": {f"{v} p{q}" for v in ("primary", "canary") for q in (50, 90, 99)},
    }
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"${datasource}"}
    assert len({d["uid"] for d in map(_dashboard, DASHBOARDS)}) == len(DASHBOARDS)


def test_operator_series_are_ones_the_operator_exports() -> None:
    """The weight panels read a series the operator exports (a typo would show an empty panel)."""
    names = {
        n
        for name in DASHBOARDS
        for _, _, expr in _targets(_dashboard(name))
        for n in re.findall(r"\b(flagger_[a-z_]+)\b", expr)
    }
    assert names == {"flagger_canary_weight"}
    assert names <= _exported()


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_queries_read_each_versions_traffic(prometheus: Prometheus, name: str) -> None:
    """With the traffic of a primary (20 req/s, 98 % success, p99 230 ms) and a canary (5 req/s, 80 %, p99 492 ms)
    scraped by Prometheus, every panel query gives that version's value, and the variable queries offer the
    namespace and the target."""
    dashboard, telemetry = _dashboard(name), DASHBOARDS[name]
    namespace = f"dash-{uuid.uuid4().hex[:8]}"
    _play(prometheus.exporter, telemetry, namespace)

    pending = {(title, legend): _fill(expr, namespace) for title, legend, expr in _targets(dashboard)}
    answers: dict[tuple[str, str], float] = {}
    deadline = time.monotonic() + 45
    while pending and time.monotonic() < deadline:
        for key, expr in list(pending.items()):
            result = _query(prometheus, expr)
            if result and float(result[0]["value"][1]) == pytest.approx(_expected(*key), rel=0.03):
                assert len(result) == 1, f"{key}: {result}"
                answers[key] = float(result[0]["value"][1])
                del pending[key]
        time.sleep(0.5)
    last = {key: _query(prometheus, expr) for key, expr in pending.items()}
    assert not pending, f"queries without the expected value after 45 s: {last}"

    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", _fill(variable["query"]["query"], namespace))
        assert match, variable["query"]["query"]
        selector, label = match.groups()
        body = httpx2.get(f"{prometheus.url}/api/v1/series", params={"match[]": selector}, timeout=5).json()
        assert body["status"] == "success", body.get("error")
        values = {s[label] for s in body["data"]}
        if pattern := variable.get("regex", "").strip("/"):
            values = {m.group(1) for v in values if (m := re.search(pattern, v))}
        wanted = namespace if variable["name"] == "namespace" else TARGET
        assert wanted in values, f"{variable['name']}: {sorted(values)}"
