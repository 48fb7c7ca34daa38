"""The operator's /metrics and /healthz speak Flagger's names, labels and encodings over real HTTP."""

from __future__ import annotations

import socket

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from serinus.runtime.http import make_app, serve
from serinus.runtime.metrics import ControllerMetrics, status_value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_status_encoding_matches_flagger() -> None:
    """flagger_canary_status is 0 for Progressing, 2 for Failed and 1 for every other phase."""
    assert status_value("Progressing") == 0
    assert status_value("Failed") == 2
    for phase in ("Initialized", "Succeeded", "Waiting", "Promoting", "Finalising", "WaitingPromotion"):
        assert status_value(phase) == 1


async def test_metrics_endpoint_serves_flaggers_series() -> None:
    """A scrape of /metrics returns every flagger_* series with Flagger's labels, and no _created series."""
    metrics = ControllerMetrics()
    metrics.set_info("0.1.0", "kubernetes")
    metrics.set_total("test", 3)
    metrics.set_status("podinfo", "test", "Progressing")
    metrics.set_weight("podinfo", "test", primary=70, canary=30)
    metrics.observe_duration("podinfo", "test", 0.25)
    metrics.set_metric_value("podinfo", "test", "request-duration", 0.42, passed=False)
    metrics.inc_success("podinfo", "test", "canary")
    metrics.inc_failure("podinfo", "test", "blue-green")
    port = _free_port()
    runner = await serve(make_app(metrics), "127.0.0.1", port)
    try:
        async with httpx2.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
            scrape = await http.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await runner.cleanup()
    assert (health.status_code, health.text) == (200, "OK")
    assert scrape.headers["content-type"].startswith("text/plain")
    got = _samples(scrape.text)
    assert got[("flagger_info", (("mesh_provider", "kubernetes"), ("version", "0.1.0")))] == 1
    assert got[("flagger_canary_total", (("namespace", "test"),))] == 3
    assert got[("flagger_canary_status", (("name", "podinfo"), ("namespace", "test")))] == 0
    assert got[("flagger_canary_weight", (("namespace", "test"), ("workload", "podinfo-primary")))] == 70
    assert got[("flagger_canary_weight", (("namespace", "test"), ("workload", "podinfo")))] == 30
    assert got[("flagger_canary_duration_seconds_count", (("name", "podinfo"), ("namespace", "test")))] == 1
    assert (
        got[
            (
                "flagger_canary_metric_analysis",
                (("metric", "request-duration"), ("name", "podinfo"), ("namespace", "test")),
            )
        ]
        == 0.42
    )
    assert (
        got[
            (
                "flagger_canary_metric_analysis_total",
                (("metric", "request-duration"), ("name", "podinfo"), ("namespace", "test"), ("result", "failed")),
            )
        ]
        == 1
    )
    strategy = (
        ("analysis_status", "completed"),
        ("deployment_strategy", "canary"),
        ("name", "podinfo"),
        ("namespace", "test"),
    )
    assert got[("flagger_canary_successes_total", strategy)] == 1
    failed = (
        ("analysis_status", "completed"),
        ("deployment_strategy", "blue-green"),
        ("name", "podinfo"),
        ("namespace", "test"),
    )
    assert got[("flagger_canary_failures_total", failed)] == 1
    assert not [name for name, _ in got if name.endswith("_created")]


async def test_healthz_reports_unhealthy() -> None:
    """/healthz answers 503 when the operator says it is not healthy, so the kubelet restarts it."""
    port = _free_port()
    runner = await serve(make_app(ControllerMetrics(), healthy=lambda: False), "127.0.0.1", port)
    try:
        async with httpx2.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        await runner.cleanup()
    assert health.status_code == 503


def test_judge_series_carry_the_evidence_of_one_tick() -> None:
    """serinus_judge_*: one verdict series set to 1, the evidence and thresholds per test and direction, the
    ratio estimate and the predicted time while holding."""
    from prometheus_client import generate_latest

    from serinus.engine.judge.state import JudgeState
    from serinus.engine.judge.types import LedgerLine, TickResult, Verdict

    metrics = ControllerMetrics()
    line = LedgerLine(
        at=0,
        metric="request-success-rate",
        verdict=Verdict.HOLD,
        reason="needs more",
        test="ratio",
        estimate=1.4,
        e_fail=3.5,
        fail_threshold=80,
        e_pass=2.0,
        pass_threshold=20,
    )
    metrics.set_judge("podinfo", "test", TickResult(Verdict.HOLD, "needs more", (line,), JudgeState(), predicted_s=600))
    got = _samples(generate_latest(metrics.registry).decode())
    key = (
        ("direction", "fail"),
        ("metric", "request-success-rate"),
        ("name", "podinfo"),
        ("namespace", "test"),
        ("test", "ratio"),
    )
    assert got[("serinus_judge_evidence", key)] == 3.5
    assert got[("serinus_judge_threshold", key)] == 80
    passing = tuple(("direction", "pass") if k == "direction" else (k, v) for k, v in key)
    assert got[("serinus_judge_evidence", passing)] == 2.0
    assert (
        got[("serinus_judge_ratio", (("metric", "request-success-rate"), ("name", "podinfo"), ("namespace", "test")))]
        == 1.4
    )
    verdicts = {
        dict(labels)["verdict"]: value for (name, labels), value in got.items() if name == "serinus_judge_verdict"
    }
    assert verdicts == {"FREEZE": 0, "ROLLBACK": 0, "HOLD": 1, "ADVANCE": 0, "PROMOTE": 0}
    assert got[("serinus_judge_predicted_seconds", (("name", "podinfo"), ("namespace", "test")))] == 600
