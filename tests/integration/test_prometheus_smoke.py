"""A real Prometheus scraping the scenario exporter computes what the scenario implies."""

from __future__ import annotations

import time
import uuid

import httpx2
import pytest

from tests.integration.conftest import Prometheus

pytestmark = pytest.mark.integration
WINDOW = "10s"


def _instant(prometheus: Prometheus, query: str) -> float | None:
    body = httpx2.get(f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=5).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _settled(prometheus: Prometheus, query: str, timeout: float = 40.0) -> float:
    """The query's value once the window holds a full 10 s of scrapes."""
    deadline, first_seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = _instant(prometheus, query)
        if value is not None:
            first_seen = first_seen or time.monotonic()
            if time.monotonic() - first_seen >= 11:
                return value
        time.sleep(0.5)
    raise AssertionError(f"{query} had no settled value within {timeout:.0f}s")


def test_rate_and_quantile_match_the_scenario(prometheus: Prometheus) -> None:
    """rate() of a counter at 10 req/s with 5 % errors gives 10 and 95 %; a histogram with 90 % of requests
    under 100 ms and the rest under 500 ms gives a p99 of 460 ms (linear interpolation in the bucket)."""
    run = uuid.uuid4().hex[:8]
    ok, bad, hist = {"run": run, "code": "200"}, {"run": run, "code": "500"}, {"run": run}
    prometheus.exporter.counter("http_requests_total", ok, per_second=9.5)
    prometheus.exporter.counter("http_requests_total", bad, per_second=0.5)
    prometheus.exporter.histogram(
        "http_request_duration_seconds", hist, per_second=10, buckets={0.05: 0.5, 0.1: 0.9, 0.5: 1.0}
    )

    total = _settled(prometheus, f'sum(rate(http_requests_total{{run="{run}"}}[{WINDOW}]))')
    assert total == pytest.approx(10.0, rel=0.05)
    success = _instant(
        prometheus,
        f'sum(rate(http_requests_total{{run="{run}",code!~"5.."}}[{WINDOW}])) / '
        f'sum(rate(http_requests_total{{run="{run}"}}[{WINDOW}])) * 100',
    )
    assert success == pytest.approx(95.0, abs=0.5)
    p99 = _instant(
        prometheus,
        f'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{{run="{run}"}}[{WINDOW}])) by (le))',
    )
    assert p99 == pytest.approx(0.46, abs=0.01)


def test_rate_follows_a_change_of_traffic(prometheus: Prometheus) -> None:
    """When the scenario drops from 20 to 2 req/s, rate() over the last 10 s follows it down."""
    labels = {"run": uuid.uuid4().hex[:8]}
    prometheus.exporter.counter("requests_total", labels, per_second=20)
    query = f'rate(requests_total{{run="{labels["run"]}"}}[{WINDOW}])'
    assert _settled(prometheus, query) == pytest.approx(20.0, rel=0.05)
    prometheus.exporter.counter("requests_total", labels, per_second=2)
    time.sleep(12)
    assert _instant(prometheus, query) == pytest.approx(2.0, rel=0.1)
