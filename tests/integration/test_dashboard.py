"""The Grafana dashboard under deploy/grafana: every query is valid PromQL on a real Prometheus, reads only series
the operator exports, and the panels users look for are there."""

from __future__ import annotations

import json
import re

import httpx2
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from serinus.runtime.metrics import ControllerMetrics
from tests.conftest import REPO
from tests.integration.conftest import Prometheus

pytestmark = pytest.mark.integration
DASHBOARD = REPO / "deploy" / "grafana" / "serinus-dashboard.json"


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def _exported() -> set[str]:
    """Every sample name the operator's registry exposes once each series has a value."""
    m = ControllerMetrics()
    m.set_info("0.1.0", "istio")
    m.set_total("test", 1)
    m.set_status("web", "test", "Progressing")
    m.set_weight("web", "test", 90, 10)
    m.observe_duration("web", "test", 3.0)
    m.set_metric_value("web", "test", "request-success-rate", 99.0, True)
    m.inc_success("web", "test", "canary")
    m.inc_failure("web", "test", "canary")
    m.count_alert("slack", True)
    return {s.name for f in text_string_to_metric_families(generate_latest(m.registry).decode()) for s in f.samples}


def test_panels_users_look_for() -> None:
    """Canary status, weights over time, analysis results per metric, promotions and rollbacks."""
    titles = {title for title, _ in _queries()}
    assert {"Canary status", "Traffic weight", "Analysis result per metric", "Promotions and rollbacks"} <= titles


def test_every_query_reads_series_the_operator_exports() -> None:
    """No panel queries a metric name the operator does not export (a typo would show an empty panel)."""
    exported = _exported()
    names = {n for _, expr in _queries() for n in re.findall(r"\b((?:flagger|serinus)_[a-z_]+)\b", expr)}
    assert names
    assert sorted(names - exported) == []


def test_every_query_is_valid_promql(prometheus: Prometheus) -> None:
    """With the dashboard variables filled in, Prometheus accepts each query."""
    for title, expr in _queries():
        query = expr.replace("$namespace", ".*").replace("$canary", ".*")
        body = httpx2.get(f"{prometheus.url}/api/v1/query", params={"query": query}, timeout=5).json()
        assert body["status"] == "success", f"{title}: {body.get('error')}"
