"""What `serinus status` and `serinus get canaries` print, from a Canary, its run (the simulator's ledger of the
podinfo latency regression) and its events."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from serinus.cli.views import fleet_table, is_pending, json_line, line, screen, snapshot, target_hash, tick_reason
from serinus.engine.changes import compute_hash
from serinus.engine.ledger import Run

GOLDEN = Path(__file__).parents[1] / "sim" / "golden" / "ledger-latency-regression.json"


def _canary(phase: str = "Progressing", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo", "namespace": "test", "uid": ""},
        "spec": {"targetRef": {"kind": "Deployment", "name": "podinfo"}, "analysis": {"threshold": 5}},
        "status": {
            "phase": phase,
            "canaryWeight": 30,
            "failedChecks": 2,
            "iterations": 0,
            "lastTransitionTime": "2026-01-01T00:02:30Z",
            **status,
        },
    }


def _ended() -> Run:
    return Run.from_object(json.loads(GOLDEN.read_text())[0])


def _halting() -> Run:
    """The same run while it halts on request-duration: up to its fifth halt, not ended yet."""
    run = _ended()
    return dataclasses.replace(run, ticks=run.ticks[:-1], result="", reason="", ended="", phase="Progressing")


EVENTS = [
    {
        "metadata": {"name": f"podinfo.{n}"},
        "type": "Warning" if n > 3 else "Normal",
        "message": f"message {n}",
        "lastTimestamp": f"2026-01-01T00:0{n}:00Z",
        "count": 3 if n == 6 else 1,
    }
    for n in range(7, 0, -1)  # newest first, as an API server may list them
]


def test_screen_shows_each_check_against_its_bound_and_recent_events() -> None:
    """The status screen names the phase, weight, failed checks of the threshold, the latest step's decision with
    each check's value and bound, and the five newest events, oldest first."""
    text = screen(snapshot(_canary(), _halting(), EVENTS))
    assert text.splitlines()[:7] == [
        "Canary podinfo.test",
        "Phase:    Progressing since 2026-01-01T00:02:30Z",
        "Weight:   canary 30%",
        "Failed:   2 of threshold 5",
        "Run:      podinfo-1, revision " + _ended().revision,
        "Decision: halt at 2026-01-01T00:03:30Z",
        "Reason:   check request-duration = 800, rule at most 500, verdict fail: Halt podinfo.test advancement "
        "request duration 800ms > 500ms",
    ]
    rows = [row.split() for row in text.split("\n\n")[1].splitlines()]
    assert rows[0] == ["CHECK", "VALUE", "BOUND", "REQUESTS", "VERDICT"]
    assert rows[1] == ["request-success-rate", "99.9", "at", "least", "99", "-", "pass"]
    assert rows[2] == ["request-duration", "800", "at", "most", "500", "-", "fail"]
    assert rows[3] == ["webhook", "load-test", "(rollout)", "accepted"]
    events = text.split("Events:\n")[1].splitlines()
    assert [e.split()[-1] for e in events[:-2]] == ["3", "4", "5"]
    assert events[3] == "  2026-01-01T00:06:00Z  Warning  message 6 (x3)"
    assert events[4].endswith("message 7")


def test_an_ended_run_gives_its_reason_and_a_canary_without_run_says_so() -> None:
    """A rolled-back run shows its decision and the reason the operator recorded; no run, no made-up decision."""
    snap = snapshot(_canary("Failed", canaryWeight=0), _ended())
    assert (snap.decision, snap.reason) == ("rollback", "Rolling back podinfo.test failed checks threshold reached 5")
    assert snap.done
    bare = snapshot(_canary("Initialized"), None)
    assert "Run:      none recorded" in screen(bare)
    assert (bare.run, bare.decision, bare.checks) == ("", "", ())


def test_a_run_of_an_earlier_canary_of_the_same_name_is_not_shown() -> None:
    """A CanaryRun owned by another uid (a deleted Canary's, not yet collected) is not this Canary's run."""
    canary = _canary()
    canary["metadata"]["uid"] = "new-uid"
    old = dataclasses.replace(_halting(), canary_uid="old-uid")
    assert snapshot(canary, old).run == ""
    assert snapshot(canary, dataclasses.replace(old, canary_uid="new-uid")).run == "podinfo-1"


def test_fleet_table_columns_with_and_without_namespaces() -> None:
    """The fleet table lists each Canary by namespace and name with phase, weight, failed/threshold, last
    transition, run, decision and reason; -A adds the NAMESPACE column first."""
    snaps = [
        snapshot(_canary("Failed", canaryWeight=0), _ended()),
        dataclasses.replace(snapshot(_canary("Succeeded", canaryWeight=0), None), name="backend"),
    ]
    rows = fleet_table(snaps, all_namespaces=False).splitlines()
    assert rows[0].split() == ["NAME", "PHASE", "WEIGHT", "FAILED", "LAST", "TRANSITION", "RUN", "DECISION", "REASON"]
    assert rows[1].split() == ["backend", "Succeeded", "0%", "2/5", "2026-01-01T00:02:30Z", "-", "-", "-"]
    assert rows[2].split()[:7] == ["podinfo", "Failed", "0%", "2/5", "2026-01-01T00:02:30Z", "podinfo-1", "rollback"]
    assert rows[2].endswith("Rolling back podinfo.test failed checks threshold reached 5")
    wide = fleet_table(snaps, all_namespaces=True).splitlines()
    assert wide[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert wide[1].split()[:2] == ["test", "backend"]
    cut = fleet_table(snaps, all_namespaces=False, reason_width=20).splitlines()[2]
    assert cut.endswith("Rolling back podi...")


def test_one_line_per_change_in_text_and_json() -> None:
    """Off a terminal each change is one line: in words, or (-o jsonl) one JSON object with the time it was seen."""
    snap = snapshot(_canary(), _halting(), EVENTS)
    assert line(snap, "2026-01-01T00:03:31Z") == (
        "2026-01-01T00:03:31Z podinfo.test Progressing canary 30% failed 2/5 podinfo-1 halt: check request-duration "
        "= 800, rule at most 500, verdict fail: Halt podinfo.test advancement request duration 800ms > 500ms"
    )
    doc = json.loads(json_line(snap, "2026-01-01T00:03:31Z"))
    assert "\n" not in json_line(snap, "t")
    assert doc["time"] == "2026-01-01T00:03:31Z"
    assert (doc["phase"], doc["canaryWeight"], doc["failedChecks"], doc["threshold"]) == ("Progressing", 30, 2, 5)
    assert (doc["run"], doc["decision"], doc["pending"]) == ("podinfo-1", "halt", False)
    assert [c["name"] for c in doc["checks"]] == ["request-success-rate", "request-duration"]
    assert doc["checks"][1] == {
        "kind": "check",
        "max": 500,
        "message": "Halt podinfo.test advancement request duration 800ms > 500ms",
        "name": "request-duration",
        "value": 800,
        "verdict": "fail",
    }
    assert len(doc["events"]) == 5


def test_a_changed_target_on_an_idle_canary_is_pending() -> None:
    """After `kubectl set image`, until the operator starts the run, Succeeded is the previous release's: the
    snapshot is pending, not done, and says so; held at a gate (Waiting) the run has started."""
    template = {"metadata": {"labels": {"app": "podinfo"}}, "spec": {"containers": [{"image": "podinfo:6.0.1"}]}}
    target = {"spec": {"template": template}}
    applied = target_hash("Deployment", target)
    assert applied == compute_hash(template)
    status = {"phase": "Succeeded", "lastAppliedSpec": applied, "lastPromotedSpec": applied}
    assert not is_pending(status, applied)
    changed = target_hash("Deployment", {"spec": {"template": {**template, "spec": {"containers": []}}}})
    assert is_pending(status, changed)
    assert not is_pending({**status, "phase": "Waiting"}, changed)
    assert not is_pending({"phase": "Initializing"}, changed)  # never applied: the first sync is no release
    snap = snapshot(_canary("Succeeded"), None, pending=True)
    assert not snap.done
    assert "a new revision is pending" in screen(snap)
    assert "(new revision pending)" in line(snap, "t")


def test_daemonset_hash_ignores_the_scale_to_zero_selector() -> None:
    """A DaemonSet scaled to zero by Serinus's node selector hashes as the same revision, as the operator sees it."""
    spec = {"containers": [{"image": "agent:1"}]}
    scaled = {"spec": {"template": {"spec": {**spec, "nodeSelector": {"flagger.app/scale-to-zero": "true"}}}}}
    assert target_hash("DaemonSet", scaled) == target_hash("DaemonSet", {"spec": {"template": {"spec": spec}}})


def test_tick_reason_prefers_the_failing_record() -> None:
    """A tick's reason is its first failing check or refused webhook, else its last event."""
    refused = {"kind": "webhook", "name": "gate", "type": "confirm-rollout", "verdict": "refused"}
    event = {"kind": "event", "type": "Normal", "message": "Advance podinfo.test canary weight 10"}
    assert tick_reason({"records": [event, refused]}) == "webhook gate (confirm-rollout) refused"
    assert tick_reason({"records": [event]}) == "Advance podinfo.test canary weight 10"
    assert tick_reason({}) == ""
