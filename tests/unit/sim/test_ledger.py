"""The simulator keeps the run ledger the operator would: golden CanaryRun lists for the example scenarios, and
the ledger's events are exactly the events the simulation recorded during each run.

Regenerate the golden files after an intended change with `SERINUS_UPDATE_GOLDEN=1` and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from serinus.api import CanaryWebhook
from serinus.cli import main
from serinus.cli.simulate import load_canary
from serinus.sim.runner import SimResult, simulate
from serinus.sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "podinfo"
GOLDEN = Path(__file__).parent / "golden"
#: a second revision at 75 s, while the first is still at 30%: the first run ends Superseded
SUPERSEDING = {"duration": "30m", "revisions": ["0s", "75s"]}
CASES = {
    "healthy": ("canary.yaml", "healthy.yaml"),
    "latency-regression": ("canary.yaml", "latency-regression.yaml"),
    "judge-error-regression": ("judge-canary.yaml", "traffic-error-regression.yaml"),
    "superseded": ("canary.yaml", None),
}


def _run(case: str) -> SimResult:
    canary_file, scenario_file = CASES[case]
    canary = load_canary(str(EXAMPLES / canary_file), "istio")
    doc: Any = SUPERSEDING if scenario_file is None else yaml.safe_load((EXAMPLES / scenario_file).read_text())
    return simulate(canary, parse_scenario(doc, canary))


@pytest.mark.parametrize("case", sorted(CASES))
def test_ledger_matches_the_golden_file(case: str) -> None:
    """The CanaryRun objects of each example scenario are byte for byte the reviewed golden file."""
    got = json.dumps(_run(case).ledger(), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"ledger-{case}.json"
    if os.environ.get("SERINUS_UPDATE_GOLDEN"):
        path.write_text(got)
    assert got == path.read_text(), f"{path.name} differs: rerun with SERINUS_UPDATE_GOLDEN=1 and review the diff"


def test_outcomes_in_words() -> None:
    """What a user reads in each ledger: promoted, rolled back on latency or by the judge, superseded."""
    healthy = _run("healthy").runs
    assert [(r.name, r.result) for r in healthy] == [("podinfo-1", "Succeeded")]
    assert healthy[0].reason == "Promotion completed! Scaling down podinfo.test"
    latency = _run("latency-regression").runs[0]
    assert latency.result == "Failed"
    assert latency.reason == "Rolling back podinfo.test failed checks threshold reached 5"
    halts = [t for t in latency.ticks if t["decision"] == "halt"]
    assert [t["count"] for t in halts] == [5]  # five identical halts, one record
    assert {k: v for k, v in halts[0]["records"][2].items() if k != "message"} == {
        "kind": "check",
        "name": "request-duration",
        "verdict": "fail",
        "value": 800,
        "max": 500,
    }
    judged = _run("judge-error-regression").runs[0]
    assert judged.result == "Failed"
    assert judged.reason.startswith("Judged podinfo.test: errors: canary")
    last = next(r for r in judged.ticks[-1]["records"] if r["kind"] == "check")
    assert last["verdict"] == "ROLLBACK"
    assert last["samples"] > 1000
    first, second = _run("superseded").runs
    assert (first.result, second.result) == ("Superseded", "Succeeded")
    assert first.revision != second.revision
    assert second.reason == "Promotion completed! Scaling down podinfo.test"


@pytest.mark.parametrize("case", sorted(CASES))
def test_ledger_events_are_the_simulated_events(case: str) -> None:
    """Every event the simulation recorded from a run's start to its end is in that run's ledger, in order."""
    result = _run(case)
    recorded = [e.message for e in result.events]
    kept = [
        rec["message"]
        for run in result.runs
        for tick in run.ticks
        for rec in tick["records"]
        if rec["kind"] == "event"
        for _ in range(int(tick["count"]))
    ]
    # the ledger starts at the first run's first event (initialization is no run) and has them all from there on
    start = recorded.index(kept[0])
    assert kept == recorded[start : start + len(kept)]
    assert start + len(kept) == len(recorded)


def test_simulate_ledger_option_writes_the_json(tmp_path: Path) -> None:
    """`serinus simulate --ledger FILE` writes a List of the CanaryRuns; the timeline still goes to stdout."""
    out = tmp_path / "ledger.json"
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            str(EXAMPLES / "canary.yaml"),
            "--scenario",
            str(EXAMPLES / "latency-regression.yaml"),
            "--ledger",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Result: Failed" in result.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == "List"
    assert [item["status"]["result"] for item in doc["items"]] == ["Failed"]
    assert doc["items"][0]["metadata"]["name"] == "podinfo-1"


def test_a_gate_held_release_is_one_run_from_its_first_wait() -> None:
    """A confirm-rollout gate refusing for 2 minutes: the waits open the run (decision wait, compacted), and the
    same run goes on to its promotion once the gate accepts."""
    canary = load_canary(str(EXAMPLES / "canary.yaml"), "istio")
    analysis = canary.analysis_or_default()
    gate = CanaryWebhook.model_validate({"name": "gate", "type": "confirm-rollout", "url": "http://gate.test/"})
    analysis.webhooks = [gate, *analysis.webhooks]
    canary.spec.analysis = analysis
    doc = {
        "duration": "30m",
        "revisions": ["0s"],
        "webhooks": {"gate": [{"at": "0s", "status": 403}, {"at": "2m", "status": 200}]},
    }
    result = simulate(canary, parse_scenario(doc, canary))
    (run,) = result.runs
    assert run.result == "Succeeded"
    decisions = [(t["decision"], t["count"]) for t in run.ticks]
    assert decisions[0] == ("wait", 1)
    assert decisions[1] == ("wait", 3)  # at 30 s, 60 s and 90 s: the same refusal, one tick
    assert decisions[2][0] == "start"
    gate_answers = [r["verdict"] for t in run.ticks for r in t["records"] if r.get("name") == "gate"]
    assert gate_answers[:2] == ["refused", "refused"]
    assert gate_answers[-1] == "accepted"
