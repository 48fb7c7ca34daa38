"""Flagger's analysis rule, replayed exactly on simulated counts (the baseline every other rule must beat).

What Flagger does on each tick of a progressive canary (advanceCanary, rollback, runCanary and nextStepWeight in
Flagger's pkg/controller/scheduler.go, runBuiltinMetricChecks in scheduler_metrics.go), restricted to the two
built-in metrics with `thresholdRange` (the benchmark's Canary: `min: 99` success rate, `max: 500` ms p99):

* before any check, `failedChecks >= threshold` rolls back, so a rollback happens on the tick *after* the Nth
  failed check (time to rollback ≈ interval × threshold);
* the checks use the canary's own value over `metric.interval` (here the analysis interval): the success rate
  `sum(rate(non-5xx)) / sum(rate(all)) * 100` and p99 `histogram_quantile(0.99, sum by (le) (rate(bucket)))`,
  converted to whole milliseconds; no requests make both queries NaN, which is "no values found", a failed check;
* the first failing metric stops the tick and adds one to `failedChecks`, which only ever grows (passes never
  reset it);
* a passing tick below `maxWeight` advances by `stepWeight`; a passing tick at `maxWeight` promotes.

The run starts where Flagger's first analysis tick leaves it: the pre-rollout tick has set the weight to the first
step, so the first interval is served at `stepWeight`, and five passes at 10 % steps promote after five intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.judge.common import Decision, Interval, flagger_duration_ms, histogram_quantile


@dataclass(frozen=True)
class FlaggerSpec:
    """The parts of `spec.analysis` the rule reads (defaults: the benchmark's Canary)."""

    threshold: int = 5
    step_weight: int = 10
    max_weight: int = 50
    success_min: float | None = 99.0  # request-success-rate thresholdRange.min (%)
    success_max: float | None = None
    duration_max_ms: float | None = 500.0  # request-duration thresholdRange.max (ms)
    duration_min_ms: float | None = None


def success_rate(requests: float, errors: float) -> float:
    """The built-in success-rate query's value in %: NaN when the canary served nothing."""
    if requests <= 0:
        return math.nan
    return (requests - errors) / requests * 100


def check(spec: FlaggerSpec, interval: Interval) -> str:
    """Flagger's metric checks of one interval, in its order; "" when they pass, else why the tick halts."""
    canary = interval.canary
    rate = success_rate(canary.requests, canary.errors)
    if math.isnan(rate):
        return "no values found for request-success-rate"
    if spec.success_min is not None and rate < spec.success_min:
        return f"success rate {rate:.2f}% < {spec.success_min:g}%"
    if spec.success_max is not None and rate > spec.success_max:
        return f"success rate {rate:.2f}% > {spec.success_max:g}%"
    p99 = histogram_quantile(0.99, interval.bounds, canary.buckets)
    if math.isnan(p99):
        return "no values found for request-duration"
    ms = flagger_duration_ms(p99)
    if spec.duration_min_ms is not None and ms < spec.duration_min_ms:
        return f"request duration {ms}ms < {spec.duration_min_ms:g}ms"
    if spec.duration_max_ms is not None and ms > spec.duration_max_ms:
        return f"request duration {ms}ms > {spec.duration_max_ms:g}ms"
    return ""


class FlaggerRule:
    """One run of Flagger's progressive canary analysis."""

    def __init__(self, name: str, spec: FlaggerSpec | None = None) -> None:
        self.name = name
        self.spec = spec or FlaggerSpec()
        self._weight = self.spec.step_weight
        self.failed_checks = 0
        self.last_reason = ""

    @property
    def weight(self) -> int:
        """The canary's weight over the next interval."""
        return self._weight

    def step(self, interval: Interval) -> Decision:
        """One tick: the threshold check first, then the metric checks, then the weight."""
        if self.failed_checks >= self.spec.threshold:
            self.last_reason = f"failedChecks {self.failed_checks} >= threshold {self.spec.threshold}"
            return Decision.ROLLBACK
        self.last_reason = check(self.spec, interval)
        if self.last_reason:
            self.failed_checks += 1
            return Decision.FAIL
        if self._weight < self.spec.max_weight:
            self._weight = min(100, self._weight + self.spec.step_weight)
            return Decision.ADVANCE
        return Decision.PROMOTE
