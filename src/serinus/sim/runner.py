"""Run a Canary through a scenario on a virtual clock: the engine, unchanged, against the in-memory world."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from serinus.api import Canary, CanaryPhase
from serinus.engine.context import Services
from serinus.engine.ports import World
from serinus.engine.status import with_initializing
from serinus.engine.step import Engine, EngineOptions
from serinus.sim.clock import VirtualClock
from serinus.sim.scenario import Scenario
from serinus.sim.world import (
    Alert,
    Cluster,
    Event,
    SimHooks,
    SimMetrics,
    SimNopRouter,
    SimNotifier,
    SimRecorder,
    SimRouter,
    SimServices,
    SimStore,
    SimTarget,
    Weights,
)

_DONE = frozenset({CanaryPhase.SUCCEEDED, CanaryPhase.FAILED})


@dataclass(frozen=True)
class Step:
    """The state after one analysis step."""

    at: float
    phase: str
    canary_weight: int
    primary_weight: int
    failed_checks: int
    iterations: int


@dataclass(frozen=True)
class SimResult:
    """What happened: the final phase, how long was simulated, and every event, weight change and alert."""

    phase: str
    duration: float
    events: tuple[Event, ...]
    weights: tuple[Weights, ...]
    alerts: tuple[Alert, ...]
    steps: tuple[Step, ...]
    canary: Canary

    def to_json(self) -> dict[str, Any]:
        """The `serinus simulate -o json` document."""
        return {
            "phase": self.phase,
            "duration": _num(self.duration),
            "events": [{"at": _num(e.at), "type": e.type, "message": e.message} for e in self.events],
            "weights": [{"at": _num(w.at), "canary": w.canary, "primary": w.primary} for w in self.weights],
            "alerts": [{"at": _num(a.at), "severity": a.severity, "message": a.message} for a in self.alerts],
        }


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 3)


def build(canary: Canary, scenario: Scenario, mesh_provider: str = "istio") -> tuple[Engine, Cluster]:
    """The engine wired to a fresh simulated cluster holding `canary` as just applied."""
    canary = canary.model_copy(deep=True)
    canary.metadata.namespace = canary.metadata.namespace or "default"
    clock = VirtualClock()
    cluster = Cluster(canary=canary, scenario=scenario, clock=clock)
    services = Services(store=SimStore(cluster), recorder=SimRecorder(cluster), notifier=SimNotifier(cluster),
                        hooks=SimHooks(cluster), clock=clock)

    async def make_world(current: Canary, provider: str) -> World:
        router = SimNopRouter(cluster) if provider == "kubernetes" else SimRouter(cluster)
        return World(target=SimTarget(cluster), services=SimServices(), router=router,
                     metrics=SimMetrics(cluster, provider), provider=provider)

    return Engine(services, make_world, EngineOptions(mesh_provider=mesh_provider)), cluster


async def simulate_async(canary: Canary, scenario: Scenario, mesh_provider: str = "istio") -> SimResult:
    """Tick the engine every analysis interval until the scenario's duration, or until the run is over."""
    engine, cluster = build(canary, scenario, mesh_provider)
    name, namespace = cluster.canary.metadata.name or "", cluster.canary.metadata.namespace or "default"
    # What the operator's sync handler does to a new Canary before its first step.
    initializing = with_initializing(cluster.canary, cluster.clock.now())
    if initializing is not None:
        cluster.canary.status = initializing
    revisions = list(scenario.revision_times())
    interval = cluster.canary.analysis_interval_seconds()
    steps: list[Step] = []
    t = 0.0
    while t <= scenario.duration:
        cluster.clock.set(t)
        while revisions and (revisions[0] < t or (revisions[0] == t and t > 0)):
            revisions.pop(0)
            cluster.revision += 1
        await engine.advance(name, namespace)
        status = cluster.canary.status
        steps.append(Step(t, str(status.phase), cluster.routes.canary, cluster.routes.primary,
                          status.failed_checks, status.iterations))
        if status.phase in _DONE and not revisions:
            break
        if status.phase in _DONE:
            # nothing happens until the next revision: jump to the first step that sees it
            first = math.ceil(revisions[0] / interval) * interval
            t = max(t + interval, first)
            continue
        t += interval
    return SimResult(phase=str(cluster.canary.status.phase), duration=cluster.clock.monotonic(),
                     events=tuple(cluster.events), weights=tuple(cluster.weights), alerts=tuple(cluster.alerts),
                     steps=tuple(steps), canary=cluster.canary)


def simulate(canary: Canary, scenario: Scenario, mesh_provider: str = "istio") -> SimResult:
    """Run a simulation to its end (synchronous wrapper)."""
    return asyncio.run(simulate_async(canary, scenario, mesh_provider))
