"""One analysis step under the statistical judge, on the simulator with generated traffic: what each verdict does
to weights, events, alerts, failedChecks and status.judge, and that without a judge block nothing changes."""

from __future__ import annotations

import json
from typing import Any

from serinus.sim.runner import SimResult
from tests.unit.engine.simkit import BUILTINS, canary, messages, run, warnings

SCHEDULE = {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50, "metrics": BUILTINS}
GOOD = {"errorRate": 0.001, "latency": {"median": "80ms", "sigma": 0.5}}


def judged(judge: dict[str, Any] | None = None, **analysis: Any) -> Any:
    return canary({**SCHEDULE, "judge": {"mode": "statistical", **(judge or {})}, **analysis})


def traffic(rps: float, canary_version: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "duration": "60m",
        "revisions": ["0s"],
        "traffic": {"rps": rps, "seed": 11, "primary": GOOD, "canary": canary_version or GOOD, **extra},
    }


def judge_events(result: SimResult, prefix: str) -> list[str]:
    return [m for m in warnings(result) if m.startswith(prefix)]


def test_without_a_judge_block_the_release_is_flaggers() -> None:
    """The same traffic, no judge: Flagger's checks run, no ledger, no status.judge, the 5x regression promotes
    because its success rate (99.5 %) stays above min 99."""
    result = run(canary(SCHEDULE), traffic(200, {**GOOD, "errorRate": 0.005}))
    assert result.phase == "Succeeded"
    assert result.checks() == []
    assert result.canary.status.judge is None
    assert not any(m.startswith(("Judged", "Halt podinfo.test advancement, waiting")) for m in messages(result))


def test_a_5x_regression_that_flaggers_bound_passes_is_rolled_back_with_the_evidence() -> None:
    result = run(judged(), traffic(200, {**GOOD, "errorRate": 0.005}))
    assert result.phase == "Failed"
    judged_events = judge_events(result, "Judged podinfo.test: ")
    assert len(judged_events) == 1
    assert "errors: canary " in judged_events[0]
    assert "→ rollback" in judged_events[0]
    # Flagger's rollback path, unchanged: its events and alert, all traffic back on the primary
    assert "Rolling back podinfo.test failed checks threshold reached 5" in messages(result)
    assert "Canary failed! Scaling down podinfo.test" in messages(result)
    assert any(a.severity == "error" and a.message == "Failed checks threshold reached 5" for a in result.alerts)
    assert (result.weights[-1].primary, result.weights[-1].canary) == (100, 0)
    assert result.canary.status.failed_checks == 0  # Flagger's rollback resets the count with the Failed phase
    # never promoted: no weight above maxWeight, no copy to the primary
    assert not any("template spec to podinfo-primary" in m for m in messages(result))
    assert result.canary.status.judge is not None
    assert result.canary.status.judge.verdict == "ROLLBACK"


def test_a_good_canary_promotes_on_schedule_at_high_traffic() -> None:
    result = run(judged(), traffic(200))
    assert result.phase == "Succeeded"
    assert result.canary.status.failed_checks == 0
    verdicts = [c["verdict"] for c in result.checks()]
    assert "ROLLBACK" not in verdicts
    assert "PROMOTE" in verdicts
    assert "Copying podinfo.test template spec to podinfo-primary.test" in messages(result)


def test_a_shared_incident_does_not_roll_back_a_good_canary() -> None:
    """Both versions at 5 % errors for 7 minutes: Flagger's min-99 check fails 5 times and rolls back; the judge
    compares the versions and promotes."""
    incident = [{"at": "3m", "until": "10m", "shared": {"errorRate": 0.05}}]
    flagger = run(canary(SCHEDULE), traffic(200, changes=incident))
    assert flagger.phase == "Failed"
    result = run(judged(), traffic(200, changes=incident))
    assert result.phase == "Succeeded", messages(result)
    assert not judge_events(result, "Judged")


def test_a_provider_outage_freezes_weights_without_failed_checks_and_alerts_once() -> None:
    result = run(judged(), traffic(200, providerErrors=[{"at": "2m30s", "until": "7m30s"}]))
    frozen = judge_events(result, "Halt podinfo.test advancement, judge frozen: ")
    assert len(frozen) >= 4
    during = [s for s in result.steps if 180 <= s.at <= 420]
    assert during
    assert len({s.canary_weight for s in during}) == 1, "the weight must not move while frozen"
    assert all(s.failed_checks == 0 for s in result.steps)
    assert sum(1 for a in result.alerts if a.message.startswith("Canary analysis frozen for 3 intervals")) == 1
    assert result.phase == "Succeeded"  # and the release resumes once the provider answers
    assert not any("FREEZE" in m or "query:" in m for m in frozen), frozen[0]
    # the first judged tick after the outage reads back to the last judged one: the outage's requests count
    ticks = sorted({c["at"] for c in result.checks()})
    verdict_at = {c["at"]: c["tick"] for c in result.checks()}
    resumed = next(t for t in ticks if t > 300 and verdict_at[t] != "FREEZE")
    line = next(c for c in result.checks() if c["at"] == resumed and c["metric"] == "request-success-rate")
    before = max(t for t in ticks if t < resumed and verdict_at[t] != "FREEZE")
    assert resumed - before >= 300
    assert line["canary"]["requestsTick"] > 0.7 * 200 * (resumed - before) * 0.2


def test_low_traffic_holds_at_the_gate_then_onInconclusive_decides() -> None:
    """0.5 RPS cannot certify a 99 % success rate within maxHold: the judge holds (saying how long it would take,
    without failing a check), then Flagger's verdict over the run promotes the good canary."""
    result = run(judged({"maxHold": "10m"}), traffic(0.5))
    holds = judge_events(result, "Halt podinfo.test advancement, waiting for evidence: ")
    assert holds
    assert "more canary requests" in holds[0]
    assert all(s.failed_checks == 0 for s in result.steps)
    assert (
        "Judge reached maxHold without a decision for podinfo.test: onInconclusive flagger gives PROMOTE"
        in messages(result)
    )
    assert result.phase == "Succeeded"
    rollback = run(judged({"maxHold": "10m", "onInconclusive": "rollback"}), traffic(0.5))
    assert rollback.phase == "Failed"
    assert (
        "Judge reached maxHold without a decision for podinfo.test: onInconclusive rollback gives ROLLBACK"
        in messages(rollback)
    )


def test_pause_holds_and_alerts_once() -> None:
    result = run(judged({"maxHold": "5m", "onInconclusive": "pause"}), {**traffic(0.5), "duration": "40m"})
    assert result.phase == "Progressing"
    paused = [a for a in result.alerts if a.message.startswith("Canary analysis paused, waiting for a person")]
    assert len(paused) == 1


def test_status_judge_is_bounded_and_json_and_the_annotation_form_works() -> None:
    annotated = canary(SCHEDULE)
    annotated.metadata.annotations = {"serinus.io/judge": "mode: statistical"}
    result = run(annotated, traffic(200, {**GOOD, "errorRate": 0.005}))
    assert result.phase == "Failed"
    status = result.canary.status.judge
    assert status is not None
    wire = json.dumps(result.canary.status.to_dict()["judge"])
    assert len(wire) < 16_000
    extra = status.model_extra or {}
    assert len(extra["ledger"]) <= 12
    assert {m.metric for m in status.metrics} == {"request-success-rate", "request-duration"}


def test_checks_in_simulate_json_name_time_metric_verdict_and_reason() -> None:
    result = run(judged(), traffic(200, {**GOOD, "errorRate": 0.005}))
    checks = result.to_json()["checks"]
    assert checks
    assert {"at", "metric", "verdict", "reason"} <= set(checks[0])
    last = [c for c in checks if c["at"] == checks[-1]["at"]]
    assert {c["metric"] for c in last} == {"request-success-rate", "request-duration"}
    assert any(c["verdict"] == "ROLLBACK" and c["metric"] == "request-success-rate" for c in last)
    assert [c["at"] for c in checks] == sorted(c["at"] for c in checks)


def test_flaggers_metric_series_keeps_the_canarys_own_values_under_the_judge(monkeypatch: Any) -> None:
    """flagger_canary_metric_analysis still carries the canary's success rate (percent) and p99 (seconds), computed
    from the same counts the judge reads, with Flagger's pass/fail against thresholdRange."""
    from serinus.sim.world import SimTelemetry

    seen: list[tuple[str, float, bool]] = []
    monkeypatch.setattr(
        SimTelemetry, "set_analysis", lambda self, canary, metric, value, passed: seen.append((metric, value, passed))
    )
    run(judged(), traffic(200))
    rates = [v for m, v, _ in seen if m == "request-success-rate"]
    p99s = [v for m, v, _ in seen if m == "request-duration"]
    assert rates
    assert all(98 < v <= 100 for v in rates)
    assert p99s
    assert all(0.1 < v < 0.6 for v in p99s)  # lognormal median 80 ms, sigma 0.5: p99 ≈ 256 ms, read as ≈ 280 ms
    assert all(passed for _, _, passed in seen)
