"""Benchmark: the cost of one analysis step's metric checks (render + query + evaluate).

Starts Debian's Prometheus scraping the scenario exporter of tests/integration, feeds it Istio-style traffic,
and plans the checks of a Canary with 6 metrics (the two built-ins and four MetricTemplates), then times
ROUNDS rounds of running all six. Prints the median time per round and per check, and the same for rendering
alone. Run: `.venv/bin/python -m bench.metric_checks [ROUNDS]` (default 200).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from tests.integration.exporter import ScenarioExporter
from tests.integration.receivers import free_port
from tests.integration.servers import running

from serinus.api import Canary, MetricTemplate
from serinus.metrics.checks import MetricCheck, plan_checks
from serinus.metrics.pool import ProviderPool
from serinus.metrics.port import CanaryMetrics
from serinus.metrics.prometheus import PrometheusProvider

NS = "bench"
TEMPLATE_QUERIES = {
    "error-rate": 'sum(rate(istio_requests_total{destination_workload_namespace="{{ namespace }}",'
    'response_code=~"5.."}[{{ interval }}])) or vector(0)',
    "rps": 'sum(rate(istio_requests_total{destination_workload_namespace="{{ namespace }}"}[{{ interval }}]))',
    "p50": "histogram_quantile(0.5, sum(rate(istio_request_duration_milliseconds_bucket{"
    'destination_workload_namespace="{{ namespace }}"}[{{ interval }}])) by (le))',
    "p90": "histogram_quantile(0.9, sum(rate(istio_request_duration_milliseconds_bucket{"
    'destination_workload_namespace="{{ namespace }}"}[{{ interval }}])) by (le))',
}


def _canary(server: str) -> Canary:
    metrics = [
        {"name": "request-success-rate", "interval": "15s", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "15s", "thresholdRange": {"max": 500}},
    ]
    metrics += [
        {"name": name, "interval": "15s", "templateRef": {"name": name}, "thresholdRange": {"max": 1e9}}
        for name in TEMPLATE_QUERIES
    ]
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": NS},
            "spec": {
                "provider": "istio",
                "metricsServer": server,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {"interval": "30s", "threshold": 5, "stepWeight": 10, "metrics": metrics},
            },
        }
    )


def _templates(server: str) -> dict[tuple[str, str], MetricTemplate]:
    return {
        (NS, name): MetricTemplate.model_validate(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"provider": {"type": "prometheus", "address": server}, "query": query},
            }
        )
        for name, query in TEMPLATE_QUERIES.items()
    }


async def _round(checks: list[MetricCheck], prom: PrometheusProvider) -> None:
    for check in checks:
        check.passes(await prom.query(check.query))


async def _measure(server: str, rounds: int) -> dict[str, float]:
    canary, templates = _canary(server), _templates(server)
    prom = PrometheusProvider(server)
    try:
        plans = plan_checks(canary, mesh_provider="istio", metrics_server=server, templates=templates, secrets={})
        checks = [p for p in plans if isinstance(p, MetricCheck)]
        assert len(checks) == 6, plans
        while True:  # wait until every query has data
            try:
                await _round(checks, prom)
                break
            except Exception:
                await asyncio.sleep(1)
        totals, renders = [], []
        paths: dict[str, list[float]] = {"operator": [], "unpooled": []}
        metrics = canary.analysis_or_default().metrics
        pool = ProviderPool()
        for name, shared in (("operator", pool), ("unpooled", None)):
            for _ in range(rounds):  # a whole step as the port runs it: plan, then measure() each metric
                t0 = time.perf_counter()
                port = CanaryMetrics(
                    plan_checks(canary, mesh_provider="istio", metrics_server=server, templates=templates, secrets={}),
                    observer="istio",
                    namespace=NS,
                    pool=shared,
                )
                for metric in metrics:
                    measured = await port.measure(metric)
                    assert measured.failure is None, measured
                paths[name].append(time.perf_counter() - t0)
        await pool.close()
        for _ in range(rounds):
            t0 = time.perf_counter()
            plan_checks(canary, mesh_provider="istio", metrics_server=server, templates=templates, secrets={})
            t1 = time.perf_counter()
            await _round(checks, prom)
            t2 = time.perf_counter()
            renders.append(t1 - t0)
            totals.append(t2 - t0)
    finally:
        await prom.close()
    return {
        "rounds": rounds,
        "median_round_ms": round(statistics.median(totals) * 1000, 2),
        "median_per_check_ms": round(statistics.median(totals) * 1000 / 6, 2),
        "median_render_all_ms": round(statistics.median(renders) * 1000, 3),
        "median_operator_step_ms": round(statistics.median(paths["operator"]) * 1000, 2),
        "median_unpooled_step_ms": round(statistics.median(paths["unpooled"]) * 1000, 2),
    }


def main(rounds: int) -> dict[str, float]:
    """Run the benchmark against a fresh Prometheus and return the medians."""
    exporter = ScenarioExporter().start()
    labels = {"reporter": "destination", "destination_workload_namespace": NS, "destination_workload": "podinfo"}
    exporter.counter("istio_requests_total", {**labels, "response_code": "200"}, per_second=99)
    exporter.counter("istio_requests_total", {**labels, "response_code": "500"}, per_second=1)
    exporter.histogram("istio_request_duration_milliseconds", labels, per_second=100, buckets={50: 0.9, 250: 1.0})
    port = free_port()

    def args(work: Path) -> list[str]:
        (work / "p.yml").write_text(
            f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: s\n"
            f"    static_configs: [{{targets: ['{exporter.target}']}}]\n"
        )
        return [
            f"--config.file={work / 'p.yml'}",
            f"--storage.tsdb.path={work / 'd'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]

    url = f"http://127.0.0.1:{port}"
    try:
        with running("prometheus", ("prometheus",), args, f"{url}/-/ready"):
            return asyncio.run(_measure(url, rounds))
    finally:
        exporter.stop()


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200), indent=2))
