"""Run a Canary through a scenario on a virtual clock: the engine, unchanged, against the in-memory world."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from serinus.api import Canary, CanaryPhase
from serinus.engine.context import Services
from serinus.engine.ledger import Run
from serinus.engine.ports import Hooks, Next, World
from serinus.engine.status import with_initializing
from serinus.engine.step import Engine, EngineOptions
from serinus.sim.clock import VirtualClock
from serinus.sim.scenario import Scenario
from serinus.sim.world import (
    Alert,
    Cluster,
    Event,
    Judgement,
    SimHooks,
    SimLedger,
    SimMetrics,
    SimNopRouter,
    SimNotifier,
    SimRecorder,
    SimRouter,
    SimServices,
    SimStore,
    SimTarget,
    SimTelemetry,
    Weights,
)

_DONE = frozenset({CanaryPhase.SUCCEEDED, CanaryPhase.FAILED})
_INIT = frozenset({CanaryPhase.UNSET, CanaryPhase.INITIALIZING})
#: the operator's default --drain-period
DEFAULT_DRAIN_S = 10.0
#: a safety net: steps at one instant are bounded by construction (each wait is answered once), never loop
_MAX_AT_ONCE = 8


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
    #: the statistical judge's ticks (empty when the judge is off)
    judgements: tuple[Judgement, ...] = ()
    #: the run ledger: one CanaryRun per run, as the operator would keep them
    runs: tuple[Run, ...] = ()

    def ledger(self) -> list[dict[str, Any]]:
        """The run ledger as CanaryRun objects (`serinus simulate --ledger FILE`)."""
        return [run.to_object() for run in self.runs]

    def checks(self) -> list[dict[str, Any]]:
        """The judge's ledger lines, one per metric per tick, with the simulated time of the tick as `at`."""
        out = []
        for judgement in self.judgements:
            for line in judgement.lines:
                doc = _finite(line.to_json())
                doc["at"] = _num(judgement.at)
                doc["tick"] = judgement.verdict
                out.append(doc)
        return out

    def to_json(self) -> dict[str, Any]:
        """The `serinus simulate -o json` document."""
        return {
            "phase": self.phase,
            "duration": _num(self.duration),
            "events": [{"at": _num(e.at), "type": e.type, "message": e.message} for e in self.events],
            "weights": [{"at": _num(w.at), "canary": w.canary, "primary": w.primary} for w in self.weights],
            "alerts": [{"at": _num(a.at), "severity": a.severity, "message": a.message} for a in self.alerts],
            "checks": self.checks(),
        }


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 3)


def _finite(value: Any) -> Any:
    """JSON-safe: infinite and NaN numbers become strings ("inf", "-inf", "nan"), tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def build(
    canary: Canary, scenario: Scenario, mesh_provider: str = "istio", hooks: Hooks | None = None
) -> tuple[Engine, Cluster]:
    """The engine wired to a fresh simulated cluster holding `canary` as just applied; `hooks` replaces the
    scenario's webhook answers with a real Hooks port (webhooks are then really called)."""
    canary = canary.model_copy(deep=True)
    canary.metadata.namespace = canary.metadata.namespace or "default"
    clock = VirtualClock()
    cluster = Cluster(canary=canary, scenario=scenario, clock=clock)
    services = Services(
        store=SimStore(cluster),
        recorder=SimRecorder(cluster),
        notifier=SimNotifier(cluster),
        hooks=hooks or SimHooks(cluster),
        clock=clock,
        telemetry=SimTelemetry(cluster),
        ledger=SimLedger(),
    )

    async def make_world(current: Canary, provider: str) -> World:
        router = SimNopRouter(cluster) if provider == "kubernetes" else SimRouter(cluster)
        return World(
            target=SimTarget(cluster),
            services=SimServices(),
            router=router,
            metrics=SimMetrics(cluster, provider),
            provider=provider,
        )

    return Engine(services, make_world, EngineOptions(mesh_provider=mesh_provider)), cluster


async def simulate_async(
    canary: Canary, scenario: Scenario, mesh_provider: str = "istio", drain_s: float = DEFAULT_DRAIN_S
) -> SimResult:
    """Step the engine as the operator schedules it, until the scenario's duration or until the run is over.

    Steps come every analysis interval, or sooner when a step waits only on the cluster: as soon as the
    scenario makes the awaited workload ready, or after the drain period once traffic left the canary.
    """
    engine, cluster = build(canary, scenario, mesh_provider)
    name, namespace = cluster.canary.metadata.name or "", cluster.canary.metadata.namespace or "default"
    # What the operator's sync handler does to a new Canary before its first step.
    initializing = with_initializing(cluster.canary, cluster.clock.now())
    if initializing is not None:
        cluster.canary.status = initializing
    revisions = list(scenario.revision_times())
    interval = cluster.canary.analysis_interval_seconds()
    steps: list[Step] = []
    t, first, at_once = 0.0, True, 0
    while t <= scenario.duration:
        cluster.clock.set(t)
        # A revision is seen by the first step at or after it, once the Canary is initialized (a change before
        # that is simply part of what initialization sees); one at 0 s comes right after initialization.
        while revisions and revisions[0] <= t and not first and cluster.canary.status.phase not in _INIT:
            revisions.pop(0)
            cluster.revision += 1
        first = False
        due = await engine.advance(name, namespace)
        status = cluster.canary.status
        steps.append(
            Step(
                t,
                str(status.phase),
                cluster.routes.canary,
                cluster.routes.primary,
                status.failed_checks,
                status.iterations,
            )
        )
        done = status.phase in _DONE
        if done and not revisions:
            break
        following = _next_step(t, due, interval, drain_s, SimTarget(cluster))
        if revisions and status.phase not in _INIT:
            # the operator watches the target: a new revision wakes the Canary at once
            following = revisions[0] if done else min(following, max(t, revisions[0]))
        at_once = at_once + 1 if following == t else 0
        t = following if at_once < _MAX_AT_ONCE else t + interval
    return SimResult(
        phase=str(cluster.canary.status.phase),
        duration=cluster.clock.monotonic(),
        events=tuple(cluster.events),
        weights=tuple(cluster.weights),
        alerts=tuple(cluster.alerts),
        steps=tuple(steps),
        canary=cluster.canary,
        judgements=tuple(cluster.judgements),
        runs=tuple(engine.services.ledger.runs) if isinstance(engine.services.ledger, SimLedger) else (),
    )


def _next_step(t: float, due: Next, interval: float, drain_s: float, target: SimTarget) -> float:
    """When the operator would run the next step: never later than one interval."""
    latest = t + interval
    if due is Next.DRAIN:
        return min(t + drain_s, latest)
    if due is Next.NOW:
        return t
    if due in (Next.CANARY_READY, Next.PRIMARY_READY):
        ready_at = target.ready_at("canary" if due is Next.CANARY_READY else "primary", t)
        if ready_at is not None and ready_at < latest:
            return ready_at
    return latest


def simulate(
    canary: Canary, scenario: Scenario, mesh_provider: str = "istio", drain_s: float = DEFAULT_DRAIN_S
) -> SimResult:
    """Run a simulation to its end (synchronous wrapper)."""
    return asyncio.run(simulate_async(canary, scenario, mesh_provider, drain_s))
