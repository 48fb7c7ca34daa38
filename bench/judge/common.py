"""What every rule of the judge benchmark reads and says, and the statistics they share.

The benchmark feeds every rule the same thing: for each analysis interval, the counts Prometheus would return for
the canary and the primary (requests, 5xx errors, cumulative latency buckets) and the weight the canary served at.
A rule answers with one decision per interval. Rules are per-run Python objects (`Rule`), so a cell of the matrix
steps each run's own rule while the generator is vectorised over the runs.

The helpers are the pieces several rules share and that must match their originals exactly: Prometheus'
`histogram_quantile`, Flagger's conversion of a query value to a duration, and the Wilson score interval used for
every reported share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from serinus.engine.judge.evidence import histogram_quantile as engine_histogram_quantile
from serinus.sim.traffic.spec import ISTIO_BOUNDS_MS as SIM_ISTIO_BOUNDS_MS

#: Istio's request-duration bucket bounds in ms (`istio_request_duration_milliseconds_bucket`), +Inf last: the
#: simulator's table, so the benchmark and `serinus simulate` bucket latencies alike.
ISTIO_BOUNDS_MS: tuple[float, ...] = (*SIM_ISTIO_BOUNDS_MS, math.inf)


class Decision(StrEnum):
    """A rule's answer for one interval."""

    ADVANCE = "advance"  # the interval passed: the weight moves to the next step
    HOLD = "hold"  # keep the weight, nothing failed for good (the statistical judge's HOLD/FREEZE)
    FAIL = "fail"  # a failed check: keep the weight, count it (Flagger's Halt with failedChecks+1)
    ROLLBACK = "rollback"
    PROMOTE = "promote"


@dataclass(frozen=True, slots=True)
class Counts:
    """What one version served over one interval: requests, 5xx errors and cumulative bucket counts.

    `buckets[i]` is the number of requests not slower than `bounds[i]` of the interval (the last bound is +Inf, so
    the last count is `requests`). Counts are what `increase()` over exactly the interval returns.
    """

    requests: float
    errors: float
    buckets: tuple[float, ...]

    def slower_than(self, bounds: tuple[float, ...], bound: float) -> float:
        """Requests slower than `bound` (which must be one of `bounds`): `count - bucket(le=bound)`, exact."""
        return self.requests - self.buckets[bounds.index(bound)]


@dataclass(frozen=True, slots=True)
class Interval:
    """One analysis interval of one run, as every rule sees it."""

    index: int  # 1 for the first interval after the canary got traffic
    minute: float  # the end of the interval, in minutes since the canary got traffic
    weight: int  # the canary's routing weight over the interval (percent)
    bounds: tuple[float, ...]  # the histogram's bucket bounds (ms), +Inf last
    canary: Counts
    primary: Counts


class Rule(Protocol):
    """A rule under test for one run: it owns the canary's weight and decides once per interval."""

    name: str

    @property
    def weight(self) -> int:
        """The weight the canary serves at over the next interval."""
        ...

    def step(self, interval: Interval) -> Decision:
        """Decide on one interval (served at `self.weight`); afterwards `weight` is the next interval's weight."""
        ...


def histogram_quantile(q: float, bounds: tuple[float, ...], cumulative: tuple[float, ...]) -> float:
    """Prometheus' `histogram_quantile(q, ...)` over classic buckets (promql `bucketQuantile`), NaN for no data.

    The engine's own `serinus.engine.judge.evidence.histogram_quantile` (the one the judge's Flagger replay uses)
    on the bench's (bounds, cumulative counts) layout: linear interpolation inside the bucket that holds the rank,
    the first bucket starting at 0, a rank in the +Inf bucket giving the highest finite bound, NaN without
    observations or without a +Inf bucket. What the engine leaves to the metrics port is done here as Prometheus
    does it: q outside [0, 1], and bucket counts made monotonic first.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(bounds) != len(cumulative):
        return math.nan
    counts = list(cumulative)
    for i in range(1, len(counts)):  # ensureMonotonic: a count below its predecessor is raised to it
        if counts[i] < counts[i - 1]:
            counts[i] = counts[i - 1]
    return engine_histogram_quantile(q, tuple(zip(bounds, counts, strict=True)))


def flagger_duration_ms(value: float) -> int:
    """Flagger's conversion of a duration query's value: `time.Duration(int64(value)) * time.Millisecond`.

    The fraction is truncated toward zero (Go's float-to-int conversion), so 500.9 ms reads as 500 ms.
    """
    return int(value)


def wilson(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) for a share `successes/trials`; (0, 1) for no trials."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)
