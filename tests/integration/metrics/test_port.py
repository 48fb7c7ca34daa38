"""The engine's Metrics port on a real Prometheus: values, no data, unreachable servers and template problems
come back as the Measurements the engine words as Flagger does."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from serinus.api import Canary, MetricTemplate
from serinus.engine.ports import MetricFailure
from serinus.metrics.checks import plan_checks
from serinus.metrics.port import CanaryMetrics
from tests.integration.conftest import Prometheus
from tests.integration.receivers import free_port

pytestmark = pytest.mark.integration


def _canary(ns: str, server: str, metrics: list[dict[str, object]]) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "provider": "kubernetes",
                "metricsServer": server,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "analysis": {"interval": "10s", "iterations": 2, "metrics": metrics},
            },
        }
    )


def _template(ns: str, name: str, address: str, query: str, secret: str | None = None) -> MetricTemplate:
    provider: dict[str, object] = {"type": "prometheus", "address": address}
    if secret:
        provider["secretRef"] = {"name": secret}
    return MetricTemplate.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"provider": provider, "query": query},
        }
    )


def _port(canary: Canary, templates: dict[tuple[str, str], MetricTemplate]) -> CanaryMetrics:
    plans = plan_checks(canary, mesh_provider="kubernetes", metrics_server="", templates=templates, secrets={})
    return CanaryMetrics(plans, observer="kubernetes", namespace=canary.metadata.namespace or "default")


async def test_template_metric_reads_the_rate_from_prometheus(prometheus: Prometheus) -> None:
    """A template query over a counter growing 5/s measures about 5; a selector with no series is no data."""
    ns = f"port-{uuid.uuid4().hex[:6]}"
    prometheus.exporter.counter("port_errors_total", {"namespace": ns}, per_second=5)
    query = 'sum(rate(port_errors_total{namespace="{{ namespace }}"}[{{ interval }}]))'
    templates = {
        (ns, "errors"): _template(ns, "errors", prometheus.url, query),
        (ns, "none"): _template(ns, "none", prometheus.url, query.replace("{{ namespace }}", "nobody")),
    }
    canary = _canary(
        ns,
        prometheus.url,
        [
            {"name": "errors", "interval": "10s", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}},
            {"name": "none", "interval": "10s", "templateRef": {"name": "none"}, "thresholdRange": {"max": 1}},
        ],
    )
    port = _port(canary, templates)
    assert await port.providers_online() is None
    metric = canary.analysis_or_default().metrics[0]
    deadline = time.monotonic() + 30
    got = await port.measure(metric)
    while (got.value is None or abs(got.value - 5) > 0.5) and time.monotonic() < deadline:
        await asyncio.sleep(1)
        got = await port.measure(metric)
    assert got.failure is None
    assert got.value == pytest.approx(5, abs=0.5)
    missing = await port.measure(canary.analysis_or_default().metrics[1])
    assert missing.failure is MetricFailure.NO_DATA
    assert missing.template == f"none.{ns}"


async def test_unreachable_server_is_a_query_failure_and_reported_offline() -> None:
    """A template pointing at a closed port: providers_online says which, measure fails as a query failure."""
    ns = "port-down"
    address = f"http://127.0.0.1:{free_port()}"
    canary = _canary(
        ns, address, [{"name": "rps", "interval": "10s", "templateRef": {"name": "rps"}, "thresholdRange": {"min": 1}}]
    )
    port = _port(canary, {(ns, "rps"): _template(ns, "rps", address, "sum(rate(x[1m]))")})
    offline = await port.providers_online()
    assert offline is not None
    assert offline.startswith(f"prometheus in metric template rps.{ns} not avaiable:")
    got = await port.measure(canary.analysis_or_default().metrics[0])
    assert got.failure is MetricFailure.QUERY_FAILED
    assert "unreachable" in got.error


async def test_missing_template_and_secret_are_told_apart(prometheus: Prometheus) -> None:
    """No such MetricTemplate is a template failure; a template whose Secret is missing is a secret failure."""
    ns = "port-refs"
    canary = _canary(
        ns,
        prometheus.url,
        [
            {"name": "gone", "interval": "10s", "templateRef": {"name": "gone"}, "thresholdRange": {"max": 1}},
            {"name": "locked", "interval": "10s", "templateRef": {"name": "locked"}, "thresholdRange": {"max": 1}},
        ],
    )
    port = _port(canary, {(ns, "locked"): _template(ns, "locked", prometheus.url, "vector(1)", secret="creds")})
    gone = await port.measure(canary.analysis_or_default().metrics[0])
    locked = await port.measure(canary.analysis_or_default().metrics[1])
    assert gone.failure is MetricFailure.TEMPLATE
    assert "gone" in gone.error
    assert locked.failure is MetricFailure.SECRET
    assert locked.error.startswith("creds.")
    assert await port.providers_online() == f"metric template gone.{ns} error: {gone.error}"
