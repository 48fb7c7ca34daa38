"""`serinus query` against a real Prometheus: rendered queries, values, accepted ranges, verdicts, exit codes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx2
import pytest
import yaml
from click.testing import CliRunner

from serinus.cli import main
from tests.integration.conftest import Prometheus

pytestmark = pytest.mark.integration


def _canary(ns: str, server: str, latency_max: int, extra: list[dict[str, object]] | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": ns},
            "spec": {
                "provider": "istio",
                "metricsServer": server,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {
                    "interval": "30s",
                    "threshold": 5,
                    "stepWeight": 10,
                    "metrics": [
                        {"name": "request-success-rate", "interval": "15s", "thresholdRange": {"min": 99}},
                        {"name": "request-duration", "interval": "15s", "thresholdRange": {"max": latency_max}},
                        *(extra or []),
                    ],
                },
            },
        }
    )


def _wait_for_data(prometheus: Prometheus, ns: str) -> None:
    query = f'sum(rate(istio_requests_total{{destination_workload_namespace="{ns}"}}[15s]))'
    deadline, first = time.monotonic() + 45, None
    while time.monotonic() < deadline:
        result = httpx2.get(f"{prometheus.url}/api/v1/query", params={"query": query}).json()["data"]["result"]
        if result:
            first = first or time.monotonic()
            if time.monotonic() - first > 16:
                return
        time.sleep(0.5)
    raise AssertionError("scenario data never settled")


def test_query_shows_every_check_and_gates_on_failures(prometheus: Prometheus, tmp_path: Path) -> None:
    """Healthy traffic passes (exit 0) with values shown; a tighter latency bound fails (exit 1); a template
    metric is rendered with its variables and run; a missing template is reported on its own row."""
    ns = f"q-{uuid.uuid4().hex[:6]}"
    labels = {"reporter": "destination", "destination_workload_namespace": ns, "destination_workload": "podinfo"}
    prometheus.exporter.counter("istio_requests_total", {**labels, "response_code": "200"}, per_second=20)
    prometheus.exporter.histogram(
        "istio_request_duration_milliseconds", labels, per_second=20, buckets={50: 0.9, 250: 1.0}
    )
    _wait_for_data(prometheus, ns)

    healthy = tmp_path / "healthy.yaml"
    healthy.write_text(_canary(ns, prometheus.url, 500))
    table = CliRunner().invoke(main, ["query", str(healthy)])
    assert table.exit_code == 0, table.output
    assert "request-success-rate" in table.output
    result = CliRunner().invoke(main, ["query", str(healthy), "--output", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["metric"]: row for row in map(json.loads, result.output.splitlines())}
    assert (rows["request-success-rate"]["value"], rows["request-success-rate"]["accepted"]) == ("100", ">= 99")
    assert rows["request-success-rate"]["verdict"] == "pass"
    assert 225 <= int(rows["request-duration"]["value"]) <= 235
    assert (rows["request-duration"]["accepted"], rows["request-duration"]["verdict"]) == ("<= 500", "pass")
    assert f'destination_workload_namespace="{ns}"' in rows["request-duration"]["query"]

    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "error-count", "namespace": ns},
        "spec": {
            "provider": {"type": "prometheus", "address": prometheus.url},
            "query": 'sum(rate(istio_requests_total{destination_workload_namespace="{{ namespace }}",'
            'reporter="{{ variables.reporter }}",response_code=~"5.."}[{{ interval }}])) or '
            "vector(0)",
        },
    }
    templates = tmp_path / "templates.yaml"
    templates.write_text(yaml.safe_dump(template))
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        _canary(
            ns,
            prometheus.url,
            100,
            [
                {
                    "name": "errors",
                    "interval": "15s",
                    "templateRef": {"name": "error-count"},
                    "templateVariables": {"reporter": "destination"},
                    "thresholdRange": {"max": 1},
                },
                {"name": "missing", "templateRef": {"name": "nope"}, "thresholdRange": {"max": 1}},
            ],
        )
    )
    result = CliRunner().invoke(main, ["query", str(strict), "--templates", str(templates), "-o", "json"])
    assert result.exit_code == 1, result.output
    rows = {row["metric"]: row for row in map(json.loads, result.output.splitlines())}
    assert rows["request-duration"]["verdict"] == "fail"
    assert (rows["errors"]["value"], rows["errors"]["verdict"]) == ("0", "pass")
    assert 'reporter="destination",response_code=~"5.."}[15s]' in rows["errors"]["query"]
    assert (rows["missing"]["value"], rows["missing"]["verdict"]) == (f"metric template nope.{ns} not found", "error")
