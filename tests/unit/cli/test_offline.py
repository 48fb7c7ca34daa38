"""`serinus render` and `serinus simulate` never touch the network: no connection, no name lookup, no datagram,
for every example and for a Canary whose alerts, event webhook and every other webhook point at a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from click.testing import CliRunner

from serinus.api import HookType
from serinus.cli import main
from tests.conftest import REPO
from tests.unit.cli.conftest import NetworkGuard, Recorder
from tests.unit.cli.test_render import DEPLOYMENT

EXAMPLES = REPO / "examples"
CANARIES = sorted(p for p in EXAMPLES.rglob("*.yaml") if "kind: Canary" in p.read_text())
SCENARIOS = sorted(p for p in EXAMPLES.rglob("*.yaml") if p not in CANARIES)


def _canary_calling(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The podinfo Canary with an AlertProvider for every severity and a webhook of every type, all at `url`."""
    canary = yaml.safe_load((EXAMPLES / "podinfo" / "canary.yaml").read_text())
    analysis = canary["spec"]["analysis"]
    analysis["webhooks"] = [
        {"name": f"hook-{kind.value or 'unset'}", "url": f"{url}/{kind.value or 'rollout'}", "timeout": "5s"}
        | ({"type": kind.value} if kind.value else {})
        for kind in HookType
    ]
    analysis["alerts"] = [{"name": "team", "severity": "info", "providerRef": {"name": "team"}}]
    provider = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": "team", "namespace": "test"},
        "spec": {"type": "slack", "channel": "releases", "address": f"{url}/slack"},
    }
    return canary, provider


def test_the_guard_sees_a_real_connection(network_guard: NetworkGuard, http_recorder: Recorder) -> None:
    """The guard is not blind: an HTTP request to the local server is recorded (and still served)."""
    assert httpx2.get(http_recorder.url + "/probe").status_code == 200
    assert network_guard.attempts
    assert http_recorder.requests == [("GET", "/probe")]


def test_render_sends_no_alert_event_or_webhook(
    tmp_path: Path, network_guard: NetworkGuard, http_recorder: Recorder
) -> None:
    """Render initializes a Canary whose AlertProvider, event webhook and every webhook type point at a live local
    server: the objects are printed, and no socket was opened, no name looked up, no request received."""
    canary, provider = _canary_calling(http_recorder.url)
    canary_path, target_path = tmp_path / "canary.yaml", tmp_path / "target.yaml"
    canary_path.write_text(yaml.safe_dump(canary))
    target_path.write_text(yaml.safe_dump_all([DEPLOYMENT, provider]))
    result = CliRunner().invoke(main, ["render", str(canary_path), "--target", str(target_path)])
    assert result.exit_code == 0, result.output
    assert "name: podinfo-primary" in result.output
    assert network_guard.attempts == []
    assert http_recorder.requests == []


def test_simulate_of_a_canary_calling_a_live_server_sends_nothing(
    tmp_path: Path, network_guard: NetworkGuard, http_recorder: Recorder
) -> None:
    """Simulate the same Canary: its webhooks are answered by the scenario (the rollback hook's 200 rolls it back,
    as Flagger's manual rollback) and its alerts recorded; none is sent."""
    canary, provider = _canary_calling(http_recorder.url)
    path = tmp_path / "canary.yaml"
    path.write_text(yaml.safe_dump_all([canary, provider]))
    result = CliRunner().invoke(main, ["simulate", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert "Rolling back manual webhook invoked" in result.output
    assert network_guard.attempts == []
    assert http_recorder.requests == []


@pytest.mark.parametrize("canary", CANARIES, ids=lambda p: p.name)
def test_every_example_renders_and_simulates_offline(tmp_path: Path, network_guard: NetworkGuard, canary: Path) -> None:
    """Every example Canary under examples/, rendered and simulated against every example scenario: each run ends
    (0, or 2 for a scenario written for another Canary) without a single network attempt."""
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(DEPLOYMENT))
    result = CliRunner().invoke(main, ["render", str(canary), "--target", str(target)])
    assert result.exit_code == 0, result.output
    codes = []
    for scenario in SCENARIOS:
        result = CliRunner().invoke(main, ["simulate", str(canary), "--scenario", str(scenario)])
        assert result.exit_code in (0, 2), result.output
        codes.append(result.exit_code)
    assert 0 in codes
    assert network_guard.attempts == []
