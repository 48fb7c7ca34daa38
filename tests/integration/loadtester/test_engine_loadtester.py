"""The load tester in a release: the engine's rollout hook makes it run real `hey` against a target that sees
the traffic, and its gate holds confirm-promotion until someone opens it."""

from __future__ import annotations

import httpx2
import pytest

from serinus.api import Canary, CanaryPhase
from serinus.engine.ports import Next
from serinus.hooks.port import HttpHooks
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from tests.integration.loadtester.conftest import StartLoadtester, Target, wait_until

pytestmark = pytest.mark.integration


async def test_hey_runs_during_the_analysis_and_the_gate_holds_promotion(
    start_loadtester: StartLoadtester, target: Target, hey_bin: str
) -> None:
    """Rollout hooks start `hey` (the target sees requests); confirm-promotion on /gate/check holds the Canary in
    WaitingPromotion until /gate/open, then it is promoted."""
    base = await start_loadtester()
    canary = Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": "istio",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "analysis": {
                    "interval": "1m",
                    "threshold": 2,
                    "stepWeight": 50,
                    "webhooks": [
                        {
                            "name": "load",
                            "url": f"{base}/",
                            "timeout": "5s",
                            "metadata": {"cmd": f"{hey_bin} -z 1s -q 5 -c 1 {target.url}"},
                        },
                        {"name": "gate", "type": "confirm-promotion", "url": f"{base}/gate/check"},
                    ],
                },
            },
        }
    )
    engine, cluster = build(canary, parse_scenario({}, canary), hooks=HttpHooks())
    cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})

    async def step(t: float) -> Next:
        cluster.clock.set(t)
        return await engine.advance("podinfo", "test")

    def phase() -> CanaryPhase:
        # read afresh: mypy would otherwise keep the phase narrowed across the awaits that change it
        return cluster.canary.status.phase

    t = 0.0
    await step(t)
    cluster.revision = 1
    while cluster.canary.status.phase is not CanaryPhase.WAITING_PROMOTION and t < 600:
        due = await step(t)
        t += 60 if due is Next.INTERVAL else 0
    assert cluster.canary.status.phase is CanaryPhase.WAITING_PROMOTION
    await wait_until(lambda: len(target.hits) > 0, within=15, what="hey's requests at the target")
    messages = [e.message for e in cluster.events]
    assert "Halt podinfo.test advancement waiting for promotion approval gate" in messages

    await step(t + 60)
    assert phase() is CanaryPhase.WAITING_PROMOTION  # still closed: still held
    async with httpx2.AsyncClient() as http:
        opened = await http.post(f"{base}/gate/open", json={"name": "podinfo", "namespace": "test"})
        assert opened.status_code == 202
    await step(t + 120)
    assert phase() is CanaryPhase.PROMOTING
    assert "Confirm-promotion check gate passed" in [e.message for e in cluster.events]
