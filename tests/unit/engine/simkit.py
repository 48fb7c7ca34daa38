"""Helpers for engine tests: Canaries and scenarios in a few words, run on the simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from serinus.api import Canary, CanaryPhase
from serinus.engine.ports import Next
from serinus.engine.step import Engine
from serinus.sim.runner import SimResult, simulate
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import Cluster


def canary(analysis: dict[str, Any], *, provider: str = "istio", **spec: Any) -> Canary:
    """The podinfo Canary in namespace test with this analysis."""
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 2, **analysis},
                **spec,
            },
        }
    )


def run(c: Canary, scenario: dict[str, Any] | None = None, **kw: Any) -> SimResult:
    """Simulate `c` against `scenario`."""
    return simulate(c, parse_scenario(scenario or {}, c), **kw)


def messages(result: SimResult) -> list[str]:
    """Every event message, in order."""
    return [e.message for e in result.events]


def warnings(result: SimResult) -> list[str]:
    """Every Warning event message, in order."""
    return [e.message for e in result.events if e.type == "Warning"]


def canary_weights(result: SimResult) -> list[int]:
    """The canary weight of every routing change."""
    return [w.canary for w in result.weights]


def at(result: SimResult, message: str) -> float:
    """When an event was first recorded."""
    return next(e.at for e in result.events if e.message == message)


SR = "request-success-rate"
DUR = "request-duration"
BUILTINS = [
    {"name": SR, "thresholdRange": {"min": 99}, "interval": "1m"},
    {"name": DUR, "thresholdRange": {"max": 500}, "interval": "1m"},
]


async def step_release(
    engine: Engine, cluster: Cluster, steps: int, *, after: Callable[[Cluster], None] | None = None
) -> None:
    """Drive a simulator-built engine by hand: initialize, start a release, then run up to `steps` analysis steps,
    a minute apart when the engine waits for the interval, stopping once the run is Succeeded or Failed; `after`
    sees the cluster after each step."""
    cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
    t = 0.0
    for i in range(steps):
        cluster.revision = 0 if i == 0 else 1
        cluster.clock.set(t)
        due = await engine.advance("podinfo", "test")
        if after is not None:
            after(cluster)
        if cluster.canary.status.phase in (CanaryPhase.SUCCEEDED, CanaryPhase.FAILED):
            break
        t += 60 if due is Next.INTERVAL else 0
