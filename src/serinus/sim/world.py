"""In-memory implementations of every engine port, driven by a Scenario and a virtual clock.

The simulated cluster holds one Canary, its target (a revision number standing in for the pod template), the
primary (the revision it runs), the routing weights, and the record of everything the engine said.

With the scenario's `traffic:`, the cluster also serves requests: `TrafficFeed` generates them lazily, one
sub-interval at a time up to the simulated now, with the weights the engine set over that sub-interval (closed
loop), and the Metrics port reads the built-in metrics and the judge's counts from them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from serinus.api import Canary, CanaryMetric, CanaryWebhook
from serinus.api.analysis import BUILTIN_METRICS, REQUEST_DURATION, REQUEST_SUCCESS_RATE
from serinus.api.duration import DurationError, duration_seconds
from serinus.engine.judge.types import LedgerLine, Observation, TickResult, VersionCounts
from serinus.engine.ledger import DEFAULT_RUNS, LedgerTick, Run, fold, to_prune
from serinus.engine.ports import (
    FLAGGER_REASON,
    READY,
    EventType,
    HookResult,
    Measurement,
    MetricFailure,
    NoTelemetry,
    Notice,
    Readiness,
    Routes,
    StatusChange,
)
from serinus.sim.clock import VirtualClock
from serinus.sim.scenario import Scenario
from serinus.sim.traffic import CANARY, PRIMARY, Generator, History, TrafficModel, Window


@dataclass(frozen=True)
class Event:
    """An event the engine recorded."""

    at: float
    type: str
    message: str
    phase: str
    seq: int = 0
    #: the Kubernetes event's reason: Flagger's `Synced`, or one of Serinus's own
    reason: str = FLAGGER_REASON


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


@dataclass(frozen=True)
class Judgement:
    """One tick of the statistical judge: its verdict, why, and a ledger line per metric."""

    at: float
    verdict: str
    reason: str
    lines: tuple[LedgerLine, ...]
    seq: int = 0


@dataclass
class Cluster:
    """The simulated state, shared by all ports."""

    canary: Canary
    scenario: Scenario
    clock: VirtualClock
    revision: int = 0
    primary_revision: int | None = None
    #: the revision the primary ran before its last promotion (its last good spec), and whether it was put back
    primary_kept: int | None = None
    primary_restored: bool = False
    canary_replicas: int = 1
    routes: Routes = field(default_factory=lambda: Routes(100, 0, False))
    #: when each workload last started rolling out (readiness progress deadline)
    canary_since: float = 0.0
    primary_since: float = 0.0
    events: list[Event] = field(default_factory=list)
    weights: list[Weights] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    hook_calls: list[HookCall] = field(default_factory=list)
    judgements: list[Judgement] = field(default_factory=list)
    #: when a workload (canary or primary) last started pods: (time, workload), for the traffic's warm-up
    starts: list[tuple[float, str]] = field(default_factory=list)
    #: one counter across events, weights and alerts, so a timeline can show them in the order they happened
    sequence: Iterator[int] = field(default_factory=itertools.count)
    #: the generated requests, when the scenario has `traffic:`
    traffic: TrafficFeed | None = None

    def __post_init__(self) -> None:
        if self.scenario.traffic is not None and self.traffic is None:
            self.traffic = TrafficFeed(self, self.scenario.traffic)

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
            self.cluster.starts.append((self.cluster.now, "primary"))

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
        return Readiness(
            False,
            True,
            f"waiting for rollout to finish: 0 of 1 (readyThreshold {threshold}%) updated replicas are available",
        )

    async def primary_readiness(self) -> Readiness:
        """The primary is ready as the scenario says; stuck longer than the progress deadline is final."""
        cluster = self.cluster
        analysis = cluster.canary.analysis_or_default()
        series = cluster.scenario.primary_ready
        # a rollout's deadline runs from its start, or from when the workload last became unavailable
        rolled = cluster.now >= cluster.primary_since + cluster.scenario.rollout
        # a restored primary runs the spec that was serving before the promotion: the scenario's readiness is the
        # promoted spec's
        ready = rolled and (cluster.primary_restored or series.at(cluster.now))
        got = self._readiness(
            ready, max(cluster.primary_since, series.since(cluster.now)), analysis.effective_primary_ready_threshold()
        )
        if got.ready:
            return got
        name = f"{self.name}-primary"
        return Readiness(
            False, got.retriable, f"{name}.{self.namespace} not ready: {got.message.replace('{name}', name)}"
        )

    async def canary_readiness(self) -> Readiness:
        """The canary is ready as the scenario says; stuck longer than the progress deadline is final."""
        cluster = self.cluster
        analysis = cluster.canary.analysis_or_default()
        series = cluster.scenario.canary_ready
        ready = series.at(cluster.now) and cluster.now >= cluster.canary_since + cluster.scenario.rollout
        got = self._readiness(
            ready, max(cluster.canary_since, series.since(cluster.now)), analysis.effective_canary_ready_threshold()
        )
        if got.ready:
            return got
        return Readiness(
            False,
            got.retriable,
            f"canary {self.kind.lower()} {self.name}.{self.namespace} not ready: "
            f"{got.message.replace('{name}', self.name)}",
        )

    async def promote(self) -> None:
        """The primary keeps the revision it ran, takes the target's and starts rolling out."""
        self.cluster.primary_kept = self.cluster.primary_revision
        self.cluster.primary_restored = False
        self.cluster.primary_revision = self.cluster.revision
        self.cluster.primary_since = self.cluster.now
        self.cluster.starts.append((self.cluster.now, "primary"))

    async def restore_primary(self) -> bool:
        """The primary goes back to the revision it ran before the promotion (when one was kept)."""
        cluster = self.cluster
        if cluster.primary_kept is None:
            return False
        cluster.primary_revision = cluster.primary_kept
        cluster.primary_restored = True
        cluster.primary_since = cluster.now
        cluster.starts.append((cluster.now, "primary"))
        return True

    async def primary_restored(self) -> bool:
        """Whether the primary was put back since the last promotion."""
        return self.cluster.primary_restored

    async def scale_to_zero(self) -> None:
        """The canary stops."""
        self.cluster.canary_replicas = 0

    async def scale_from_zero(self) -> None:
        """The canary starts and begins rolling out."""
        self.cluster.canary_replicas = 1
        self.cluster.canary_since = self.cluster.now
        self.cluster.starts.append((self.cluster.now, "canary"))

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
            self.cluster.weights.append(
                Weights(self.cluster.now, canary, primary, mirrored, next(self.cluster.sequence))
            )
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


class TrafficFeed:
    """The scenario's traffic for one simulated run, generated lazily up to now.

    Each sub-interval [t0, t0 + dt) is generated once, the first time a query reaches past its end, with the
    canary's share averaged over the routing changes the engine made inside it (the Cluster's weight log). With
    mirroring the primary keeps all traffic and the canary gets copies of `mirrorWeight`% (all when unset). With
    the `kubernetes` provider (no weights) the canary gets all traffic once blue/green iterations have started,
    as that provider's router reports.
    """

    def __init__(self, cluster: Cluster, model: TrafficModel) -> None:
        self.cluster = cluster
        self.generator = Generator(model, runs=1)
        self.history = History(self.generator)
        #: set by SimMetrics for the `kubernetes` provider, whose router keeps no weights
        self.nop_routes = False

    def window(self, length: float) -> Window | None:
        """The traffic of the last `length` seconds up to now (whole sub-intervals), None before any."""
        now = self.cluster.now
        self.catch_up(now)
        return self.history.window(now, length)

    def catch_up(self, now: float) -> None:
        """Generate every sub-interval that ends at or before `now`."""
        dt = self.generator.dt
        while self.history.end + dt <= now + 1e-9:
            t0 = self.history.end
            canary, primary = self.shares(t0, t0 + dt)
            self.history.add(
                self.generator.step(
                    t0,
                    canary,
                    primary,
                    canary_started=self._started("canary", t0),
                    primary_started=self._started("primary", t0),
                )
            )

    def shares(self, start: float, end: float) -> tuple[float, float]:
        """(canary, primary) share of the traffic over [start, end), time-weighted over the routing changes."""
        if self.nop_routes:
            canary = 1.0 if self.cluster.canary.status.iterations > 0 else 0.0
            return canary, 1.0 - canary
        points: list[tuple[float, float, float]] = [(0.0, 0.0, 1.0)]
        for w in self.cluster.weights:
            points.append((w.at, *self._split(w)))
        canary = primary = 0.0
        for i, (at, c, p) in enumerate(points):
            until = points[i + 1][0] if i + 1 < len(points) else math.inf
            overlap = min(end, until) - max(start, at)
            if overlap > 0:
                canary += c * overlap
                primary += p * overlap
        span = end - start
        return canary / span, primary / span

    def _split(self, w: Weights) -> tuple[float, float]:
        if not w.mirrored:
            return w.canary / 100.0, w.primary / 100.0
        mirror = self.cluster.canary.analysis_or_default().mirror_weight or 100
        return float(mirror) / 100.0, w.primary / 100.0

    def _started(self, workload: str, t: float) -> float | None:
        times = [at for at, w in self.cluster.starts if w == workload and at <= t]
        return max(times) if times else None


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


def metric_seconds(metric: CanaryMetric) -> float:
    """The metric's query window in seconds (1m when unset or unreadable)."""
    try:
        return duration_seconds(metric.interval_or_default() or "1m")
    except DurationError:
        return 60.0


#: what the simulated metrics provider says when the scenario's traffic has a provider error
PROVIDER_ERROR = "simulated provider error (traffic.providerErrors)"


class SimMetrics:
    """The Metrics port: values from the scenario (a null value is "no data"), or, for the built-in metrics when
    the scenario has `traffic:` and gives no values for them, computed from the generated requests as
    Prometheus' queries would: request-success-rate = 100 · non-5xx / all requests of the canary over the metric's
    interval (no data without requests), request-duration = histogram_quantile(0.99) of the canary's buckets,
    in ms."""

    def __init__(self, cluster: Cluster, observer: str) -> None:
        self.cluster = cluster
        self.observer = observer
        if cluster.traffic is not None and observer == "kubernetes":
            cluster.traffic.nop_routes = True

    async def providers_online(self) -> str | None:
        """Simulated providers are always up."""
        return None

    def _traffic_for(self, metric: CanaryMetric) -> TrafficFeed | None:
        """The traffic feed when it answers this metric: a built-in the scenario gives no values for."""
        builtin = metric.name in BUILTIN_METRICS and not metric.query and metric.template_ref is None
        if not builtin or metric.name in self.cluster.scenario.metrics:
            return None
        return self.cluster.traffic

    def _template(self, metric: CanaryMetric) -> str:
        if metric.template_ref is None:
            return ""
        ns = self.cluster.canary.metadata.namespace or "default"
        return f"{metric.template_ref.name}.{metric.template_ref.namespace_or(ns)}"

    async def measure(self, metric: CanaryMetric) -> Measurement:
        """The scenario's value for this metric now, or the built-in's value over the generated traffic."""
        template = self._template(metric)
        feed = self._traffic_for(metric)
        if feed is not None:
            window = feed.window(metric_seconds(metric))
            if window is not None and window.provider_error:
                return Measurement(failure=MetricFailure.QUERY_FAILED, error=PROVIDER_ERROR, observer=self.observer)
            value = None if window is None or window.missing else _builtin_value(metric.name, window, CANARY)
        else:
            series = self.cluster.scenario.metrics.get(metric.name)
            value = passing_value(metric) if series is None else series.at(self.cluster.now)
        builtin = metric.name in BUILTIN_METRICS and not metric.query and metric.template_ref is None
        if value is None:
            error = "no values found" if builtin or metric.template_ref is not None else ""
            return Measurement(failure=MetricFailure.NO_DATA, error=error, observer=self.observer, template=template)
        return Measurement(value=value, observer=self.observer, template=template)

    async def observe(self, metric: CanaryMetric, window_s: float, baseline: bool) -> Observation:
        """The judge's data over the last `window_s` seconds.

        From the generated traffic (built-ins without scenario values): kind "ratio" (or the metric's judge kind
        "absolute") for request-success-rate, with requests and bad = 5xx; "histogram" for request-duration, with
        cumulative buckets in ms (+Inf last); a scrape gap gives None counts, a provider error `error`. Otherwise
        kind "scalar": the scenario's value for the canary and its `primary` value (None where it gives none).
        """
        kind = str(metric.judge.kind) if metric.judge is not None and metric.judge.kind is not None else ""
        feed = self._traffic_for(metric)
        if feed is not None:
            window = feed.window(window_s)
            if window is not None and window.provider_error:
                return Observation(metric=metric.name, kind=kind or _default_kind(metric.name), error=PROVIDER_ERROR)
            return _traffic_observation(metric.name, kind, window, baseline)
        now = self.cluster.now
        series = self.cluster.scenario.metrics.get(metric.name)
        value = passing_value(metric) if series is None else series.at(now)
        primary_series = self.cluster.scenario.primary_metrics.get(metric.name)
        primary = VersionCounts(value=primary_series.at(now) if primary_series is not None else None)
        return Observation(
            metric=metric.name, kind="scalar", canary=VersionCounts(value=value), primary=primary if baseline else None
        )


def _default_kind(name: str) -> str:
    return "histogram" if name == REQUEST_DURATION else "ratio"


def _builtin_value(name: str, window: Window, version: int) -> float | None:
    """What Flagger's built-in query returns over the window for one version (None: no values found)."""
    value = window.success_rate(version)[0] if name == REQUEST_SUCCESS_RATE else window.quantile(0.99, version)[0]
    return None if math.isnan(value) else float(value)


def _counts(name: str, kind: str, window: Window | None, version: int) -> VersionCounts:
    if window is None or window.missing:
        return VersionCounts()
    requests = float(window.requests[version, 0])
    if kind == "scalar":
        return VersionCounts(requests=requests, value=_builtin_value(name, window, version))
    if name == REQUEST_DURATION:
        cumulative = window.buckets[version, 0]
        buckets = tuple((float(b), float(c)) for b, c in zip(window.bounds, cumulative, strict=True))
        return VersionCounts(requests=requests, buckets=buckets)
    return VersionCounts(requests=requests, bad=float(window.errors[version, 0]))


def _traffic_observation(name: str, kind: str, window: Window | None, baseline: bool) -> Observation:
    """The judge's counts for a built-in metric from a window of generated traffic: ratio / absolute counts for the
    success rate, buckets for the duration; a kind the metric has no counts for gets its value (scalar)."""
    kind = kind or _default_kind(name)
    fits = kind in ("ratio", "absolute") if name == REQUEST_SUCCESS_RATE else kind == "histogram"
    if not fits:
        kind = "scalar"
    return Observation(
        metric=name,
        kind=kind,
        canary=_counts(name, kind, window, CANARY),
        primary=_counts(name, kind, window, PRIMARY) if baseline else None,
    )


class SimHooks:
    """The Hooks port: each webhook answers the status the scenario gives it (200 by default)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def call(self, hook: CanaryWebhook, payload: Mapping[str, Any]) -> HookResult:
        """Answer as the scenario says; a status above 202 is a refusal whose body is the status text."""
        series = self.cluster.scenario.webhooks.get(hook.name)
        status = 200 if series is None else series.at(self.cluster.now)
        ok = status <= 202
        self.cluster.hook_calls.append(
            HookCall(self.cluster.now, hook.name, str(hook.effective_type()), dict(payload), ok)
        )
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "status"
        return HookResult(ok, "" if ok else f"{status} {reason}")


class SimRecorder:
    """The Recorder port: keeps every event with its simulated time."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def event(self, canary: Canary, event_type: EventType, message: str, reason: str = FLAGGER_REASON) -> None:
        """Record one event."""
        self.cluster.events.append(
            Event(
                self.cluster.now,
                str(event_type),
                message,
                str(canary.status.phase),
                next(self.cluster.sequence),
                reason,
            )
        )


class SimNotifier:
    """The Notifier port: keeps every alert with its simulated time."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def alert(self, canary: Canary, notice: Notice) -> None:
        """Record one alert."""
        self.cluster.alerts.append(
            Alert(self.cluster.now, notice.severity, notice.message, notice.fields, next(self.cluster.sequence))
        )


class SimTelemetry(NoTelemetry):
    """The Telemetry port: only the statistical judge's ticks are kept (for `checks` in the output); every other
    series is NoTelemetry's nothing."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def set_judge(self, canary: Canary, result: TickResult) -> None:
        """Keep one tick of the judge with its simulated time."""
        self.cluster.judgements.append(
            Judgement(
                self.cluster.now, str(result.verdict), result.reason, tuple(result.lines), next(self.cluster.sequence)
            )
        )


class SimLedger:
    """The Ledger port: CanaryRuns in memory, folded by `engine/ledger.py` exactly as the operator's adapter folds
    them, the oldest beyond `keep` dropped."""

    def __init__(self, keep: int = DEFAULT_RUNS) -> None:
        self.keep = keep
        self.runs: list[Run] = []
        self.next_index = 1

    async def write(self, tick: LedgerTick) -> None:
        """Add one step to its run."""
        current = self.runs[-1] if self.runs else None
        superseded, run = fold(current, tick, self.next_index)
        if superseded is not None:
            self.runs[-1] = superseded
        if current is not None and run.name == current.name:
            self.runs[-1] = run
            return
        self.runs.append(run)
        self.next_index += 1
        gone = set(to_prune([r.index for r in self.runs], self.keep))
        self.runs = [r for r in self.runs if r.index not in gone]

    def objects(self) -> list[dict[str, Any]]:
        """Every run kept, as the CanaryRun objects the operator would write."""
        return [run.to_object() for run in self.runs]
