"""Malformed and non-finite metric answers over real HTTP: a Prometheus that answers `+Inf`, `"NaN"`, a string,
null, a list body, `data` as a list or `result` as a string fails the check with a message that says what came
back, and the release rolls back after `threshold` failed checks, as Flagger's does for a failed query. On Debian's
Prometheus: `+Inf` from a real query, and a template value built to inject `or vector(1)` that stays a label value.
"""

from __future__ import annotations

from typing import Any

import pytest

from serinus.api import Canary, MetricTemplate
from serinus.engine.ports import MetricFailure, World
from serinus.metrics.checks import plan_checks
from serinus.metrics.port import CanaryMetrics
from serinus.metrics.prometheus import PrometheusProvider
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from tests.integration.conftest import Prometheus
from tests.integration.fakeapi import Call, FakeApi
from tests.unit.engine.simkit import step_release

pytestmark = pytest.mark.integration

DURATION = {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"}


def _canary(server: str, metrics: list[dict[str, Any]], **analysis: Any) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": "istio",
                "metricsServer": server,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "analysis": {
                    "interval": "1m",
                    "threshold": 2,
                    "stepWeight": 20,
                    "maxWeight": 60,
                    "metrics": metrics,
                    **analysis,
                },
            },
        }
    )


def _port(canary: Canary, templates: dict[tuple[str, str], MetricTemplate] | None = None) -> CanaryMetrics:
    plans = plan_checks(canary, mesh_provider="istio", metrics_server="", templates=templates or {}, secrets={})
    return CanaryMetrics(plans, observer="istio", namespace="test")


async def _release(canary: Canary, steps: int = 8) -> tuple[list[tuple[str, str]], str]:
    """The engine on the simulator's cluster with the real Metrics port (real HTTP to the Canary's metrics
    server), a step a minute; the events (type, message) and the final phase."""
    engine, cluster = build(canary, parse_scenario({}, canary))
    original = engine.make_world

    async def make_world(current: Canary, provider: str) -> World:
        world = await original(current, provider)
        world.metrics = _port(current)
        return world

    engine.make_world = make_world
    await step_release(engine, cluster, steps)
    return [(e.type, e.message) for e in cluster.events], str(cluster.canary.status.phase)


def _vector(value: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.7e9, value]}]}}


def _answering(body: Any) -> Any:
    """Prometheus' /api/v1/query: `vector(1)` (the online check) is 1, every other query gets `body`."""

    def answer(call: Call) -> tuple[int, Any]:
        return 200, _vector("1") if call.params.get("query") == "vector(1)" else body

    return answer


QUERY_FAILED = "Prometheus query failed: request-duration: prometheus {url}: {what}; query: "
BODIES = [
    (_vector("+Inf"), QUERY_FAILED, "the value is +Inf, not a finite number"),
    (_vector("slow"), QUERY_FAILED, "the value 'slow' is not a number"),
    (_vector(None), QUERY_FAILED, "the value is null, not a number"),
    (_vector("1e308"), QUERY_FAILED, "the answer 1e+308 is out of range for request-duration"),
    ([{"status": "success"}], QUERY_FAILED, "the answer is a list, not an object"),
    ({"status": "success", "data": [1, 2]}, QUERY_FAILED, "data is a list, not an object"),
    (
        {"status": "success", "data": {"resultType": "vector", "result": "1"}},
        QUERY_FAILED,
        "data.result is a string, not a list",
    ),
    (
        _vector("NaN"),
        "Halt advancement no values found for istio metric request-duration probably podinfo.test is not receiving "
        "traffic",
        "",
    ),
]


@pytest.mark.parametrize(("body", "text", "what"), BODIES)
async def test_a_bad_answer_fails_the_check_and_the_release_rolls_back(
    fake_api: FakeApi, body: Any, text: str, what: str
) -> None:
    """Each bad answer is a Warning saying what came back (NaN: Flagger's no-values text) once per analysis step,
    and after `threshold` (2) such steps Flagger's rollback: its events, all traffic back to the primary."""
    fake_api.on("GET", "/api/v1/query", _answering(body))
    events, phase = await _release(_canary(fake_api.url, [DURATION]))
    expected = text.format(url=fake_api.url, what=what)
    failed = [m for kind, m in events if kind == "Warning" and m.startswith(expected)]
    assert len(failed) == 2
    messages = [m for _, m in events]
    assert "Rolling back podinfo.test failed checks threshold reached 2" in messages
    assert "Canary failed! Scaling down podinfo.test" in messages
    assert phase == "Failed"
    assert not [m for m in messages if m.startswith("Advance podinfo.test canary weight 40")]


async def test_the_judge_reads_infinite_counts_as_a_malformed_answer(fake_api: FakeApi) -> None:
    """The statistical judge's count queries answered `+Inf`: the observation carries the provider's message and
    is marked malformed (the judge freezes on it, never reasons on it)."""
    fake_api.on("GET", "/api/v1/query", _answering(_vector("+Inf")))
    canary = _canary(fake_api.url, [{"name": "request-success-rate", "thresholdRange": {"min": 99}}])
    metric = canary.analysis_or_default().metrics[0]
    observation = await _port(canary).observe(metric, 60.0, baseline=True)
    assert observation.failure == "malformed"
    assert observation.error == f"prometheus {fake_api.url}: the value is +Inf, not a finite number"


async def test_infinity_from_a_real_prometheus_is_a_failed_check(prometheus: Prometheus) -> None:
    """Debian's Prometheus answers `+Inf` for a division by zero: the inline-query check fails with the value
    named, instead of passing its `min` bound."""
    canary = _canary(prometheus.url, [{"name": "ratio", "query": "vector(1) / 0", "thresholdRange": {"min": 1}}])
    got = await _port(canary).measure(canary.analysis_or_default().metrics[0])
    assert got.failure is MetricFailure.MALFORMED
    assert got.error == f"prometheus {prometheus.url}: the value is +Inf, not a finite number; query: vector(1) / 0"


async def test_a_value_built_to_inject_a_query_stays_a_label_value(prometheus: Prometheus) -> None:
    """A template variable built to close the matcher and add `or vector(1)` (which, substituted as Go's
    text/template does, makes Prometheus answer 1) is escaped: Prometheus reads it as a label value and finds no
    series."""
    template = MetricTemplate.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "metadata": {"name": "errors", "namespace": "test"},
            "spec": {
                "provider": {"type": "prometheus", "address": prometheus.url},
                "query": 'sum(inject_errors_total{team="{{ variables.team }}"})',
            },
        }
    )
    attack = 'a"}) or vector(1) #'
    canary = _canary(
        prometheus.url,
        [
            {
                "name": "errors",
                "templateRef": {"name": "errors"},
                "templateVariables": {"team": attack},
                "thresholdRange": {"max": 0},
            }
        ],
    )
    naive = 'sum(inject_errors_total{team="' + attack + '"})'
    got = await _port(canary, {("test", "errors"): template}).measure(canary.analysis_or_default().metrics[0])
    assert got.failure is MetricFailure.NO_DATA
    assert got.query == r'sum(inject_errors_total{team="a\"}) or vector(1) #"})'
    # what the same value does when written as it is (Flagger's rendering): the query answers 1
    provider = PrometheusProvider(prometheus.url)
    try:
        assert await provider.query(naive) == 1.0
    finally:
        await provider.close()
