"""A step never fails silently: whatever a port raises or answers, the Canary gets a Warning naming it, the error is
counted, and while the analysis runs a failed check is counted once, so Flagger's threshold rolls the release back.

The engine runs on the simulator's world with one port replaced by a faulty one, step by step on virtual time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serinus.api import Canary, CanaryMetric, CanaryPhase
from serinus.engine.judge.types import Observation, VersionCounts
from serinus.engine.ports import EventType, Measurement, Next, NoTelemetry, PortError, Routes, World
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import Cluster
from tests.unit.engine.simkit import BUILTINS, canary, step_release

SR = "request-success-rate"


@dataclass
class Counted(NoTelemetry):
    """Telemetry that keeps serinus_analysis_errors_total's increments and the durations observed."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    fail_duration: bool = False

    def count_error(self, canary: Canary, reason: str, metric: str = "") -> None:
        """Keep (reason, metric)."""
        self.errors.append((reason, metric))

    def set_duration(self, canary: Canary, seconds: float) -> None:
        """Raise when asked to: the last thing a step does after its checks."""
        if self.fail_duration:
            raise RuntimeError("registry closed")


@dataclass
class Release:
    """What a driven release did."""

    cluster: Cluster
    telemetry: Counted
    failed_checks: list[int]

    @property
    def warnings(self) -> list[str]:
        """Every Warning event, in order."""
        return [e.message for e in self.cluster.events if e.type == "Warning"]

    @property
    def messages(self) -> list[str]:
        """Every event, in order."""
        return [e.message for e in self.cluster.events]


async def drive(c: Canary, patch: Callable[[World], None], *, steps: int = 10, **telemetry: Any) -> Release:
    """Initialize the Canary, start a release, and run up to `steps` analysis steps a minute apart with the world
    `patch` changes (the simulator's ports otherwise); stop once the run is over."""
    engine, cluster = build(c, parse_scenario({}, c))
    counted = Counted(**telemetry)
    engine.services.telemetry = counted
    original = engine.make_world

    async def make_world(current: Canary, provider: str) -> World:
        world = await original(current, provider)
        patch(world)
        return world

    engine.make_world = make_world
    failed: list[int] = []
    await step_release(engine, cluster, steps, after=lambda c: failed.append(c.canary.status.failed_checks))
    return Release(cluster, counted, failed)


class RaisingMeasure:
    """A Metrics port whose measure() raises: a bug in a port must not stall the release."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def providers_online(self) -> str | None:
        return None

    async def measure(self, metric: CanaryMetric) -> Measurement:
        raise RuntimeError("boom")

    async def observe(self, metric: CanaryMetric, window_s: float, baseline: bool) -> Observation:
        observation: Observation = await self.inner.observe(metric, window_s, baseline)
        return observation


class Answers:
    """A Metrics port answering one fixed value for every metric (the simulator's port otherwise)."""

    def __init__(self, inner: Any, value: Any) -> None:
        self.inner, self.value = inner, value

    async def providers_online(self) -> str | None:
        return None

    async def measure(self, metric: CanaryMetric) -> Measurement:
        return Measurement(value=self.value, observer="istio")

    async def observe(self, metric: CanaryMetric, window_s: float, baseline: bool) -> Observation:
        return Observation(metric.name, "ratio", VersionCounts(requests=self.value, bad=0.0), VersionCounts(100, 0))


def with_metrics(port: Callable[[Any], Any]) -> Callable[[World], None]:
    def patch(world: World) -> None:
        world.metrics = port(world.metrics)

    return patch


SCHEDULE = {"interval": "1m", "threshold": 2, "stepWeight": 20, "maxWeight": 60}


def test_a_metrics_port_that_raises_fails_the_check_and_the_threshold_rolls_back() -> None:
    """measure() raising is Flagger's failed query: a Warning naming the metric and the exception each step, a
    failed check each step, then Flagger's rollback once the threshold is reached."""
    release = asyncio.run(drive(canary({**SCHEDULE, "metrics": BUILTINS}), with_metrics(RaisingMeasure)))
    text = "Prometheus query failed: request-success-rate: unexpected RuntimeError: boom"
    assert release.warnings.count(text) == 2
    assert "Rolling back podinfo.test failed checks threshold reached 2" in release.messages
    assert "Canary failed! Scaling down podinfo.test" in release.messages
    assert release.cluster.canary.status.phase == CanaryPhase.FAILED
    # init, scale-up, first weight: no check yet; then one failed check per failing step; the rollback resets it
    assert release.failed_checks == [0, 0, 0, 1, 2, 0]
    assert release.telemetry.errors == [("metric_error", SR)] * 2


def test_an_infinite_value_is_a_malformed_answer_not_a_pass() -> None:
    """+Inf would pass a `min: 99` success-rate bound; it fails the check as a malformed answer instead, and the
    release rolls back."""
    release = asyncio.run(
        drive(
            canary({**SCHEDULE, "metrics": [{"name": SR, "thresholdRange": {"min": 99}, "interval": "1m"}]}),
            with_metrics(lambda inner: Answers(inner, math.inf)),
        )
    )
    assert "Prometheus query failed: request-success-rate: +Inf is not a finite number" in release.warnings
    assert release.cluster.canary.status.phase == CanaryPhase.FAILED
    # the first weight comes before any check, as in Flagger; no check ever passed, so no weight after it
    assert [m for m in release.messages if m.startswith("Advance")] == ["Advance podinfo.test canary weight 20"]
    assert release.telemetry.errors == [("malformed_answer", SR)] * 2


def test_a_duration_beyond_gos_range_is_malformed() -> None:
    """A request-duration no Go time.Duration can hold (Flagger's conversion wraps it around to a value that
    passes) fails the check as out of range, instead of crashing the step that prints it."""
    release = asyncio.run(
        drive(
            canary({**SCHEDULE, "metrics": [{"name": "request-duration", "thresholdRange": {"max": 500}}]}),
            with_metrics(lambda inner: Answers(inner, 1e13)),
        )
    )
    assert "Prometheus query failed: request-duration: 1e+13 ms is out of range (Go's time.Duration)" in (
        release.warnings
    )
    assert release.cluster.canary.status.phase == CanaryPhase.FAILED


def test_nan_from_a_port_is_no_data_as_prometheus_nan_is() -> None:
    """NaN stays "no values found" (Prometheus' answer for a success rate without traffic), in Flagger's words."""
    release = asyncio.run(
        drive(
            canary({**SCHEDULE, "metrics": [{"name": SR, "thresholdRange": {"min": 99}, "interval": "1m"}]}),
            with_metrics(lambda inner: Answers(inner, math.nan)),
            steps=5,
        )
    )
    assert (
        "Halt advancement no values found for istio metric request-success-rate probably podinfo.test is not "
        "receiving traffic: no values found (NaN)"
    ) in release.warnings
    assert release.telemetry.errors == []


#: get_routes calls across the worlds of one test (each step builds a new world)
GET_ROUTES: list[int] = []


class FailingRouter:
    """A router whose traffic calls raise something that is not a PortError (a bug, a client error)."""

    def __init__(self, inner: Any, fail_get_after: int | None = None) -> None:
        self.inner, self.fail_get_after = inner, fail_get_after
        self.fail_set = fail_get_after is None  # one fault at a time

    async def reconcile(self) -> None:
        await self.inner.reconcile()

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        if canary > 0 and self.fail_set:
            raise KeyError("spec")
        await self.inner.set_routes(primary, canary, mirrored)

    async def get_routes(self) -> Routes:
        GET_ROUTES.append(1)
        if self.fail_get_after is not None and len(GET_ROUTES) > self.fail_get_after:
            raise ConnectionResetError("peer went away")
        routes: Routes = await self.inner.get_routes()
        return routes

    async def finalize(self) -> None:
        await self.inner.finalize()


def test_a_router_that_raises_is_reported_counted_and_rolls_back() -> None:
    """set_routes raising while advancing: a Warning naming the exception and where it came from, a counted error
    and a failed check per step, then the threshold's rollback (which routes all traffic to the primary)."""

    def patch(world: World) -> None:
        world.router = FailingRouter(world.router)

    release = asyncio.run(drive(canary({**SCHEDULE, "metrics": BUILTINS}), patch))
    faults = [w for w in release.warnings if w.startswith("Analysis of podinfo.test failed")]
    assert len(faults) == 2
    assert faults[0].startswith("Analysis of podinfo.test failed in serinus.engine.")
    assert faults[0].endswith(": KeyError: 'spec'")
    assert "Rolling back podinfo.test failed checks threshold reached 2" in release.messages
    assert release.cluster.canary.status.phase == CanaryPhase.FAILED
    assert (release.cluster.routes.primary, release.cluster.routes.canary) == (100, 0)
    assert release.telemetry.errors == [("step_error", "")] * 2


def test_a_step_that_always_raises_keeps_reporting_and_counting() -> None:
    """get_routes raising at every step once the analysis runs (before the threshold can act): every step still
    returns, with a Warning and one more failed check each time; nothing is silent, nothing escapes the engine."""
    GET_ROUTES.clear()

    def patch(world: World) -> None:
        world.router = FailingRouter(world.router, fail_get_after=2)

    release = asyncio.run(drive(canary({**SCHEDULE, "metrics": BUILTINS}), patch, steps=7))
    faults = [w for w in release.warnings if w.startswith("Analysis of podinfo.test failed")]
    assert len(faults) == 4
    assert all(f.endswith("ConnectionResetError: peer went away") for f in faults)
    assert release.failed_checks == [0, 0, 0, 1, 2, 3, 4]


def test_an_exception_after_a_counted_failed_check_does_not_count_another() -> None:
    """A step that failed a check and then raised (recording its duration) counts one failed check, not two."""
    release = asyncio.run(
        drive(
            canary({**SCHEDULE, "threshold": 5, "metrics": BUILTINS}),
            with_metrics(RaisingMeasure),
            steps=5,
            fail_duration=True,
        )
    )
    # the first analysis step passes its (pre-rollout) checks and then raises: one failed check for the exception;
    # each later step fails its metric check and then raises: still one failed check per step
    assert release.failed_checks == [0, 0, 1, 2, 3]
    assert len([w for w in release.warnings if w.startswith("Analysis of podinfo.test failed")]) == 3
    assert release.telemetry.errors.count(("step_error", "")) == 3


class RaisingHooks:
    """A Hooks port that raises although its contract says it never does."""

    async def call(self, hook: Any, payload: Any) -> Any:
        raise ValueError("bad payload")


def test_a_webhook_client_that_raises_is_reported_and_counted() -> None:
    """A rollout hook whose client raises: each analysis step warns with the exception and counts a failed check,
    and the threshold rolls the release back."""
    c = canary(
        {**SCHEDULE, "metrics": BUILTINS, "webhooks": [{"name": "gate", "type": "rollout", "url": "http://gate/"}]}
    )

    async def scenario() -> tuple[list[str], str]:
        engine, cluster = build(c, parse_scenario({}, c), hooks=RaisingHooks())
        cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
        for i in range(8):
            cluster.revision = 0 if i == 0 else 1
            cluster.clock.set(60.0 * i)
            await engine.advance("podinfo", "test")
        return [e.message for e in cluster.events if e.type == "Warning"], str(cluster.canary.status.phase)

    warnings, phase = asyncio.run(scenario())
    faults = [w for w in warnings if w.startswith("Analysis of podinfo.test failed in serinus.engine.checks: ")]
    assert faults == ["Analysis of podinfo.test failed in serinus.engine.checks: ValueError: bad payload"] * 2
    assert "Rolling back podinfo.test failed checks threshold reached 2" in warnings
    assert phase == "Failed"


class FailingStore:
    """A store whose status writes raise something that is not a PortError."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.broken = False

    async def get(self, name: str, namespace: str) -> Canary | None:
        found: Canary | None = await self.inner.get(name, namespace)
        return found

    async def update_status(self, name: str, namespace: str, change: Any) -> Canary:
        if self.broken:
            raise OSError("etcd is read-only")
        updated: Canary = await self.inner.update_status(name, namespace, change)
        return updated

    async def set_finalizer(self, name: str, namespace: str, finalizer: str, present: bool) -> None:
        await self.inner.set_finalizer(name, namespace, finalizer, present)


def test_a_status_write_that_raises_is_a_warning_and_the_engine_goes_on() -> None:
    """A status write raising OSError mid-release: a Warning naming it (the failed check cannot be written
    either, and that is logged, not raised), and the next step runs normally once the store is back."""

    async def scenario() -> tuple[list[str], str]:
        c = canary({**SCHEDULE, "metrics": BUILTINS})
        engine, cluster = build(c, parse_scenario({}, c))
        store = FailingStore(engine.services.store)
        engine.services.store = store
        cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
        t = 0.0
        for i in range(8):
            cluster.revision = 0 if i == 0 else 1
            store.broken = i == 3
            cluster.clock.set(t)
            await engine.advance("podinfo", "test")
            t += 60
        return [e.message for e in cluster.events if e.type == "Warning"], str(cluster.canary.status.phase)

    warnings, phase = asyncio.run(scenario())
    assert any(w.startswith("Analysis of podinfo.test failed") and "OSError: etcd is read-only" in w for w in warnings)
    assert phase == "Succeeded"


def test_the_judge_freezes_on_malformed_counts_and_names_them() -> None:
    """Under the statistical judge an infinite request count is a malformed answer: the judge freezes (its rule
    for provider errors, never a failed check) with a Warning that says which count, and the error is counted."""
    c = canary(
        {**SCHEDULE, "threshold": 5, "metrics": [BUILTINS[0]], "judge": {"mode": "statistical"}},
    )
    release = asyncio.run(drive(c, with_metrics(lambda inner: Answers(inner, math.inf)), steps=4))
    frozen = [w for w in release.warnings if w.startswith("Halt podinfo.test advancement, judge frozen: ")]
    assert frozen
    assert "request-success-rate: the canary's request count is +Inf, not a finite non-negative number" in frozen[0]
    assert ("malformed_answer", "") in release.telemetry.errors
    assert set(release.failed_checks) == {0}


class DeadRecorder:
    """A Recorder whose every event raises (the events API is down as well)."""

    async def event(self, canary: Canary, event_type: EventType, message: str, reason: str = "Synced") -> None:
        raise RuntimeError("events API down")


def test_finalization_whose_world_and_events_both_fail_is_counted_not_raised() -> None:
    """revertOnDeletion's step: the World cannot be built and the Warning saying so cannot be recorded either; the
    step still returns "not done, retry at the interval" and counts the error, as an analysis step does, instead of
    raising out of the engine."""
    engine, _ = build(canary(SCHEDULE), parse_scenario({}, canary(SCHEDULE)))
    counted = Counted()
    engine.services.telemetry = counted
    engine.services.recorder = DeadRecorder()

    async def no_world(current: Canary, provider: str) -> World:
        raise PortError("router unavailable")

    engine.make_world = no_world
    assert asyncio.run(engine.terminate("podinfo", "test")) == (False, Next.INTERVAL)
    assert counted.errors == [("step_error", "")]
