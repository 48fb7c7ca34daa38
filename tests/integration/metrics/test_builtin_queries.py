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

pytestmark = pytest.mark.integration


def _ctx(namespace: str) -> TemplateContext:
    return TemplateContext(name="podinfo", namespace=namespace, target="podinfo", service="podinfo",
                           ingress="podinfo", route="podinfo", interval="15s", variables={})


@pytest.mark.parametrize("observer", sorted(observers()))
async def test_every_builtin_query_is_valid_promql(prometheus: Prometheus, observer: str) -> None:
    """Both built-in queries of every observer are accepted by Prometheus (no data yet is fine, a parse error not)."""
    prom = PrometheusProvider(prometheus.url)
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


async def test_istio_and_http_observers_measure_the_scenario(prometheus: Prometheus) -> None:
    """With 4 % of requests failing and 90 % under 50 ms, the rest under 250 ms, the Istio and podinfo-style
    queries give a 96 % success rate and a p99 of 230 ms (linear interpolation inside the last bucket)."""
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    exp = prometheus.exporter
    istio = {"reporter": "destination", "destination_workload_namespace": ns, "destination_workload": "podinfo"}
    exp.counter("istio_requests_total", {**istio, "response_code": "200"}, per_second=24)
    exp.counter("istio_requests_total", {**istio, "response_code": "503"}, per_second=1)
    exp.histogram("istio_request_duration_milliseconds", istio, per_second=25, buckets={50: 0.9, 250: 1.0})
    pod = {"kubernetes_namespace": ns, "kubernetes_pod_name": "podinfo-5d8f7c9b4-x2x7k"}
    exp.histogram("http_request_duration_seconds", {**pod, "status": "200"}, per_second=24,
                  buckets={0.05: 0.9, 0.25: 1.0})
    exp.histogram("http_request_duration_seconds", {**pod, "status": "500"}, per_second=1,
                  buckets={0.05: 0.9, 0.25: 1.0})
    prom = PrometheusProvider(prometheus.url)
    try:
        for name in ("istio", "http"):
            observer = observers()[name]
            rate = await _settled(prom, builtin_query(observer, "request-success-rate", _ctx(ns)))
            assert rate == pytest.approx(96.0, abs=0.5), name
            p99 = await prom.query(builtin_query(observer, "request-duration", _ctx(ns)))
            assert duration_ms(observer, p99) in range(225, 236), name
    finally:
        await prom.close()
