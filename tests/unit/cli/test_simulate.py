"""`serinus simulate`: the README's example, the JSON document, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from serinus.cli import main

ROOT = Path(__file__).resolve().parents[3]
CANARY = str(ROOT / "examples/podinfo/canary.yaml")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["simulate", *args])
    return result.exit_code, result.output


def test_readme_example_shows_the_latency_regression_rolled_back() -> None:
    """The README's first command: five halts on request duration, then the rollback, exit 0."""
    code, out = _run(CANARY, "--scenario", str(ROOT / "examples/podinfo/latency-regression.yaml"))
    assert code == 0, out
    assert out.count("Halt podinfo.test advancement request duration 800ms > 500ms") == 5
    assert "Rolling back podinfo.test failed checks threshold reached 5" in out
    assert "Canary failed! Scaling down podinfo.test" in out
    assert out.rstrip().endswith("Result: Failed after 4m00s simulated")


def test_json_document_lists_events_weights_and_alerts() -> None:
    """-o json: final phase, simulated seconds, every event, every routing change and every alert."""
    code, out = _run(CANARY, "--scenario", str(ROOT / "examples/podinfo/healthy.yaml"), "-o", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert set(doc) == {"phase", "duration", "events", "weights", "alerts", "checks"}
    assert doc["checks"] == []
    assert doc["phase"] == "Succeeded"
    assert doc["duration"] == 160
    assert [w["canary"] for w in doc["weights"]] == [10, 20, 30, 40, 50, 0]
    assert all(w["canary"] + w["primary"] == 100 for w in doc["weights"])
    last = {"at": 160, "type": "Normal", "message": "Promotion completed! Scaling down podinfo.test"}
    assert doc["events"][-1] == last
    assert doc["events"][-1] == last
    assert [a["severity"] for a in doc["alerts"]] == ["info", "info", "info"]


def test_without_scenario_everything_passes() -> None:
    """No --scenario: metrics pass, hooks accept, the release is promoted."""
    code, out = _run(CANARY, "-o", "json")
    assert code == 0
    assert json.loads(out)["phase"] == "Succeeded"


def test_bad_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """An unknown metric name in the scenario: exit 2 with one line naming it."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("metrics:\n  latency: [{at: 0s, value: 1}]\n")
    code, out = _run(CANARY, "--scenario", str(scenario))
    assert code == 2
    assert out.strip().count("\n") == 0
    assert "metrics.latency: the Canary has no such metric" in out


def test_bad_canary_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A Canary that fails validation: exit 2 naming the field."""
    canary = tmp_path / "c.yaml"
    canary.write_text(Path(CANARY).read_text().replace("stepWeight: 10", "stepWeight: ten"))
    code, out = _run(str(canary))
    assert code == 2
    assert "spec.analysis.stepWeight" in out
    assert out.strip().count("\n") == 0


def test_suspend_annotation_suspends_the_simulated_canary(tmp_path: Path) -> None:
    """flagger.app/suspend: "true" acts as spec.suspend: every step is skipped."""
    canary = tmp_path / "c.yaml"
    canary.write_text(
        Path(CANARY)
        .read_text()
        .replace("  namespace: test\n", '  namespace: test\n  annotations:\n    flagger.app/suspend: "true"\n')
    )
    code, out = _run(str(canary), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert {e["message"] for e in doc["events"]} == {"skipping canary run as object is suspended"}
    assert doc["weights"] == []


def test_skip_analysis_annotation_promotes_without_checks(tmp_path: Path) -> None:
    """flagger.app/skipAnalysis: "true" promotes at once even when the metrics are failing."""
    canary = tmp_path / "c.yaml"
    canary.write_text(
        Path(CANARY)
        .read_text()
        .replace("  namespace: test\n", '  namespace: test\n  annotations:\n    flagger.app/skipAnalysis: "true"\n')
    )
    scenario = tmp_path / "s.yaml"
    scenario.write_text("metrics:\n  request-success-rate: [{at: 0s, value: 10}]\n")
    code, out = _run(str(canary), "--scenario", str(scenario), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["phase"] == "Succeeded"
    assert "Promotion completed! Canary analysis was skipped for podinfo.test" in [e["message"] for e in doc["events"]]


def test_force_rollback_annotation_rolls_a_running_release_back(tmp_path: Path) -> None:
    """flagger.app/forceRollback: "true" rolls the run back on its first analysis step, with a Warning saying why."""
    canary = tmp_path / "c.yaml"
    canary.write_text(
        Path(CANARY)
        .read_text()
        .replace("  namespace: test\n", '  namespace: test\n  annotations:\n    flagger.app/forceRollback: "true"\n')
    )
    code, out = _run(str(canary), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["phase"] == "Failed"
    messages = [(e["type"], e["message"]) for e in doc["events"]]
    assert ("Warning", "Rolling back podinfo.test forced by annotation flagger.app/forceRollback") in messages
    assert messages[-1] == ("Warning", "Canary failed! Scaling down podinfo.test")
    assert doc["weights"] == []


def test_steps_that_wait_on_the_cluster_run_as_soon_as_it_is_there(tmp_path: Path) -> None:
    """The operator's timing: the analysis starts when the canary is ready, traffic goes back to the primary
    when its rollout is done, and the canary is scaled down one drain period later (not one interval each)."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "revisions: [5m]\nrollout: 7s\n"
        "ready:\n  canary: [{at: 0s, ready: true}, {at: 5m, ready: false}, {at: 5m20s, ready: true}]\n"
    )
    code, out = _run(CANARY, "--scenario", str(scenario), "-o", "json", "--drain-period", "4s")
    assert code == 0, out
    at = {e["message"]: e["at"] for e in json.loads(out)["events"]}
    assert at["New revision detected! Scaling up podinfo.test"] == 300
    assert at["Starting canary analysis for podinfo.test"] == 320
    assert at["Advance podinfo.test canary weight 50"] == 320 + 4 * 30
    assert at["Copying podinfo.test template spec to podinfo-primary.test"] == 470
    assert at["Routing all traffic to primary"] == 470 + 7
    assert at["Promotion completed! Scaling down podinfo.test"] == 470 + 7 + 4


def test_readme_judge_example_rolls_back_the_regression_flaggers_rule_promotes(tmp_path: Path) -> None:
    """The README's judge command: the 5x error regression is rolled back with one Judged event stating the counts
    and the evidence; the same traffic under the Flagger-rule Canary (the judge block removed) is promoted."""
    import yaml

    judge_canary = ROOT / "examples/podinfo/judge-canary.yaml"
    scenario = str(ROOT / "examples/podinfo/traffic-error-regression.yaml")
    code, out = _run(str(judge_canary), "--scenario", scenario)
    assert code == 0, out
    judged = [line for line in out.splitlines() if "Judged podinfo.test: errors: canary " in line]
    assert len(judged) == 1, out
    assert "that canary ≥ 2× primary; threshold 80:1 → rollback" in judged[0]
    assert "Canary failed! Scaling down podinfo.test" in out
    assert "Result: Failed after" in out
    docs = list(yaml.safe_load_all(judge_canary.read_text()))
    for doc in docs:
        if doc.get("kind") == "Canary":
            del doc["spec"]["analysis"]["judge"]
    flagger = tmp_path / "flagger-rule-canary.yaml"
    flagger.write_text(yaml.safe_dump_all(docs))
    code, out = _run(str(flagger), "--scenario", scenario)
    assert code == 0, out
    assert "Result: Succeeded after" in out


def test_shared_incident_example_promotes_under_the_judge() -> None:
    """Both versions fail together for a while: the judge compares them and the good canary is promoted."""
    code, out = _run(
        str(ROOT / "examples/podinfo/judge-canary.yaml"),
        "--scenario",
        str(ROOT / "examples/podinfo/traffic-shared-incident.yaml"),
    )
    assert code == 0, out
    assert "Judged" not in out
    assert "Result: Succeeded after" in out


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (b"duration: .nan\n", "duration: .nan is not a time"),
        (b"traffic: {rps: .inf}\n", "traffic.rps: .inf is not a finite number"),
        (b"traffic: {rps: 20, subInterval: 1ms}\n", "traffic.subInterval: 0.001s makes 7,200,000 sub-intervals"),
        (b"traffic: {rps: " + b"1" * 400 + b"}\n", "traffic.rps: 1111111111"),
        (b"duration: 30m\n\xff\n", "cannot read: not UTF-8 text (byte 0xff on line 2)"),
        (b"duration: [30m\n", "not valid YAML: while parsing a flow sequence"),
        (b"a: &a [1, 2]\nb: &b [*a, *a]\n---\nc: 1\n", "not valid YAML: expected one document, found 2"),
    ],
)
def test_bad_scenario_values_and_files_exit_2_naming_file_and_field(
    tmp_path: Path, scenario: bytes, message: str
) -> None:
    """Non-finite values, a sub-interval that would take millions of steps, a number too large for a float, bytes
    that are not UTF-8 and broken YAML: exit 2 and one line naming the scenario file and the field, instead of 0
    steps, a hang or a traceback."""
    path = tmp_path / "s.yaml"
    path.write_bytes(scenario)
    code, out = _run(CANARY, "--scenario", str(path))
    assert code == 2, out
    assert out.strip().count("\n") == 0
    assert out.startswith(f"Error: {path}: ")
    assert message in out


def test_canary_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    """A Canary file with bytes that are not UTF-8 is one line naming it, exit 2."""
    path = tmp_path / "c.yaml"
    path.write_bytes(Path(CANARY).read_bytes() + b"\x80\n")
    code, out = _run(str(path))
    assert (code, out) == (2, f"Error: {path}: cannot read: not UTF-8 text (byte 0x80 on line 44)\n")
