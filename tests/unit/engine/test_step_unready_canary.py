"""A canary that turns unready while it holds traffic: Serinus routes all of it to the primary on the first
not-ready step (one Warning of its own, reason CanaryTrafficWithdrawn), keeps Flagger's events, status.canaryWeight,
failedChecks and the progress deadline as they are, and routes the traffic back as the status says once the canary
is ready again (one Normal event, reason CanaryTrafficRestored).

The engine runs on the simulator's world; its router logs every change of the routes, and a wrapper counts every
set_routes call the engine makes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from serinus.api import Canary, CanaryPhase
from serinus.engine.ports import FLAGGER_REASON, Routes, SerinusReason, World
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from tests.unit.engine.simkit import canary, run

NS = "podinfo.test"
NOT_READY = (
    f"canary deployment {NS} not ready: waiting for rollout to finish: "
    "0 of 1 (readyThreshold 100%) updated replicas are available"
)
WITHDRAWN = f"canary deployment {NS} is not ready: routed all traffic to podinfo-primary.test until it is ready"
MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]


def _spell(unready_at: str, ready_at: str | None = None) -> dict[str, Any]:
    """A scenario whose canary is ready, turns unready at `unready_at` and (if given) ready again at `ready_at`."""
    series: list[dict[str, Any]] = [{"at": 0, "ready": True}, {"at": unready_at, "ready": False}]
    if ready_at is not None:
        series.append({"at": ready_at, "ready": True})
    return {"ready": {"canary": series}}


def _ours(result: Any, reason: str) -> list[str]:
    """The messages of the events recorded under one of Serinus's reasons."""
    return [e.message for e in result.events if e.reason == reason]


def _flaggers(result: Any) -> list[str]:
    """The messages of Flagger's (`Synced`) events, in order."""
    return [e.message for e in result.events if e.reason == FLAGGER_REASON]


def test_traffic_goes_to_the_primary_on_the_first_unready_step_and_back_when_ready() -> None:
    """Weight 30 when the canary turns unready (150 s): the next step routes 100/0 and says so once; while it stays
    unready nothing is routed again; once ready (330 s) the routes are back at 70/30 before the analysis advances
    to 40, and the release is promoted with Flagger's own sequence of events."""
    c = canary({"stepWeight": 10, "maxWeight": 50}, progressDeadlineSeconds=600)
    result = run(c, _spell("150s", "330s"))
    assert [(w.at, w.primary, w.canary) for w in result.weights] == [
        (0, 90, 10),
        (60, 80, 20),
        (120, 70, 30),
        (180, 100, 0),
        (330, 70, 30),
        (330, 60, 40),
        (390, 50, 50),
        (450, 100, 0),
    ]
    assert _ours(result, SerinusReason.CANARY_TRAFFIC_WITHDRAWN) == [WITHDRAWN]
    assert _ours(result, SerinusReason.CANARY_TRAFFIC_RESTORED) == [
        f"canary deployment {NS} is ready: routed 30% of traffic back to it"
    ]
    withdrawn = next(e for e in result.events if e.reason == SerinusReason.CANARY_TRAFFIC_WITHDRAWN)
    assert withdrawn.type == "Warning"
    assert _flaggers(result) == [
        "all the metrics providers are available!",
        f"Initialization done! {NS}",
        f"New revision detected! Scaling up {NS}",
        f"Starting canary analysis for {NS}",
        f"Advance {NS} canary weight 10",
        f"Advance {NS} canary weight 20",
        f"Advance {NS} canary weight 30",
        NOT_READY,
        NOT_READY,
        NOT_READY,
        f"Advance {NS} canary weight 40",
        f"Advance {NS} canary weight 50",
        f"Copying {NS} template spec to podinfo-primary.test",
        "Routing all traffic to primary",
        f"Promotion completed! Scaling down {NS}",
    ]
    assert result.phase == "Succeeded"


async def _stepped(c: Canary, scenario: dict[str, Any], steps: int) -> tuple[list[tuple[int, int, Routes]], int]:
    """Drive the engine step by step: (status.canaryWeight, status.failedChecks, routes) after each step, and how
    many times the engine called the router's set_routes."""
    engine, cluster = build(c, parse_scenario(scenario, c))
    original = engine.make_world
    calls = 0

    async def make_world(current: Canary, provider: str) -> World:
        world = await original(current, provider)
        set_routes = world.router.set_routes

        async def counted(primary: int, canary: int, mirrored: bool) -> None:
            nonlocal calls
            calls += 1
            await set_routes(primary, canary, mirrored)

        world.router.set_routes = counted  # type: ignore[method-assign]
        return world

    engine.make_world = make_world
    seen: list[tuple[int, int, Routes]] = []
    cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
    for i in range(steps):  # one step a minute, whatever the engine asks for
        cluster.revision = 0 if i == 0 else 1
        cluster.clock.set(60.0 * i)
        await engine.advance("podinfo", "test")
        seen.append((cluster.canary.status.canary_weight, cluster.canary.status.failed_checks, cluster.routes))
        if cluster.canary.status.phase in (CanaryPhase.SUCCEEDED, CanaryPhase.FAILED):
            break
    return seen, calls


def test_the_status_keeps_the_weight_and_the_router_is_called_once_per_unready_spell() -> None:
    """While the canary is unready (five steps a minute apart) its status still says weight 10 with no failed
    check, as Flagger's does, the routes say 100/0, and the router is called once to withdraw and once to restore."""
    c = canary({"stepWeight": 10, "maxWeight": 30}, progressDeadlineSeconds=900)
    seen, calls = asyncio.run(_stepped(c, _spell("150s", "450s"), 20))
    spell = [s for s in seen if s[2] == Routes(100, 0, False) and s[0] == 10]
    assert len(spell) == 5, seen
    assert all(failed == 0 for _, failed, _ in spell)
    after_spell = seen[max(i for i, s in enumerate(seen) if s in spell) + 1]
    assert after_spell == (20, 0, Routes(80, 20, False))  # restored to 10, then the analysis advanced as usual
    assert seen[-1][0] == 0  # promoted: Succeeded resets the weight
    # 10, withdraw, restore, 20, 30, then the promotion's 100/0: six calls, none for the four repeated unready steps
    assert calls == 6, calls


def test_the_progress_deadline_still_rolls_back_an_unready_canary() -> None:
    """Unready from 150 s for good with progressDeadlineSeconds 120: the traffic leaves the canary on the first
    unready step, Serinus says so once, and Flagger's deadline Warning and "Canary failed!" end the run as before."""
    c = canary({"stepWeight": 10, "maxWeight": 50}, progressDeadlineSeconds=120)
    result = run(c, _spell("150s"))
    assert result.phase == "Failed"
    assert [(w.primary, w.canary) for w in result.weights] == [(90, 10), (80, 20), (70, 30), (100, 0)]
    assert _ours(result, SerinusReason.CANARY_TRAFFIC_WITHDRAWN) == [WITHDRAWN]
    assert _ours(result, SerinusReason.CANARY_TRAFFIC_RESTORED) == []
    flagger = _flaggers(result)
    assert f'canary deployment {NS} not ready: deployment "podinfo" exceeded its progress deadline' in flagger
    assert flagger[-1] == f"Canary failed! Scaling down {NS}"
    assert result.canary.status.phase is CanaryPhase.FAILED


def test_ab_testing_matching_traffic_leaves_the_unready_canary_and_comes_back() -> None:
    """A/B with 5 iterations: the matching traffic goes to the primary while the canary is unready and back to the
    canary when it is ready; the iterations then go on from where they were, to the promotion."""
    c = canary({"iterations": 5, "match": MATCH}, progressDeadlineSeconds=600)
    result = run(c, _spell("150s", "330s"))
    assert [(w.at, w.canary) for w in result.weights] == [(0, 100), (180, 0), (330, 100), (450, 0)]
    assert _ours(result, SerinusReason.CANARY_TRAFFIC_WITHDRAWN) == [WITHDRAWN]
    assert _ours(result, SerinusReason.CANARY_TRAFFIC_RESTORED) == [
        f"canary deployment {NS} is ready: routed the matching traffic back to it"
    ]
    iterations = [m for m in _flaggers(result) if "iteration" in m]
    assert iterations == [f"Advance {NS} canary iteration {i}/5" for i in range(1, 6)]
    assert result.phase == "Succeeded"


def test_a_canary_without_traffic_or_behind_plain_services_is_left_to_flaggers_rules() -> None:
    """No Serinus event when the canary held no traffic (unready from the start) or when plain Services cannot
    move it (provider kubernetes, blue/green): the events are Flagger's alone."""
    never_ready = run(
        canary({"stepWeight": 10}, progressDeadlineSeconds=120), {"ready": {"canary": [{"at": 0, "ready": False}]}}
    )
    plain = run(canary({"iterations": 5}, provider="kubernetes", progressDeadlineSeconds=600), _spell("150s", "330s"))
    for result in (never_ready, plain):
        assert {e.reason for e in result.events} == {FLAGGER_REASON}
    assert never_ready.phase == "Failed"
    assert plain.phase == "Succeeded"
