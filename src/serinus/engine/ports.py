"""The protocols through which the engine talks to the world; adapters and serinus.sim implement them.

Each is the Python shape of one of Flagger's Go interfaces: the workload controller, the Kubernetes service
router, the mesh router, the metric checks, webhooks, the event recorder, the notifier, the controller
metrics, the Canary store and the clock. They are async because the real ones do I/O; the engine awaits them
and never imports an I/O library itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from serinus.api import Canary, CanaryMetric, CanaryStatus, CanaryWebhook
from serinus.engine.actions import Action
from serinus.engine.judge.types import Observation, TickResult
from serinus.engine.ledger import LedgerTick


@dataclass(frozen=True)
class Readiness:
    """The outcome of one readiness check: ready, or not with Flagger's message and whether waiting may help."""

    ready: bool
    retriable: bool = True
    message: str = ""
    #: what the kubelet reports about the workload's pods that keeps them from ready (a container waiting in
    #: ErrImageNeverPull or CrashLoopBackOff, a pod Unschedulable), "" when nothing is known; Serinus only, never
    #: part of Flagger's `message`
    cause: str = ""


READY = Readiness(True)


class Next(StrEnum):
    """When the next analysis step of a Canary is due, as the step just run sees it.

    Flagger always waits one interval. A step that waits only on the cluster says so, so the operator can run
    the next one as soon as the cluster is there (never later than one interval).
    """

    INTERVAL = "interval"  # the analysis needs time to pass: one interval
    CANARY_READY = "canary-ready"  # as soon as the canary workload is rolled out
    PRIMARY_READY = "primary-ready"  # as soon as the primary workload is rolled out
    DRAIN = "drain"  # after the drain period: traffic was just moved away from the canary's pods
    NOW = "now"  # at once: the step only did bookkeeping, nothing the cluster or the analysis needs time for


@dataclass(frozen=True)
class Routes:
    """Traffic as the router has it: the two weights and whether traffic is mirrored to the canary."""

    primary: int
    canary: int
    mirrored: bool = False


class PortError(Exception):
    """A port could not do what the engine asked; the message is shown as a Warning event, in Flagger's words.

    `retriable` is False when waiting cannot help (the progress deadline passed, the target is unusable).
    """

    def __init__(self, message: str, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


class MetricFailure(StrEnum):
    """Why a metric produced no value; each maps to one of Flagger's event texts."""

    NO_DATA = "no-data"  # the query ran and found nothing
    QUERY_FAILED = "query-failed"  # the provider answered with an error or could not be reached
    TEMPLATE = "template"  # the MetricTemplate is missing or unreadable
    SECRET = "secret"  # the template's Secret is missing; error reads `<secret name> error: <why>`
    PROVIDER = "provider"  # the template's provider cannot be built (unknown type, bad address)
    RENDER = "render"  # the query template does not render
    UNUSABLE = "unusable"  # neither built in, nor a template, nor a query
    MALFORMED = "malformed"  # the provider answered, but not with a finite number (+Inf, a string, a bad shape)
    ERROR = "error"  # measuring raised something no code path expected (worded as a failed query)


@dataclass(frozen=True)
class Measurement:
    """The result of one metric query: a value (already in the unit thresholds apply to) or a failure.

    `value` is milliseconds for the built-in request-duration and as returned for everything else. `observer`
    names the built-in metrics provider (istio, nginx, ...) for Flagger's no-data text; `template` is
    `<name>.<namespace>` of a MetricTemplate; `provider_type` its provider.
    """

    value: float | None = None
    failure: MetricFailure | None = None
    error: str = ""
    observer: str = ""
    template: str = ""
    provider_type: str = ""
    query: str = ""


class Target(Protocol):
    """The workload being released and its `-primary` copy (Flagger's canary.Controller)."""

    async def spec_for_hash(self) -> object:
        """What change detection hashes: a Deployment's pod template, a Service's spec, ..."""

    async def tracked_configs(self) -> dict[str, str] | None:
        """`configmap/<name>` / `secret/<name>` -> checksum of what the target uses now; None without tracking."""

    async def initialize(self) -> None:
        """Create the primary (and its config copies) if missing."""

    async def primary_readiness(self) -> Readiness:
        """Is the primary rolled out?"""

    async def canary_readiness(self) -> Readiness:
        """Is the target rolled out?"""

    async def promote(self) -> None:
        """Copy the target's template and configs to the primary, keeping the spec the primary ran until now as
        its last good spec (restore_primary puts it back)."""

    async def restore_primary(self) -> bool:
        """Give the primary back the last good spec promote() kept (template, rollout settings, replicas), so it
        rolls back to the version that served before the promotion; False when none was kept (a primary promoted
        before Serinus kept one, or a target kind that cannot be restored)."""

    async def primary_restored(self) -> bool:
        """Whether the primary runs the spec restore_primary() put back since the last promote()."""

    async def scale_to_zero(self) -> None:
        """Stop the target's pods."""

    async def scale_from_zero(self) -> None:
        """Start the target's pods."""

    async def finalize(self) -> None:
        """revertOnDeletion: give the target back its size (the primary's, or from zero)."""


class Scaler(Protocol):
    """The target's HPA or KEDA ScaledObject and its `-primary` copy (Flagger's ScalerReconciler)."""

    async def reconcile_primary(self, init: bool) -> None:
        """Create (init) or update the primary's scaler from the target's."""

    async def pause_target(self) -> None:
        """Stop the target's scaler from scaling the canary up between runs."""

    async def resume_target(self) -> None:
        """Let the target's scaler work again."""


class ServiceRouter(Protocol):
    """The apex, `-primary` and `-canary` Services (Flagger's KubernetesRouter)."""

    async def initialize(self) -> None:
        """Create or update the `-primary` and `-canary` Services."""

    async def reconcile(self) -> None:
        """Create or update the apex Service, selecting the primary pods."""

    async def finalize(self) -> None:
        """revertOnDeletion: point a user's apex Service back at the target's pods."""


class Router(Protocol):
    """The mesh or ingress router that splits traffic (Flagger's router.Interface)."""

    async def reconcile(self) -> None:
        """Create or take over the routing objects."""

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Route `primary`% and `canary`% of traffic; mirror to the canary when `mirrored`."""

    async def get_routes(self) -> Routes:
        """The weights and mirror flag the routing objects hold now."""

    async def finalize(self) -> None:
        """revertOnDeletion: restore the routing objects the user had."""


class Metrics(Protocol):
    """Runs the Canary's metric queries (built-ins, inline queries, MetricTemplates)."""

    async def providers_online(self) -> str | None:
        """None when every metrics provider answers; else the error, in Flagger's words."""

    async def measure(self, metric: CanaryMetric) -> Measurement:
        """Run one metric's query now."""

    async def observe(self, metric: CanaryMetric, window_s: float, baseline: bool) -> Observation:
        """The statistical judge's data for one metric over the last `window_s` seconds: counts (or a scalar) for
        the canary, and for the primary when `baseline`. Failures come back in `Observation.error`."""


@dataclass(frozen=True)
class HookResult:
    """The answer of one webhook: accepted (status <= 202) or refused / failed with the reason."""

    ok: bool
    error: str = ""


class Hooks(Protocol):
    """Calls the Canary's webhooks."""

    async def call(self, hook: CanaryWebhook, payload: Mapping[str, Any]) -> HookResult:
        """POST the payload to the hook and report its answer; never raises."""


class EventType(StrEnum):
    """Kubernetes event types."""

    NORMAL = "Normal"
    WARNING = "Warning"


#: the reason of every event Flagger records (and so of every event Serinus records in Flagger's words)
FLAGGER_REASON = "Synced"


class SerinusReason(StrEnum):
    """Reasons of the events only Serinus records, so that they can be told from Flagger's (`Synced`) ones."""

    #: the primary could not roll out the promoted spec within progressDeadlineSeconds
    PROMOTION_FAILED = "PromotionFailed"
    #: the primary was given back the spec it ran before the failed promotion
    PRIMARY_RESTORED = "PrimaryRestored"
    #: the canary is not ready and the kubelet says why (an image not present, a crash loop, a pod unschedulable)
    CANARY_PODS_FAILING = "CanaryPodsFailing"
    #: a CanaryAction (serinus promote, abort, ...) was applied: who asked and why
    ACTION_APPLIED = "ActionApplied"
    #: a CanaryAction was not applied: stale (another revision), expired, or not possible in the phase
    ACTION_REJECTED = "ActionRejected"
    #: the canary is not ready while it holds live traffic: all of it was routed to the primary (Flagger keeps it)
    CANARY_TRAFFIC_WITHDRAWN = "CanaryTrafficWithdrawn"
    #: the canary is ready again: the traffic its status holds was routed back to it
    CANARY_TRAFFIC_RESTORED = "CanaryTrafficRestored"


class Recorder(Protocol):
    """Records Kubernetes events on the Canary (and forwards them to event webhooks)."""

    async def event(self, canary: Canary, event_type: EventType, message: str, reason: str = FLAGGER_REASON) -> None:
        """Record one event with `reason`; `canary.status.phase` is the phase event webhooks are told."""


@dataclass(frozen=True)
class Notice:
    """An alert: Flagger's message, severity (info, warn, error) and the name/value fields shown with it."""

    message: str
    severity: str
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)


class Notifier(Protocol):
    """Sends alerts to the Canary's alert providers (or the operator's global one)."""

    async def alert(self, canary: Canary, notice: Notice) -> None:
        """Deliver one alert; failures are the notifier's to log and count, never the engine's."""


class Telemetry(Protocol):
    """Flagger's controller metrics (flagger_canary_*)."""

    def set_status(self, canary: Canary, phase: str) -> None:
        """flagger_canary_status: 0 running, 1 succeeded, 2 failed."""

    def set_weight(self, canary: Canary, primary: int, canary_weight: int) -> None:
        """flagger_canary_weight for primary and canary."""

    def set_analysis(self, canary: Canary, metric: str, value: float, passed: bool) -> None:
        """flagger_canary_metric_analysis: the last value of one metric, and the count of checks by result."""

    def inc_successes(self, canary: Canary, analysis_status: str) -> None:
        """flagger_canary_successes_total (analysis_status completed or skipped)."""

    def inc_failures(self, canary: Canary, analysis_status: str) -> None:
        """flagger_canary_failures_total."""

    def set_duration(self, canary: Canary, seconds: float) -> None:
        """flagger_canary_duration_seconds: how long one analysis step took."""

    def set_judge(self, canary: Canary, result: TickResult) -> None:
        """serinus_judge_*: the statistical judge's verdict and evidence of one tick (its ledger lines)."""

    def count_error(self, canary: Canary, reason: str, metric: str = "") -> None:
        """serinus_analysis_errors_total{reason}: part of a step failed unexpectedly or a provider's answer was
        unusable (Reason values); with `metric`, that metric's check also counts as failed in
        flagger_canary_metric_analysis_total."""


class Reason(StrEnum):
    """serinus_analysis_errors_total's `reason`: what failed."""

    MALFORMED_ANSWER = "malformed_answer"  # a metrics provider answered +Inf, a non-number or a body of the wrong shape
    METRIC_ERROR = "metric_error"  # measuring one metric raised an exception no code path expected
    STEP_ERROR = "step_error"  # the analysis step raised (a router, a hook, a status write, the judge ...)
    TICK_ERROR = "tick_error"  # the operator's tick raised outside the engine (reading the Canary, validation)


class NoTelemetry:
    """Telemetry that records nothing."""

    def set_status(self, canary: Canary, phase: str) -> None:
        """Nothing."""

    def set_weight(self, canary: Canary, primary: int, canary_weight: int) -> None:
        """Nothing."""

    def set_analysis(self, canary: Canary, metric: str, value: float, passed: bool) -> None:
        """Nothing."""

    def inc_successes(self, canary: Canary, analysis_status: str) -> None:
        """Nothing."""

    def inc_failures(self, canary: Canary, analysis_status: str) -> None:
        """Nothing."""

    def set_duration(self, canary: Canary, seconds: float) -> None:
        """Nothing."""

    def set_judge(self, canary: Canary, result: TickResult) -> None:
        """Nothing."""

    def count_error(self, canary: Canary, reason: str, metric: str = "") -> None:
        """Nothing."""


class Ledger(Protocol):
    """The run ledger (CanaryRun objects): one write per analysis step at most, of that step's records."""

    async def write(self, tick: LedgerTick) -> None:
        """Add one step to its run (opening, superseding or ending runs as `ledger.fold` says); failures are the
        ledger's to log, never the engine's."""


class NoLedger:
    """A Ledger that keeps nothing."""

    async def write(self, tick: LedgerTick) -> None:
        """Nothing."""


class Actions(Protocol):
    """The CanaryActions users created for a Canary (engine/actions.py): read each step, settled once."""

    async def of(self, canary: Canary) -> list[Action]:
        """Every action of this Canary, settled ones included (a pause holds until its resume)."""

    async def settle(self, action: Action, outcome: str, message: str) -> bool:
        """Write the outcome (status.phase, message) unless someone settled or changed the action first; True when
        this call settled it, so each action is applied exactly once."""


class NoActions:
    """No CanaryActions (the simulator, or a cluster without the CRD)."""

    async def of(self, canary: Canary) -> list[Action]:
        """None."""
        return []

    async def settle(self, action: Action, outcome: str, message: str) -> bool:
        """Nothing to settle."""
        return False


StatusChange = Callable[[Canary], CanaryStatus]


class Store(Protocol):
    """Reads Canaries and writes their status (read-modify-write, retried on conflict by the adapter)."""

    async def get(self, name: str, namespace: str) -> Canary | None:
        """The Canary as stored now, or None when it is gone."""

    async def update_status(self, name: str, namespace: str, change: StatusChange) -> Canary:
        """Apply `change` to the stored Canary's current status and write the result; return the new Canary."""

    async def set_finalizer(self, name: str, namespace: str, finalizer: str, present: bool) -> None:
        """Add or remove one finalizer of the Canary."""


class Clock(Protocol):
    """The time the engine decides by."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, for durations."""


@dataclass
class World:
    """Everything one Canary's analysis step needs, built per step by the caller."""

    target: Target
    services: ServiceRouter
    router: Router
    metrics: Metrics
    scaler: Scaler | None = None
    #: the mesh provider in effect (spec.provider or the operator's default)
    provider: str = "kubernetes"
