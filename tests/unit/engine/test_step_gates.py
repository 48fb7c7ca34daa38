"""Webhooks and their gate semantics (Flagger's pkg/controller/scheduler_hooks.go and webhook.go), on the
simulator."""

from __future__ import annotations

from tests.unit.engine.simkit import at, canary, messages, run, warnings

NS = "podinfo.test"


def _hooks(*hooks: tuple[str, str], **extra: object) -> list[dict[str, object]]:
    return [{"name": name, "type": kind, "url": f"http://hooks/{name}", **extra} for name, kind in hooks]


def test_confirm_rollout_holds_in_waiting_then_releases() -> None:
    """A refused confirm-rollout: Waiting, one Halt event and one warn alert; once accepted the run starts."""
    c = canary({"stepWeight": 50, "webhooks": _hooks(("approve", "confirm-rollout"))})
    result = run(c, {"webhooks": {"approve": [{"at": 0, "status": 403}, {"at": "5m", "status": 200}]}})
    assert warnings(result).count(f"Halt {NS} advancement waiting for approval approve") == 1
    assert [(a.severity, a.message) for a in result.alerts if a.severity == "warn"] == [
        ("warn", "Canary is waiting for approval.")
    ]
    assert any(s.phase == "Waiting" for s in result.steps)
    assert at(result, f"New revision detected! Scaling up {NS}") == 300
    assert "Confirm-rollout check approve passed" in messages(result)
    assert result.phase == "Succeeded"


def test_mute_alert_silences_the_gate_alert() -> None:
    """muteAlert: the gate holds and says so in events, without the alert."""
    c = canary({"stepWeight": 50, "webhooks": _hooks(("approve", "confirm-rollout"), muteAlert=True)})
    result = run(c, {"webhooks": {"approve": [{"at": 0, "status": 403}, {"at": "3m", "status": 200}]}})
    assert f"Halt {NS} advancement waiting for approval approve" in warnings(result)
    assert not [a for a in result.alerts if a.severity == "warn"]


def test_confirm_traffic_increase_holds_the_weight() -> None:
    """A refused confirm-traffic-increase keeps the weight where it is, warning at every step, no phase change."""
    c = canary({"stepWeight": 20, "maxWeight": 40, "webhooks": _hooks(("more", "confirm-traffic-increase"))})
    result = run(
        c, {"webhooks": {"more": [{"at": 0, "status": 200}, {"at": "30s", "status": 500}, {"at": "4m", "status": 200}]}}
    )
    text = f"Halt {NS} advancement waiting for traffic increase approval more"
    held = [e for e in result.events if e.message == text]
    assert len(held) >= 3
    assert all(e.phase == "Progressing" for e in held)
    assert [w.canary for w in result.weights if w.at < 240] == [20]
    assert result.phase == "Succeeded"


def test_confirm_promotion_waits_in_waiting_promotion_with_analysis_running() -> None:
    """A refused confirm-promotion: WaitingPromotion once, metrics keep being checked, promotion after approval."""
    c = canary(
        {
            "stepWeight": 50,
            "metrics": [{"name": "errors", "query": "x", "thresholdRange": {"max": 1}}],
            "webhooks": _hooks(("ship", "confirm-promotion")),
        }
    )
    result = run(
        c,
        {
            "webhooks": {"ship": [{"at": 0, "status": 403}, {"at": "6m", "status": 200}]},
            "metrics": {"errors": [{"at": 0, "value": 0}, {"at": "3m", "value": 5}, {"at": "4m", "value": 0}]},
        },
    )
    assert warnings(result).count(f"Halt {NS} advancement waiting for promotion approval ship") == 1
    assert any(s.phase == "WaitingPromotion" for s in result.steps)
    assert f"Halt {NS} advancement errors 5.00 > 1" in warnings(result)  # the analysis goes on while waiting
    assert ("warn", "Canary promotion is waiting for approval.") in [(a.severity, a.message) for a in result.alerts]
    assert result.phase == "Succeeded"


def test_pre_rollout_failure_counts_failed_checks_and_rolls_back() -> None:
    """A failing pre-rollout hook halts before any traffic moves; threshold failures roll back."""
    c = canary({"stepWeight": 50, "threshold": 2, "webhooks": _hooks(("smoke", "pre-rollout"))})
    result = run(c, {"webhooks": {"smoke": [{"at": 0, "status": 500}]}})
    halt = f"Halt {NS} advancement pre-rollout check smoke failed 500 Internal Server Error"
    assert warnings(result)[:2] == [halt, halt]
    assert result.weights == ()
    assert result.phase == "Failed"


def test_rollout_hook_failure_halts_like_a_metric() -> None:
    """A failing rollout hook (type empty) halts with the external check text and counts a failed check."""
    c = canary({"stepWeight": 50, "threshold": 1, "webhooks": [{"name": "load", "url": "http://hooks/load"}]})
    result = run(c, {"webhooks": {"load": [{"at": 0, "status": 200}, {"at": "30s", "status": 502}]}})
    assert f"Halt {NS} advancement external check load failed 502 Bad Gateway" in warnings(result)
    assert result.phase == "Failed"


def test_rollback_hook_asks_for_a_manual_rollback() -> None:
    """A rollback hook answering 200 rolls back at once, with Flagger's texts and a warn alert."""
    c = canary({"stepWeight": 10, "webhooks": _hooks(("abort", "rollback"))})
    result = run(c, {"webhooks": {"abort": [{"at": 0, "status": 404}, {"at": "2m", "status": 200}]}})
    assert "Rollback hook abort not signaling a rollback" in messages(result)
    assert warnings(result)[-3:] == [
        "Rollback check abort passed",
        f"Rolling back {NS} manual webhook invoked",
        f"Canary failed! Scaling down {NS}",
    ]
    assert ("warn", "Rolling back manual webhook invoked") in [(a.severity, a.message) for a in result.alerts]
    assert result.phase == "Failed"


def test_post_rollout_hooks_are_told_the_outcome() -> None:
    """post-rollout hooks run after the promotion and report passed."""
    result = run(canary({"stepWeight": 50, "webhooks": _hooks(("notify", "post-rollout"))}))
    assert messages(result)[-2:] == ["Post-rollout check notify passed", f"Promotion completed! Scaling down {NS}"]
