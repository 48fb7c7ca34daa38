"""In-memory implementations of every engine port, driven by a Scenario and a virtual clock.

The simulated cluster holds one Canary, its target (a revision number standing in for the pod template), the
primary (the revision it runs), the routing weights, and the record of everything the engine said.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from serinus.api import Canary, CanaryMetric, CanaryWebhook
from serinus.api.analysis import BUILTIN_METRICS, REQUEST_SUCCESS_RATE
from serinus.engine.ports import (
    READY,
    EventType,
    HookResult,
    Measurement,
    MetricFailure,
    Notice,
    Readiness,
    Routes,
    StatusChange,
)
from serinus.sim.clock import VirtualClock
from serinus.sim.scenario import Scenario


@dataclass(frozen=True)
class Event:
    """An event the engine recorded."""

    at: float
    type: str
    message: str
    phase: str
    seq: int = 0


@dataclass(frozen=True)
class Weights:
    """A change of routing."""

    at: float
    canary: int
    primary: int
    mirrored: bool = False
    seq: int = 0


@dataclass(frozen=True)
class Alert:
    """An alert the engine sent."""

    at: float
    severity: str
    message: str
    fields: tuple[tuple[str, str], ...] = ()
    seq: int = 0


@dataclass(frozen=True)
class HookCall:
    """A webhook call and its answer."""

    at: float
    name: str
    type: str
    payload: Mapping[str, Any]
    ok: bool


@dataclass
class Cluster:
    """The simulated state, shared by all ports."""

    canary: Canary
    scenario: Scenario
    clock: VirtualClock
    revision: int = 0
    primary_revision: int | None = None
    canary_replicas: int = 1
    routes: Routes = field(default_factory=lambda: Routes(100, 0, False))
    #: when each workload last started rolling out (readiness progress deadline)
    canary_since: float = 0.0
    primary_since: float = 0.0
    events: list[Event] = field(default_factory=list)
    weights: list[Weights] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    hook_calls: list[HookCall] = field(default_factory=list)
    #: one counter across events, weights and alerts, so a timeline can show them in the order they happened
    sequence: Iterator[int] = field(default_factory=itertools.count)

    @property
    def now(self) -> float:
        """Simulated seconds since the start."""
        return self.clock.monotonic()


class SimStore:
    """The Store port: one Canary in memory."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def get(self, name: str, namespace: str) -> Canary | None:
        """A copy of the stored Canary (the engine must not see later writes through it)."""
        return self.cluster.canary.model_copy(deep=True)

    async def update_status(self, name: str, namespace: str, change: StatusChange) -> Canary:
        """Apply a status change."""
        stored = self.cluster.canary
        stored.status = change(stored)
        return stored.model_copy(deep=True)

    async def set_finalizer(self, name: str, namespace: str, finalizer: str, present: bool) -> None:
        """Add or remove a finalizer."""
        finalizers = [f for f in self.cluster.canary.metadata.finalizers or [] if f != finalizer]
        self.cluster.canary.metadata.finalizers = [*finalizers, finalizer] if present else finalizers


class SimTarget:
    """The Target port: the target's revision, the primary's, and readiness from the scenario."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.kind = str(cluster.canary.spec.target_ref.kind)
        self.name = cluster.canary.spec.target_ref.name
        self.namespace = cluster.canary.metadata.namespace or "default"

    async def spec_for_hash(self) -> object:
        """The target's pod template, reduced to its revision."""
        return {"template": {"revision": self.cluster.revision}}

    async def tracked_configs(self) -> dict[str, str] | None:
        """The simulation does not model ConfigMaps and Secrets."""
        return None

    async def initialize(self) -> None:
        """Create the primary from the target if it does not exist."""
        if self.cluster.primary_revision is None:
            self.cluster.primary_revision = self.cluster.revision
            self.cluster.primary_since = self.cluster.now

    def _deadline(self) -> float:
        return float(self.cluster.canary.progress_deadline_seconds())

    def ready_at(self, workload: str, start: float) -> float | None:
        """The first time from `start` at which a workload is ready: rolled out and ready by the scenario."""
        cluster = self.cluster
        rolled = (cluster.canary_since if workload == "canary" else cluster.primary_since) + cluster.scenario.rollout
        series = cluster.scenario.canary_ready if workload == "canary" else cluster.scenario.primary_ready
        return series.first(True, max(start, rolled))

    def _readiness(self, ready: bool, since: float, threshold: int) -> Readiness:
        if ready:
            return READY
        if self.cluster.now - since > self._deadline():
            return Readiness(False, False, f'{self.kind.lower()} "{{name}}" exceeded its progress deadline')
        return Readiness(False, True, "waiting for rollout to finish: 0 of 1 (readyThreshold "
                                      f"{threshold}%) updated replicas are available")

    async def primary_readiness(self) -> Readiness:
        """The primary is ready as the scenario says; stuck longer than the progress deadline is final."""
        cluster = self.cluster
        analysis = cluster.canary.analysis_or_default()
        series = cluster.scenario.primary_ready
        # a rollout's deadline runs from its start, or from when the workload last became unavailable
        ready = series.at(cluster.now) and cluster.now >= cluster.primary_since + cluster.scenario.rollout
        got = self._readiness(ready, max(cluster.primary_since, series.since(cluster.now)),
                              analysis.effective_primary_ready_threshold())
        if got.ready:
            return got
        name = f"{self.name}-primary"
        return Readiness(False, got.retriable, f"{name}.{self.namespace} not ready: "
                                               f"{got.message.replace('{name}', name)}")

    async def canary_readiness(self) -> Readiness:
        """The canary is ready as the scenario says; stuck longer than the progress deadline is final."""
        cluster = self.cluster
        analysis = cluster.canary.analysis_or_default()
        series = cluster.scenario.canary_ready
        ready = series.at(cluster.now) and cluster.now >= cluster.canary_since + cluster.scenario.rollout
        got = self._readiness(ready, max(cluster.canary_since, series.since(cluster.now)),
                              analysis.effective_canary_ready_threshold())
        if got.ready:
            return got
        return Readiness(False, got.retriable, f"canary {self.kind.lower()} {self.name}.{self.namespace} not ready: "
                                               f"{got.message.replace('{name}', self.name)}")

    async def promote(self) -> None:
        """The primary takes the target's revision and starts rolling out."""
        self.cluster.primary_revision = self.cluster.revision
        self.cluster.primary_since = self.cluster.now

    async def scale_to_zero(self) -> None:
        """The canary stops."""
        self.cluster.canary_replicas = 0

    async def scale_from_zero(self) -> None:
        """The canary starts and begins rolling out."""
        self.cluster.canary_replicas = 1
        self.cluster.canary_since = self.cluster.now

    async def finalize(self) -> None:
        """The target gets its pods back."""
        await self.scale_from_zero()


class SimServices:
    """The ServiceRouter port: the simulated Services always exist."""

    async def initialize(self) -> None:
        """Nothing to create."""

    async def reconcile(self) -> None:
        """Nothing to create."""

    async def finalize(self) -> None:
        """Nothing to revert."""


class SimRouter:
    """The Router port of a traffic-splitting provider: remembers the weights and logs every change."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def reconcile(self) -> None:
        """Nothing to create."""

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Route traffic; a change is logged."""
        routes = Routes(primary, canary, mirrored)
        if routes != self.cluster.routes:
            self.cluster.weights.append(Weights(self.cluster.now, canary, primary, mirrored,
                                               next(self.cluster.sequence)))
        self.cluster.routes = routes

    async def get_routes(self) -> Routes:
        """The current weights."""
        return self.cluster.routes

    async def finalize(self) -> None:
        """Nothing to revert."""


class SimNopRouter(SimRouter):
    """The `kubernetes` provider's router: no weights; all traffic is on the canary once iterations started."""

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Plain Services cannot split traffic."""

    async def get_routes(self) -> Routes:
        """As Flagger's NopRouter: (0, 100) once the blue/green iterations started, else (100, 0)."""
        if self.cluster.canary.status.iterations > 0:
            return Routes(0, 100, False)
        return Routes(100, 0, False)


def passing_value(metric: CanaryMetric) -> float:
    """A value that passes the metric's bounds, for metrics the scenario leaves out."""
    if metric.threshold_range is not None:
        bounds = metric.threshold_range
        if bounds.min is not None:
            return bounds.min
        return bounds.max if bounds.max is not None else 0.0
    if metric.name == REQUEST_SUCCESS_RATE and not metric.query:
        return max(metric.threshold, 100.0)
    return metric.threshold


class SimMetrics:
    """The Metrics port: values from the scenario; a null value is "no data"."""

    def __init__(self, cluster: Cluster, observer: str) -> None:
        self.cluster = cluster
        self.observer = observer

    async def providers_online(self) -> str | None:
        """Simulated providers are always up."""
        return None

    async def measure(self, metric: CanaryMetric) -> Measurement:
        """The scenario's value for this metric now."""
        series = self.cluster.scenario.metrics.get(metric.name)
        value = passing_value(metric) if series is None else series.at(self.cluster.now)
        builtin = metric.name in BUILTIN_METRICS and not metric.query and metric.template_ref is None
        template = ""
        if metric.template_ref is not None:
            ns = self.cluster.canary.metadata.namespace or "default"
            template = f"{metric.template_ref.name}.{metric.template_ref.namespace_or(ns)}"
        if value is None:
            error = "no values found" if builtin or metric.template_ref is not None else ""
            return Measurement(failure=MetricFailure.NO_DATA, error=error, observer=self.observer,
                               template=template)
        return Measurement(value=value, observer=self.observer, template=template)


class SimHooks:
    """The Hooks port: each webhook answers the status the scenario gives it (200 by default)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def call(self, hook: CanaryWebhook, payload: Mapping[str, Any]) -> HookResult:
        """Answer as the scenario says; a status above 202 is a refusal whose body is the status text."""
        series = self.cluster.scenario.webhooks.get(hook.name)
        status = 200 if series is None else series.at(self.cluster.now)
        ok = status <= 202
        self.cluster.hook_calls.append(HookCall(self.cluster.now, hook.name, str(hook.effective_type()),
                                                dict(payload), ok))
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "status"
        return HookResult(ok, "" if ok else f"{status} {reason}")


class SimRecorder:
    """The Recorder port: keeps every event with its simulated time."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def event(self, canary: Canary, event_type: EventType, message: str) -> None:
        """Record one event."""
        self.cluster.events.append(Event(self.cluster.now, str(event_type), message, str(canary.status.phase),
                                         next(self.cluster.sequence)))


class SimNotifier:
    """The Notifier port: keeps every alert with its simulated time."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def alert(self, canary: Canary, notice: Notice) -> None:
        """Record one alert."""
        self.cluster.alerts.append(Alert(self.cluster.now, notice.severity, notice.message, notice.fields,
                                         next(self.cluster.sequence)))
