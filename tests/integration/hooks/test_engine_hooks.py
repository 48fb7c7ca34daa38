"""Every hook type driven by the engine over real HTTP (the simulator's world, real webhook calls): payloads,
order, retries, timeouts, and the event webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.api import Canary, CanaryPhase
from serinus.hooks.events import EventWebhooks
from serinus.hooks.port import HttpHooks
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from tests.integration.receivers import Recorder
from tests.unit.engine.simkit import step_release

pytestmark = pytest.mark.integration
TYPES = [
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
]


def _canary(url: str, hooks: list[dict[str, Any]], **analysis: Any) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": "istio",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "analysis": {
                    "interval": "1m",
                    "threshold": 1,
                    "stepWeight": 50,
                    **analysis,
                    "webhooks": [{"url": f"{url}/{h['name']}", **h} for h in hooks],
                },
            },
        }
    )


async def _release(canary: Canary, steps: int = 12) -> tuple[list[str], Any]:
    """Run the engine step by step (virtual time, real webhooks); return the event messages and the cluster."""
    engine, cluster = build(canary, parse_scenario({}, canary), hooks=HttpHooks(backoff_min_s=0.01))
    await step_release(engine, cluster, steps)
    return [e.message for e in cluster.events], cluster


async def test_every_hook_type_is_called_in_flaggers_order_with_its_phase(receiver: Recorder) -> None:
    """One release with every gating hook type: each is POSTed in Flagger's order with the phase Flagger sends,
    the hook's metadata and the checksum."""
    types = [t for t in TYPES if t != "rollback"]
    canary = _canary(receiver.url, [{"name": t, "type": t, "metadata": {"hook": t}} for t in types])
    _, cluster = await _release(canary)
    calls = [(r.path.strip("/"), r.json()["phase"]) for r in receiver.requests]
    assert calls == [
        ("confirm-rollout", "Initialized"),
        ("pre-rollout", "Progressing"),
        ("confirm-traffic-increase", "Progressing"),  # 50%
        ("rollout", "Progressing"),
        ("confirm-traffic-increase", "Progressing"),  # 100%
        ("rollout", "Progressing"),
        ("confirm-traffic-increase", "Progressing"),
        ("confirm-promotion", "Progressing"),
        ("post-rollout", "Succeeded"),
    ]
    for request in receiver.requests:
        body = request.json()
        assert request.headers["Content-Type"] == "application/json"
        assert (body["name"], body["namespace"]) == ("podinfo", "test")
        assert body["metadata"] == {"hook": request.path.strip("/")}
        assert body["checksum"]
    assert cluster.canary.status.phase is CanaryPhase.SUCCEEDED


async def test_a_rollback_hook_that_accepts_rolls_back_before_any_check(receiver: Recorder) -> None:
    """Rollback hooks are asked first on each analysis step; one answering 200 rolls the release back."""
    canary = _canary(receiver.url, [{"name": "abort", "type": "rollback"}, {"name": "smoke", "type": "pre-rollout"}])
    messages, cluster = await _release(canary)
    assert [r.path for r in receiver.requests] == ["/abort"]
    assert messages[-3:] == [
        "Rollback check abort passed",
        "Rolling back podinfo.test manual webhook invoked",
        "Canary failed! Scaling down podinfo.test",
    ]
    assert cluster.canary.status.phase is CanaryPhase.FAILED


async def test_rollout_hook_retries_until_it_succeeds(receiver: Recorder) -> None:
    """retries: 2 on a hook answering 503, 503, 200: three attempts, the check passes, the release goes on."""
    canary = _canary(receiver.url, [{"name": "load", "type": "rollout", "retries": 2}])
    receiver.script = [503, 503]
    messages, cluster = await _release(canary)
    assert [r.path for r in receiver.requests[:3]] == ["/load"] * 3
    assert not [m for m in messages if "external check" in m]
    assert cluster.canary.status.phase is CanaryPhase.SUCCEEDED


async def test_rollout_hook_timeout_halts_with_the_reason(receiver: Recorder) -> None:
    """A hook slower than its timeout: the step halts naming the hook and the timeout, then rolls back."""
    canary = _canary(receiver.url, [{"name": "slow", "type": "rollout", "timeout": "1s"}])
    receiver.delay = 1.5
    messages, cluster = await _release(canary)
    halts = [m for m in messages if m.startswith("Halt podinfo.test advancement external check slow failed")]
    assert halts
    assert "timed out after 1s" in halts[0]
    assert cluster.canary.status.phase is CanaryPhase.FAILED


async def test_refused_gate_body_is_the_reason_in_the_event(receiver: Recorder) -> None:
    """A pre-rollout hook answering 400 with a body: the Halt event carries the body, as Flagger's does."""
    canary = _canary(receiver.url, [{"name": "smoke", "type": "pre-rollout"}])
    receiver.status, receiver.body = 400, "smoke test failed: 3 of 10 requests errored"
    messages, _ = await _release(canary, steps=4)
    assert (
        "Halt podinfo.test advancement pre-rollout check smoke failed smoke test failed: 3 of 10 requests errored"
    ) in messages


async def test_event_webhooks_carry_the_event_and_prefer_the_canarys_own(receiver: Recorder) -> None:
    """A Canary's `event` hook gets eventMessage/eventType/timestamp (its own metadata cannot override them);
    without one, the global --event-webhook gets the event."""
    own = _canary(receiver.url, [{"name": "ev", "type": "event", "metadata": {"eventType": "x", "team": "a"}}])
    await EventWebhooks(global_url=f"{receiver.url}/global").send(own, "Warning", "Halt podinfo.test advancement")
    body = receiver.requests[-1].json()
    assert receiver.requests[-1].path == "/ev"
    assert body["metadata"]["eventMessage"] == "Halt podinfo.test advancement"
    assert body["metadata"]["eventType"] == "Warning"
    assert body["metadata"]["team"] == "a"
    assert body["metadata"]["timestamp"].isdigit()
    plain = _canary(receiver.url, [])
    await EventWebhooks(global_url=f"{receiver.url}/global").send(plain, "Normal", "Initialization done! x")
    assert receiver.requests[-1].path == "/global"
    assert receiver.requests[-1].json()["metadata"]["eventType"] == "Normal"
    assert len(receiver.requests) == 2
