"""`traffic:` in a scenario: the simulator serves generated requests with the weights the engine sets, and the
built-in metrics and the judge's counts come from them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import click
import pytest

from serinus.api import Canary, CanaryMetric
from serinus.engine.ports import Routes
from serinus.engine.status import with_initializing
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import PROVIDER_ERROR, SimMetrics, Weights
from tests.unit.engine.simkit import BUILTINS, SR, canary, canary_weights, messages, run, warnings

ROOT = Path(__file__).resolve().parents[3]
FLAGGER = {"stepWeight": 10, "maxWeight": 50, "threshold": 5, "metrics": BUILTINS}


def _traffic(**raw: Any) -> dict[str, Any]:
    return {"duration": "40m", "traffic": {"rps": 20, "seed": 3, **raw}}


def test_a_canary_failing_five_percent_is_rolled_back() -> None:
    """Flagger's rule on generated values: a 5% error canary fails the success-rate checks and rolls back."""
    result = run(canary(FLAGGER), _traffic(canary={"errorRate": 0.05}))
    assert result.phase == "Failed"
    halts = [m for m in warnings(result) if m.startswith("Halt podinfo.test advancement success rate")]
    assert len(halts) == 5
    assert "Rolling back podinfo.test failed checks threshold reached 5" in messages(result)
    assert canary_weights(result) == [10, 0]


def test_a_good_canary_is_promoted() -> None:
    """Same traffic, canary as good as the primary: promoted on Flagger's schedule."""
    result = run(canary(FLAGGER), _traffic())
    assert result.phase == "Succeeded"
    assert canary_weights(result) == [10, 20, 30, 40, 50, 0]
    assert not warnings(result)


def test_a_five_times_regression_inside_the_bound_passes_flaggers_rule() -> None:
    """The example scenario: 0.5% canary errors against 0.1% stay above min 99, so Flagger's rule promotes."""
    import yaml

    doc = yaml.safe_load((ROOT / "examples/podinfo/traffic-error-regression.yaml").read_text())
    flagger = canary(FLAGGER)
    assert run(flagger, doc).phase == "Succeeded"


def test_latency_comes_from_the_histogram() -> None:
    """A slow canary (median 400 ms) fails request-duration with Flagger's text, in ms."""
    result = run(canary(FLAGGER), _traffic(canary={"latency": {"median": "400ms"}}))
    assert result.phase == "Failed"
    assert any(
        m.startswith("Halt podinfo.test advancement request duration") and "> 500ms" in m for m in warnings(result)
    )


def test_no_requests_is_no_data_and_provider_errors_are_query_failures() -> None:
    """Zero traffic reads as Flagger's "no values found"; a provider error as a failed query."""
    quiet = run(canary(FLAGGER), _traffic(rps=0))
    assert any("no values found for istio metric request-success-rate" in m for m in warnings(quiet))
    broken = run(canary(FLAGGER), _traffic(providerErrors=[{"at": "0s", "until": "1h"}]))
    assert f"Prometheus query failed: {PROVIDER_ERROR}" in warnings(broken)
    assert broken.phase == "Failed"


def test_scenario_values_win_over_traffic() -> None:
    """A metric the scenario gives values for is read from them, even with traffic."""
    result = run(
        canary(FLAGGER), {**_traffic(canary={"errorRate": 0.5}), "metrics": {SR: [{"at": "0s", "value": 99.9}]}}
    )
    assert not any("success rate" in m for m in warnings(result))


def test_traffic_follows_the_weights_the_engine_set() -> None:
    """Closed loop: the canary gets no requests before the engine routes any to it, then its weight's share."""
    c = canary(FLAGGER)
    engine, cluster = build(c, parse_scenario(_traffic(rps=200), c))

    async def go() -> None:
        initializing = with_initializing(cluster.canary, cluster.clock.now())
        assert initializing is not None
        cluster.canary.status = initializing
        await engine.advance("podinfo", "test")
        cluster.revision += 1  # a new revision, as the runner does right after initialization
        for t in (0, 0, 0, 60, 120, 180, 240, 300):
            cluster.clock.set(float(t))
            await engine.advance("podinfo", "test")

    asyncio.run(go())
    assert cluster.traffic is not None
    cluster.traffic.catch_up(300.0)
    assert [w.canary for w in cluster.weights] == [10, 20, 30, 40, 50]
    subs = cluster.traffic.history.subs
    share = [float(s.requests[1, 0] / s.requests[:, 0].sum()) for s in subs]
    by_minute = [sum(share[i : i + 6]) / 6 for i in range(0, len(share), 6)]
    assert by_minute == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5], abs=0.03)


def _observe(c: Canary, scenario: dict[str, Any], metric: CanaryMetric, at: float = 120.0) -> Any:
    """What the Metrics port observes at `at` over the last minute, the canary at 30% from the start."""
    _, cluster = build(c, parse_scenario(scenario, c))
    cluster.routes = Routes(70, 30, False)
    cluster.weights.append(Weights(0.0, 30, 70))
    cluster.clock.set(at)
    return asyncio.run(SimMetrics(cluster, "istio").observe(metric, 60.0, True))


def test_observe_gives_counts_for_both_versions() -> None:
    """The judge's port: requests and 5xx for the success rate, cumulative ms buckets for the duration."""
    c = canary(FLAGGER)
    sr, duration = c.analysis_or_default().metrics
    scenario = _traffic(rps=100, primary={"errorRate": 0.01}, canary={"errorRate": 0.1})
    ratio = _observe(c, scenario, sr)
    assert ratio.kind == "ratio"
    assert ratio.error is None
    assert ratio.canary.requests == pytest.approx(1800, rel=0.15)
    assert ratio.primary.requests == pytest.approx(4200, rel=0.1)
    assert ratio.canary.bad / ratio.canary.requests == pytest.approx(0.1, abs=0.03)
    hist = _observe(c, scenario, duration)
    assert hist.kind == "histogram"
    bounds = [b for b, _ in hist.canary.buckets]
    counts = [n for _, n in hist.canary.buckets]
    assert bounds[0] == 0.5
    assert bounds[-1] == float("inf")
    assert counts == sorted(counts)
    assert counts[-1] == hist.canary.requests
    gap = _observe(c, {**scenario, "traffic": {**scenario["traffic"], "gaps": [{"at": "90s", "until": "100s"}]}}, sr)
    assert gap.canary.requests is None
    assert gap.primary.requests is None
    failed = _observe(
        c, {**scenario, "traffic": {**scenario["traffic"], "providerErrors": [{"at": "0s", "until": "1h"}]}}, sr
    )
    assert failed.error == PROVIDER_ERROR


def test_observe_custom_metric_is_a_scalar_with_the_primarys_value() -> None:
    """A custom metric's scenario values: kind scalar, the canary's value and the primary's where given."""
    custom = {"name": "p95", "query": "x", "thresholdRange": {"max": 1}, "interval": "1m"}
    c = canary({**FLAGGER, "metrics": [*BUILTINS, custom]})
    metric = c.analysis_or_default().metrics[2]
    scenario = {"metrics": {"p95": [{"at": "0s", "value": 0.9, "primary": 0.5}, {"at": "5m", "value": 2}]}}
    got = _observe(c, scenario, metric)
    assert (got.kind, got.canary.value, got.primary.value) == ("scalar", 0.9, 0.5)
    later = _observe(c, scenario, metric, at=400.0)
    assert (later.canary.value, later.primary.value) == (2, 0.5)
    without = _observe(c, {"metrics": {"p95": [{"at": "0s", "value": 0.9}]}}, metric)
    assert without.primary.value is None


def test_json_always_has_checks() -> None:
    """-o json: `checks` is there, empty while the statistical judge is off."""
    doc = run(canary(FLAGGER), _traffic()).to_json()
    assert doc["checks"] == []
    json.dumps(doc)


def test_judge_ticks_become_checks_and_timeline_lines() -> None:
    """What the engine reports through Telemetry.set_judge: one `checks` entry per ledger line (at the tick's
    simulated time, numbers JSON-safe) and one compact line per tick in the text timeline."""
    from serinus.cli.simulate import render_text
    from serinus.engine.judge.state import JudgeState
    from serinus.engine.judge.types import LedgerLine, TickResult, Verdict
    from serinus.sim.world import SimTelemetry

    c = canary(FLAGGER)
    result = run(c, _traffic())
    _, cluster = build(c, parse_scenario({}, c))
    cluster.clock.set(120.0)
    line = LedgerLine(at=7.0, metric=SR, verdict=Verdict.HOLD, reason="canary 0/120 errors", e_fail=float("inf"))
    SimTelemetry(cluster).set_judge(c, TickResult(Verdict.HOLD, "too little evidence", (line,), JudgeState()))
    judged = dataclasses.replace(result, judgements=tuple(cluster.judgements))
    checks = judged.to_json()["checks"]
    assert [(x["at"], x["metric"], x["verdict"], x["reason"], x["tick"]) for x in checks] == [
        (120, SR, "HOLD", "canary 0/120 errors", "HOLD")
    ]
    assert checks[0]["eFail"] == "inf"
    assert "judge HOLD (request-success-rate HOLD): too little evidence" in click.unstyle(render_text(judged, c))
