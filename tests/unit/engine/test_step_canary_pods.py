"""A canary whose pods cannot become ready (an image that is not there, a crash loop): Flagger's Warning events in
Flagger's words, then Serinus's own Warning with the kubelet's reason under a reason of its own, and the rollback
at progressDeadlineSeconds.

The engine runs on the simulator's world; the canary's readiness answers with the cause a live target reads from
its pods (targets/pods.py), as the target port carries it.
"""

from __future__ import annotations

import asyncio
import dataclasses

from serinus.api import Canary, CanaryPhase
from serinus.engine.ports import FLAGGER_REASON, Readiness, SerinusReason, World
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import Cluster
from tests.unit.engine.simkit import canary

CAUSE = (
    "pod podinfo-6d4f9-abcde container podinfo: ErrImageNeverPull: "
    'Container image "localhost/podinfo:absent" is not present with pull policy of Never'
)
NOT_READY = (
    "canary deployment podinfo.test not ready: waiting for rollout to finish: "
    "0 of 1 (readyThreshold 100%) updated replicas are available"
)


async def _release(c: Canary, cause: str, seconds: int) -> Cluster:
    """Initialize, start a release whose canary never becomes ready, and step every 10 s for `seconds`."""
    engine, cluster = build(c, parse_scenario({"ready": {"canary": [{"at": "0s", "ready": False}]}}, c))
    original = engine.make_world

    async def make_world(current: Canary, provider: str) -> World:
        world = await original(current, provider)
        readiness = world.target.canary_readiness

        async def with_cause() -> Readiness:
            got = await readiness()
            return got if got.ready else dataclasses.replace(got, cause=cause)

        world.target.canary_readiness = with_cause  # type: ignore[method-assign]
        return world

    engine.make_world = make_world
    cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
    for i, t in enumerate(range(0, seconds, 10)):
        cluster.revision = 0 if i == 0 else 1
        cluster.clock.set(float(t))
        await engine.advance("podinfo", "test")
        if cluster.canary.status.phase is CanaryPhase.FAILED:
            break
    return cluster


def test_missing_image_is_named_in_a_serinus_event_and_rolled_back_at_the_deadline() -> None:
    """Flagger's "not ready" Warnings (reason Synced) are followed each time by Serinus's CanaryPodsFailing Warning
    naming the kubelet's ErrImageNeverPull, and the release fails once progressDeadlineSeconds (60 s) has passed,
    with Flagger's "Canary failed!" event; no analysis ever starts."""
    cluster = asyncio.run(_release(canary({}, progressDeadlineSeconds=60), CAUSE, 300))
    assert cluster.canary.status.phase is CanaryPhase.FAILED
    events = [(e.type, e.reason, e.message) for e in cluster.events]
    ours = [e for e in events if e[1] == SerinusReason.CANARY_PODS_FAILING]
    assert ours, events
    assert {e[2] for e in ours} == {f"canary deployment podinfo.test cannot become ready: {CAUSE}"}
    assert all(e[0] == "Warning" for e in ours)
    flagger = [m for _, reason, m in events if reason == FLAGGER_REASON]
    assert NOT_READY in flagger
    assert "Canary failed! Scaling down podinfo.test" in flagger
    assert not any(m.startswith("Starting canary analysis") for m in flagger)
    # every Serinus event comes right after the Flagger Warning it explains
    for i, (_, reason, _) in enumerate(events):
        if reason == SerinusReason.CANARY_PODS_FAILING:
            assert events[i - 1][1] == FLAGGER_REASON
            assert events[i - 1][2].startswith("canary deployment podinfo.test not ready: ")
    failed_at = next(e.at for e in cluster.events if e.message == "Canary failed! Scaling down podinfo.test")
    started_at = next(e.at for e in cluster.events if e.message.startswith("New revision detected!"))
    assert 60 <= failed_at - started_at <= 80


def test_a_canary_without_a_cause_records_only_flaggers_events() -> None:
    """With no cause from the target (the pods are merely starting), the event sequence is Flagger's alone: no
    event with another reason than Synced."""
    cluster = asyncio.run(_release(canary({}, progressDeadlineSeconds=60), "", 300))
    assert cluster.canary.status.phase is CanaryPhase.FAILED
    assert {e.reason for e in cluster.events} == {FLAGGER_REASON}
