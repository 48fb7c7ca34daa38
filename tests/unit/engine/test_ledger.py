"""The run ledger's folding (engine/ledger.py): runs open, continue, end and are superseded; identical ticks
compact into one with a count; a run keeps at most MAX_TICKS ticks; explain names the decisive check."""

from __future__ import annotations

import datetime as dt

from serinus.engine.ledger import (
    MAX_TICKS,
    SUPERSEDED,
    LedgerTick,
    Record,
    Run,
    explain,
    fold,
    rule_text,
    to_prune,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HALT = Record(
    "check", name="request-duration", verdict="fail", value=800.0, max=500.0, message="Halt ... 800ms > 500ms"
)
PASS = Record("check", name="request-success-rate", verdict="pass", value=99.9, min=99.0)


def _tick(
    seconds: float, *records: Record, checksum: str = "c1", phase: str = "Progressing", **extra: object
) -> LedgerTick:
    fields: dict[str, object] = {
        "canary": "podinfo",
        "namespace": "test",
        "uid": "u-1",
        "revision": "r1",
        "checksum": checksum,
        "at": T0 + dt.timedelta(seconds=seconds),
        "phase": phase,
        "weight": 10,
        "records": records,
    }
    fields.update(extra)
    return LedgerTick(**fields)  # type: ignore[arg-type]


def test_identical_halts_compact_into_one_tick_with_a_count() -> None:
    """Five identical halts are one tick with count 5, first and last time; a different tick starts a new one."""
    _, run = fold(None, _tick(0, PASS), 1)
    for i in range(1, 6):
        _, run = fold(run, _tick(30 * i, HALT), 2)
    assert run.name == "podinfo-1"
    assert [t["count"] for t in run.ticks] == [1, 5]
    assert run.ticks[1]["at"] == "2026-01-01T00:00:30Z"
    assert run.ticks[1]["last"] == "2026-01-01T00:02:30Z"
    assert run.ticks[1]["decision"] == "halt"


def test_a_run_ends_with_its_result_and_reason_and_the_next_tick_opens_a_new_run() -> None:
    """A Failed tick ends the run with its reason; the next revision's tick opens run 2, leaving run 1 alone."""
    _, run = fold(None, _tick(0, HALT), 1)
    _, run = fold(run, _tick(30, phase="Failed", ended="Failed", reason="Rolling back podinfo.test ..."), 2)
    assert (run.result, run.reason, run.ended) == ("Failed", "Rolling back podinfo.test ...", "2026-01-01T00:00:30Z")
    assert run.ticks[-1]["decision"] == "rollback"
    superseded, second = fold(run, _tick(60, checksum="c2"), 2)
    assert superseded is None
    assert (second.name, second.index, second.started, second.result) == ("podinfo-2", 2, "2026-01-01T00:01:00Z", "")


def test_an_open_run_is_superseded_by_a_new_revision() -> None:
    """A tick of another revision while a run is open ends it as Superseded, naming the new revision."""
    _, run = fold(None, _tick(0, PASS), 1)
    superseded, new = fold(run, _tick(30, checksum="c2", revision="r2"), 2)
    assert superseded is not None
    assert superseded.result == SUPERSEDED
    assert "r2" in superseded.reason
    assert new.index == 2
    assert new.revision == "r2"


def test_a_continuing_step_joins_the_open_run_whatever_its_checksum() -> None:
    """While a confirm-rollout gate holds, lastAppliedSpec is the old revision: the step still joins the run."""
    _, run = fold(None, _tick(0, checksum="new"), 1)
    superseded, same = fold(run, _tick(30, HALT, checksum="old", continues=True), 2)
    assert superseded is None
    assert same.name == run.name
    assert len(same.ticks) == 2


def test_a_run_keeps_the_first_and_the_latest_ticks_only() -> None:
    """Past MAX_TICKS distinct ticks, the oldest but the first are dropped and counted."""
    _, run = fold(None, _tick(0, PASS), 1)
    for i in range(1, MAX_TICKS + 50):
        _, run = fold(run, _tick(i, Record("check", name="m", verdict="pass", value=float(i))), 2)
    assert len(run.ticks) == MAX_TICKS
    assert run.ticks[0]["records"][0]["name"] == "request-success-rate"
    assert run.ticks[-1]["records"][0]["value"] == MAX_TICKS + 49
    assert run.dropped == 50


def test_prune_keeps_the_newest_runs() -> None:
    """With 3 runs kept, runs 1 and 2 of 5 go; a keep below 1 still keeps the newest."""
    assert to_prune([3, 1, 5, 2, 4], 3) == [1, 2]
    assert to_prune([1, 2], 0) == [1]


def test_the_object_round_trips_and_is_owned_by_the_canary() -> None:
    """to_object gives a serinus.io CanaryRun owned by the Canary; from_object reads the same run back."""
    _, run = fold(None, _tick(0, HALT), 7)
    obj = run.to_object()
    assert (obj["apiVersion"], obj["kind"]) == ("serinus.io/v1alpha1", "CanaryRun")
    assert obj["metadata"]["ownerReferences"][0] == {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "uid": "u-1",
        "controller": False,
        "blockOwnerDeletion": False,
    }
    assert obj["metadata"]["labels"] == {"serinus.io/canary": "podinfo", "serinus.io/run": "7"}
    assert Run.from_object(obj) == run


def test_explain_names_the_decisive_check_with_value_and_rule() -> None:
    """A rollback's explanation quotes the last failing check: its value, its bound in words and how often."""
    _, run = fold(None, _tick(0, PASS), 1)
    for i in range(1, 4):
        _, run = fold(run, _tick(30 * i, PASS, HALT), 2)
    _, run = fold(run, _tick(120, phase="Failed", ended="Failed", reason="Rolling back podinfo.test threshold"), 2)
    got = explain(run)
    assert got.decisive == HALT.to_json()
    assert got.times == 3
    assert "Reason: Rolling back podinfo.test threshold" in got.text
    assert "Decisive check: request-duration = 800, rule at most 500, verdict fail" in got.text
    assert rule_text({"min": 99, "max": 100}) == "between 99 and 100"
