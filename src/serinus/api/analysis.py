"""`spec.analysis`: the schedule, traffic steps, metrics, webhooks, alerts and session affinity of a release."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field

from serinus.api.base import GO_INT64, ApiModel, Crd, IntNumber
from serinus.api.duration import SECOND, DurationError, parse_duration
from serinus.api.istio import AnalysisMatch
from serinus.api.judge import AnalysisJudge, MetricJudge
from serinus.api.refs import CrossNamespaceRef

#: Flagger's CRD pattern for analysis, metric and webhook intervals. Unanchored at the end: `1m30s` passes, `1h`
#: does not.
INTERVAL_PATTERN = "^[0-9]+(m|s)"
Interval = Annotated[str, Crd(pattern=INTERVAL_PATTERN)]

DEFAULT_INTERVAL_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 10.0
DEFAULT_THRESHOLD = 1
MAX_WEIGHT = 100
DEFAULT_READY_THRESHOLD = 100
DEFAULT_METRIC_INTERVAL = "1m"
DEFAULT_WEBHOOK_TIMEOUT = "10s"
DEFAULT_COOKIE_MAX_AGE = 86400

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"
BUILTIN_METRICS = (REQUEST_SUCCESS_RATE, REQUEST_DURATION)


class DeploymentStrategy(StrEnum):
    """The release strategy a Canary's analysis implies."""

    CANARY = "canary"
    BLUE_GREEN = "blue-green"
    AB_TESTING = "ab-testing"


class HookType(StrEnum):
    """When a webhook is called; empty means rollout."""

    UNSET = ""
    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ROLLOUT = "rollout"
    CONFIRM_PROMOTION = "confirm-promotion"
    POST_ROLLOUT = "post-rollout"
    EVENT = "event"
    ROLLBACK = "rollback"
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"


class AlertSeverity(StrEnum):
    """The least severe alert a provider receives; empty is documented as info."""

    UNSET = ""
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class SameSite(StrEnum):
    """SameSite attribute of the session affinity cookie."""

    STRICT = "Strict"
    LAX = "Lax"
    NONE = "None"


class ThresholdRange(ApiModel):
    """The range a metric value must stay in; either bound may be left open."""

    min: float | None = Field(default=None, description="Lowest accepted value.")
    max: float | None = Field(default=None, description="Highest accepted value.")


class CanaryMetric(ApiModel):
    """One metric check of the analysis (`spec.analysis.metrics[]`)."""

    name: str = Field(description="Metric name; request-success-rate and request-duration are built in.")
    interval: Interval = Field(default="", description="Query window, e.g. 1m; 1m for built-ins and queries if unset.")
    threshold: float = Field(default=0.0, description="Deprecated: max accepted value (min for success rate).")
    threshold_range: ThresholdRange | None = Field(default=None, description="Accepted range of the value.")
    query: str = Field(default="", description="Deprecated: inline Prometheus query.")
    template_ref: CrossNamespaceRef | None = Field(default=None, description="MetricTemplate to run.")
    template_variables: dict[str, str] = Field(
        default_factory=dict, description="Values for {{ variables.<key> }} in the template's query."
    )
    judge: MetricJudge | None = Field(default=None, description="Serinus: the statistical test of this metric.")

    def is_builtin(self) -> bool:
        """True for request-success-rate and request-duration."""
        return self.name in BUILTIN_METRICS

    def interval_or_default(self) -> str:
        """The query window: 1m for built-ins and inline queries when unset; a templateRef metric's as written.

        Flagger does not default a templateRef metric's interval (`{{ interval }}` renders empty); kept as is.
        """
        if self.interval or self.template_ref is not None:
            return self.interval
        return DEFAULT_METRIC_INTERVAL


class CanaryWebhook(ApiModel):
    """One webhook of the analysis (`spec.analysis.webhooks[]`)."""

    name: str = Field(description="Name of the webhook.")
    type: HookType = Field(default=HookType.UNSET, description="When it is called; rollout if unset.")
    url: str = Field(description="URL the payload is POSTed to.")
    timeout: Interval = Field(default="", description="Timeout of each attempt; 10s if unset.")
    retries: IntNumber = Field(default=0, description="Retries on connection errors, 5xx (but 501) and 429.")
    disable_tls: bool = Field(default=False, alias="disableTLS", description="Skip TLS certificate verification.")
    mute_alert: bool = Field(default=False, description="Mute the waiting-for-approval alerts of confirm hooks.")
    metadata: dict[str, str] | None = Field(default=None, description="Sent as metadata in the payload.")

    def effective_type(self) -> HookType:
        """The hook type, with an empty type meaning rollout."""
        return self.type or HookType.ROLLOUT

    def timeout_or_default(self) -> str:
        """The timeout text; 10s when shorter than two characters, as Flagger does."""
        return self.timeout if len(self.timeout) >= 2 else DEFAULT_WEBHOOK_TIMEOUT

    def timeout_seconds(self) -> float:
        """The per-attempt timeout in seconds; raises DurationError when it is not a Go duration."""
        return parse_duration(self.timeout_or_default()) / SECOND


class CanaryAlert(ApiModel):
    """An alert route of the analysis (`spec.analysis.alerts[]`)."""

    name: str = Field(description="Name of the alert.")
    severity: AlertSeverity = Field(default=AlertSeverity.UNSET, description="Least severe alert sent: info if unset.")
    provider_ref: CrossNamespaceRef = Field(description="AlertProvider that delivers the alert.")


class SessionAffinity(ApiModel):
    """Cookie-based stickiness to the canary (and optionally the primary) during a weighted run."""

    cookie_name: str = Field(description="Name of the canary cookie.")
    primary_cookie_name: str = Field(
        default="", description="Name of the primary cookie; no primary stickiness if unset."
    )
    domain: str = Field(default="", description="Domain attribute of the cookie.")
    http_only: bool = Field(default=False, description="HttpOnly attribute of the cookie.")
    max_age: Annotated[int, Crd(type="number", emit_default=True), GO_INT64] = Field(
        default=DEFAULT_COOKIE_MAX_AGE, description="Max-Age of the canary cookie in seconds."
    )
    partitioned: bool = Field(default=False, description="Partitioned attribute of the cookie.")
    path: str = Field(default="", description="Path attribute of the cookie.")
    same_site: SameSite | None = Field(default=None, description="SameSite attribute of the cookie.")
    secure: bool = Field(default=False, description="Secure attribute of the cookie.")

    def max_age_seconds(self) -> int:
        """Max-Age of the canary cookie: maxAge, or 86400 when zero (Flagger's GetMaxAge)."""
        return self.max_age if self.max_age != 0 else DEFAULT_COOKIE_MAX_AGE

    def build_cookie(self, cookie: str, max_age: int) -> str:
        """A Set-Cookie value with this affinity's attributes, in Flagger's attribute order."""
        parts = [f"{cookie}; Max-Age={max_age}"]
        if self.domain:
            parts.append(f"; Domain={self.domain}")
        if self.http_only:
            parts.append("; HttpOnly")
        if self.partitioned:
            parts.append("; Partitioned")
        if self.path:
            parts.append(f"; Path={self.path}")
        if self.same_site:
            parts.append(f"; SameSite={self.same_site.value}")
        if self.secure:
            parts.append("; Secure")
        return "".join(parts)


class CanaryAnalysis(ApiModel):
    """How a release is judged and how traffic moves (`spec.analysis`)."""

    crd_extra: ClassVar[Mapping[str, Any]] = {
        "oneOf": [{"required": ["interval", "threshold", key]} for key in ("iterations", "stepWeight", "stepWeights")]
    }

    interval: Interval = Field(default="", description="Time between analysis steps; at least 10s, 60s if unset.")
    iterations: IntNumber = Field(default=0, description="Number of checks for A/B testing and blue/green.")
    threshold: IntNumber = Field(default=0, description="Failed checks that trigger a rollback; 1 if not positive.")
    max_weight: IntNumber = Field(default=0, description="Canary weight at which promotion starts; 100 if unset.")
    step_weight: IntNumber = Field(default=0, description="Canary weight added at each step.")
    step_weights: list[IntNumber] = Field(default_factory=list, description="Canary weights of each step, ascending.")
    step_weight_promotion: IntNumber = Field(
        default=0, description="Weight moved back to the primary at each promotion step; all at once if unset."
    )
    mirror: bool = Field(default=False, description="Mirror traffic to the canary before shifting it.")
    mirror_weight: IntNumber = Field(default=0, description="Percentage of traffic mirrored (0-100); all if unset.")
    primary_ready_threshold: IntNumber | None = Field(
        default=None, description="Percentage of primary pods that must be available; 100 if unset."
    )
    canary_ready_threshold: IntNumber | None = Field(
        default=None, description="Percentage of canary pods that must be available; 100 if unset."
    )
    match: list[AnalysisMatch] = Field(
        default_factory=list, description="A/B conditions that send requests to the canary."
    )
    metrics: list[CanaryMetric] = Field(default_factory=list, description="Metric checks run at every step.")
    judge: AnalysisJudge | None = Field(
        default=None, description="Serinus: how the release is judged; Flagger's threshold rule if unset."
    )
    webhooks: list[CanaryWebhook] = Field(default_factory=list, description="Webhooks: gates, checks and event sinks.")
    alerts: list[CanaryAlert] = Field(default_factory=list, description="Where this canary's alerts go.")
    session_affinity: SessionAffinity | None = Field(
        default=None, description="Sticky sessions to the canary during a weighted run."
    )

    def interval_seconds(self) -> float:
        """The analysis period: 60s if unset or not a Go duration, never below 10s (GetAnalysisInterval)."""
        if not self.interval:
            return DEFAULT_INTERVAL_SECONDS
        try:
            seconds = parse_duration(self.interval) / SECOND
        except DurationError:
            return DEFAULT_INTERVAL_SECONDS
        return max(seconds, MIN_INTERVAL_SECONDS)

    def effective_threshold(self) -> int:
        """Failed checks before rollback: threshold, or 1 when it is not positive (GetAnalysisThreshold)."""
        return self.threshold if self.threshold > 0 else DEFAULT_THRESHOLD

    def effective_max_weight(self) -> int:
        """The weight that ends the canary steps: min(100, last step weight) with stepWeights, else maxWeight or 100."""
        if self.step_weights:
            return min(MAX_WEIGHT, self.step_weights[-1])
        return self.max_weight if self.max_weight > 0 else MAX_WEIGHT

    def effective_primary_ready_threshold(self) -> int:
        """Percentage of primary pods that must be available (100 if unset)."""
        return DEFAULT_READY_THRESHOLD if self.primary_ready_threshold is None else self.primary_ready_threshold

    def effective_canary_ready_threshold(self) -> int:
        """Percentage of canary pods that must be available (100 if unset)."""
        return DEFAULT_READY_THRESHOLD if self.canary_ready_threshold is None else self.canary_ready_threshold

    def deployment_strategy(self) -> DeploymentStrategy:
        """ab-testing with match and iterations, blue-green with iterations, else canary (DeploymentStrategy)."""
        if self.match and self.iterations > 0:
            return DeploymentStrategy.AB_TESTING
        if self.iterations > 0:
            return DeploymentStrategy.BLUE_GREEN
        return DeploymentStrategy.CANARY

    def webhooks_of(self, hook_type: HookType) -> list[CanaryWebhook]:
        """The webhooks of one type in spec order (an empty type counts as rollout)."""
        return [hook for hook in self.webhooks if hook.effective_type() == hook_type]
