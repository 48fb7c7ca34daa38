"""A primary whose rolling update stalls during promotion (issue #22 item 4): Serinus gives it the Canary's
progressDeadlineSeconds, then puts back the spec it ran before the promotion, routes all traffic to it, scales the
canary down and marks the run Failed. Flagger stays in Promoting here."""

from __future__ import annotations

import asyncio

from serinus.api import Canary, CanaryPhase
from serinus.engine.ports import FLAGGER_REASON, PortError, Readiness, SerinusReason, World
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import Cluster, Event, SimMetrics, SimRouter, SimServices, SimTarget
from tests.unit.engine.simkit import canary, run

NS = "podinfo.test"
STALLED = "waiting for rollout to finish: 1 old replicas are pending termination"


class StallingTarget(SimTarget):
    """A primary whose promoted spec never rolls out, as a real Deployment with maxUnavailable 0 whose new pod
    cannot be scheduled: always retriable (no replica became unavailable, so no deadline condition)."""

    async def primary_readiness(self) -> Readiness:
        """Not ready while it runs the promoted revision; the restored one is ready at once."""
        if self.cluster.primary_revision == 1 and not self.cluster.primary_restored:
            return Readiness(False, True, f"podinfo-primary.test not ready: {STALLED}")
        return await super().primary_readiness()


class NothingKeptTarget(SimTarget):
    """A primary promoted without a kept spec (promoted by an older operator): nothing to restore."""

    async def restore_primary(self) -> bool:
        """Nothing kept."""
        return False


class FlakyRouterOnce(SimRouter):
    """A router that refuses the first write sending all traffic to the primary (an API hiccup)."""

    refused = False

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Refuse once, then route."""
        if primary == 100 and not FlakyRouterOnce.refused:
            FlakyRouterOnce.refused = True
            raise PortError("traefikservice podinfo.test update error: conflict")
        await super().set_routes(primary, canary, mirrored)


class _Both(StallingTarget, NothingKeptTarget):
    """Stalls, and nothing was kept."""


def _drive(c: Canary, target: type[SimTarget], router: type[SimRouter] = SimRouter, steps: int = 30) -> Cluster:
    """Initialize, release revision 1, and step every 30 s until the run ends (or `steps` steps)."""

    async def go() -> Cluster:
        engine, cluster = build(c, parse_scenario({}, c))

        async def world(current: Canary, provider: str) -> World:
            return World(
                target=target(cluster),
                services=SimServices(),
                router=router(cluster),
                metrics=SimMetrics(cluster, provider),
                provider=provider,
            )

        engine.make_world = world
        cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
        for i in range(steps):
            cluster.revision = 0 if i == 0 else 1
            cluster.clock.set(30.0 * i)
            await engine.advance("podinfo", "test")
            if cluster.canary.status.phase in (CanaryPhase.SUCCEEDED, CanaryPhase.FAILED):
                break
        return cluster

    return asyncio.run(go())


def _warnings(cluster: Cluster) -> list[Event]:
    return [e for e in cluster.events if e.type == "Warning"]


def _at(cluster: Cluster, prefix: str) -> float:
    return next(e.at for e in cluster.events if e.message.startswith(prefix))


def test_stalled_primary_is_restored_at_the_progress_deadline_and_the_run_fails() -> None:
    """The primary never rolls out the promoted spec: traffic stays where it was until progressDeadlineSeconds
    after the promotion, then the primary runs the old revision again, takes all traffic, the canary is scaled
    down and the run is Failed, with Serinus's own reasons on Serinus's own events."""
    cluster = _drive(canary({"stepWeight": 50, "interval": "30s"}, progressDeadlineSeconds=90), StallingTarget)
    status = cluster.canary.status
    assert status.phase is CanaryPhase.FAILED
    assert status.canary_weight == 0
    assert cluster.primary_revision == 0, "the primary does not run its last good revision"
    assert cluster.canary_replicas == 0, "the canary was not scaled down"
    assert cluster.routes.primary == 100
    assert cluster.routes.canary == 0
    copied = _at(cluster, f"Copying {NS} template spec to podinfo-primary.test")
    failed = _at(cluster, f"Promotion of {NS} failed, primary not ready: podinfo-primary.test not ready: {STALLED}")
    assert 90 < failed - copied <= 120, "not restored at the first step past the deadline"
    # until the deadline the canary keeps its share: no routing change between the copy and the restore
    assert [(w.canary, w.primary) for w in cluster.weights if copied <= w.at] == [(0, 100)]
    assert [w.at for w in cluster.weights if copied <= w.at] == [failed]
    stalls = [e.message for e in _warnings(cluster) if copied <= e.at < failed]
    assert stalls
    assert set(stalls) == {f"podinfo-primary.test not ready: {STALLED}"}
    tail = [(e.message, e.reason) for e in _warnings(cluster) if e.at >= failed]
    assert tail == [
        (f"podinfo-primary.test not ready: {STALLED}", FLAGGER_REASON),
        (
            f"Promotion of {NS} failed, primary not ready: podinfo-primary.test not ready: {STALLED}",
            SerinusReason.PROMOTION_FAILED,
        ),
        (
            "Restored podinfo-primary.test to its spec before the promotion, routing all traffic to primary",
            SerinusReason.PRIMARY_RESTORED,
        ),
        (f"Canary failed! Scaling down {NS}", FLAGGER_REASON),
    ]
    assert {e.reason for e in cluster.events if e.at < failed} == {FLAGGER_REASON}
    assert cluster.alerts[-1].severity == "error"
    assert cluster.alerts[-1].message == (
        f"Promotion failed, primary not ready: podinfo-primary.test not ready: {STALLED}; "
        "restored podinfo-primary.test and rolled back"
    )


def test_stalled_primary_without_a_kept_spec_sends_all_traffic_to_the_canary() -> None:
    """Nothing kept to restore (a primary promoted before Serinus kept its spec): at the deadline all traffic goes
    to the canary, the only copy known to serve, and the run is Failed at weight 100."""
    cluster = _drive(canary({"stepWeight": 50, "interval": "30s"}, progressDeadlineSeconds=90), _Both)
    status = cluster.canary.status
    assert status.phase is CanaryPhase.FAILED
    assert status.canary_weight == 100
    assert cluster.routes.canary == 100
    assert cluster.primary_revision == 1
    assert not any(e.message.startswith("Restored ") for e in cluster.events)
    assert (
        cluster.alerts[-1].message == f"Promotion failed, primary not ready: podinfo-primary.test not ready: {STALLED}"
    )


def test_a_restore_interrupted_by_a_router_error_is_finished_never_promoted() -> None:
    """The router refuses the switch back once, right after the primary was restored: the restored primary is ready
    at the next step, which must finish the rollback (Failed, traffic on the primary) instead of taking the old
    spec for the promoted one and declaring success."""
    FlakyRouterOnce.refused = False
    c = canary({"stepWeight": 50, "interval": "30s"}, progressDeadlineSeconds=90)
    cluster = _drive(c, StallingTarget, FlakyRouterOnce)
    assert FlakyRouterOnce.refused
    assert cluster.canary.status.phase is CanaryPhase.FAILED
    assert cluster.routes.primary == 100
    assert cluster.canary_replicas == 0
    messages = [e.message for e in cluster.events]
    assert not any(m.startswith("Promotion completed!") for m in messages)
    assert "traefikservice podinfo.test update error: conflict" in messages
    assert messages.count(f"Canary failed! Scaling down {NS}") == 1


def test_a_primary_that_rolls_out_slowly_within_the_deadline_is_promoted() -> None:
    """A primary that needs less than progressDeadlineSeconds is waited for and promoted, as in Flagger."""
    c = canary({"stepWeight": 50}, progressDeadlineSeconds=600)
    result = run(c, {"rollout": "200s"})
    assert result.phase == "Succeeded"
    assert not any(e.message.startswith("Promotion of ") for e in result.events)
