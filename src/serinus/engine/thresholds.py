"""Is a metric value acceptable? Flagger's three rules (pkg/controller/scheduler_metrics.go runBuiltinMetricChecks
and runMetricChecks), as pure functions."""

from __future__ import annotations

from enum import StrEnum

from serinus.api import ThresholdRange


class MetricKind(StrEnum):
    """Which of Flagger's rules judges a metric's value."""

    SUCCESS_RATE = "success-rate"  # built-in request-success-rate: a percentage that must stay high
    DURATION_MS = "duration-ms"  # built-in request-duration: milliseconds that must stay low
    CUSTOM = "custom"  # templates and inline queries


def within(kind: MetricKind, value: float, threshold_range: ThresholdRange | None, threshold: float) -> bool:
    """True when `value` passes: inside thresholdRange when given, else against the deprecated threshold
    (a floor for the success rate, a ceiling for everything else)."""
    if threshold_range is not None:
        if threshold_range.min is not None and value < threshold_range.min:
            return False
        return not (threshold_range.max is not None and value > threshold_range.max)
    if kind is MetricKind.SUCCESS_RATE:
        return not threshold > value
    return not value > threshold


def describe(threshold_range: ThresholdRange | None, threshold: float, kind: MetricKind) -> str:
    """The accepted values in words, e.g. `>= 99`, `<= 500`, `90..110`."""
    if threshold_range is not None:
        low, high = threshold_range.min, threshold_range.max
        if low is not None and high is not None:
            return f"{low:g}..{high:g}"
        if low is not None:
            return f">= {low:g}"
        if high is not None:
            return f"<= {high:g}"
        return "any"
    return f">= {threshold:g}" if kind is MetricKind.SUCCESS_RATE else f"<= {threshold:g}"
