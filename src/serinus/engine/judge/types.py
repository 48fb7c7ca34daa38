"""What the statistical judge reads and says: counts per interval in, a verdict and ledger lines out.

The judge is pure: no clock, no I/O. The engine (and the simulator, and the benchmark) gather the counts of one
interval for both versions, call `judge_tick` with the state the previous tick returned, and act on the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from serinus.engine.judge.state import JudgeState


class Verdict(StrEnum):
    """One tick's decision (docs/judge.md, Verdicts)."""

    FREEZE = "FREEZE"  # provider error, scrape gap or sample-ratio mismatch: change nothing, fail nothing
    ROLLBACK = "ROLLBACK"  # a FAIL e-process crossed its threshold (and its effect gate holds)
    HOLD = "HOLD"  # too little evidence: keep the weight, fail nothing
    ADVANCE = "ADVANCE"  # no FAIL evidence and traffic seen: move to the next step (below the gate)
    PROMOTE = "PROMOTE"  # every metric has PASS evidence at the gate (or the policy says so at maxHold)


@dataclass(frozen=True)
class VersionCounts:
    """What one version served over one interval, for one metric.

    `requests` and `bad` for ratio and absolute kinds (bad = 5xx, or failing the metric's own definition);
    `buckets` for histograms: cumulative (upper bound in the metric's unit, count) pairs, ascending, +Inf last
    (`float("inf")`); `value` for scalar kinds. Counts may be non-integer (Prometheus' increase() extrapolates).
    None means "no data" for that field.
    """

    requests: float | None = None
    bad: float | None = None
    buckets: tuple[tuple[float, float], ...] = ()
    value: float | None = None


@dataclass(frozen=True)
class Observation:
    """One metric over one interval, for both versions. `error` set means the provider failed (FREEZE)."""

    metric: str
    #: the test this data is for: ratio | histogram | absolute | scalar (the metrics port knows which data exists:
    #: built-in durations are histograms except where the observer has only a mean, custom metrics without
    #: count queries are scalars)
    kind: str = "ratio"
    canary: VersionCounts = field(default_factory=VersionCounts)
    primary: VersionCounts | None = None  # None with `baseline: none`
    error: str | None = None
    queries: tuple[str, ...] = ()  # the rendered queries, for the ledger
    #: why `error` is set, where the engine counts it: MALFORMED when the provider's answer was unusable (not a
    #: finite, non-negative count), UNEXPECTED when reading it raised; "" for a provider's own error
    failure: str = ""


#: Observation.failure values
MALFORMED = "malformed"
UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class Tick:
    """Where the release stands when the judge is asked."""

    at: float  # seconds (any epoch, monotonic within one run)
    window_s: float  # the interval the observations cover
    weight: int  # the canary's routing weight (percent) over that window
    at_gate: bool  # a passing tick would promote now (maxWeight reached, or the last iteration)
    mirrored: bool = False


@dataclass(frozen=True)
class LedgerLine:
    """One metric at one tick: everything a person needs to check the verdict by hand."""

    at: float
    metric: str
    verdict: Verdict
    reason: str  # one sentence, numbers included
    test: str = ""  # ratio | exceedance>250ms | absolute | sign | ...
    canary: dict[str, float] = field(default_factory=dict)  # counts so far: requests, bad, ... (and this tick's)
    primary: dict[str, float] = field(default_factory=dict)
    estimate: float | None = None  # ratio estimate (or scalar ratio)
    ci: tuple[float, float] | None = None  # anytime-valid confidence interval of the ratio
    e_fail: float = 1.0  # evidence for rollback (odds)
    fail_threshold: float = 0.0
    e_pass: float = 1.0  # evidence for promotion (odds)
    pass_threshold: float = 0.0
    phi: float = 1.0  # over-dispersion used to temper the evidence
    queries: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON form (simulate -o json "checks", status.judge ledger)."""
        out: dict[str, Any] = {
            "at": self.at,
            "metric": self.metric,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "test": self.test,
            "canary": self.canary,
            "primary": self.primary,
            "eFail": self.e_fail,
            "failThreshold": self.fail_threshold,
            "ePass": self.e_pass,
            "passThreshold": self.pass_threshold,
            "phi": self.phi,
        }
        if self.estimate is not None:
            out["estimate"] = self.estimate
        if self.ci is not None:
            out["ci"] = list(self.ci)
        if self.queries:
            out["queries"] = list(self.queries)
        return out


@dataclass(frozen=True)
class TickResult:
    """The verdict of one tick, why, and the state to pass to the next tick."""

    verdict: Verdict
    reason: str  # one sentence for the event
    lines: tuple[LedgerLine, ...]
    state: JudgeState  # for the next tick; the engine keeps it in status.judge.state (`state.encode_state`)
    #: HOLD: the predicted time to a decision at current traffic, in seconds (None when unknown)
    predicted_s: float | None = None
    #: set when maxHold ran out and onInconclusive decided (flagger | rollback | promote | pause)
    policy: str = ""
