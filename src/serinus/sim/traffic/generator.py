"""The closed-loop generator: counts per sub-interval for the weights the engine sets, and windows over them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from serinus.sim.traffic.model import CANARY, PRIMARY, TrafficModel, VersionModel
from serinus.sim.traffic.samplers import (
    FloatArray,
    IntArray,
    binomial_ppf,
    bucket_model,
    multinomial_ppf,
    poisson_ppf,
)

# ----- generated data -----


@dataclass(frozen=True)
class SubInterval:
    """What both versions served in [t0, t0 + dt), per run. Axis 0 is the version (PRIMARY, CANARY), axis 1 the
    run; `buckets` is cumulative over its last axis (the K bounds of the generator, +Inf last)."""

    t0: float
    dt: float
    shares: FloatArray
    requests: IntArray
    errors: IntArray
    buckets: IntArray
    latency_sum_ms: FloatArray
    gap: bool = False
    provider_error: bool = False


@dataclass(frozen=True)
class Window:
    """Sums over consecutive sub-intervals: the counts a query over [start, end) reads."""

    start: float
    end: float
    bounds: FloatArray
    requests: IntArray
    errors: IntArray
    buckets: IntArray
    latency_sum_ms: FloatArray
    #: a scrape gap touched the window: its data is missing
    missing: bool = False
    #: the provider fails when the window is read (its last sub-interval is in a providerErrors span)
    provider_error: bool = False

    @classmethod
    def of(cls, subs: Sequence[SubInterval], bounds: FloatArray) -> Window:
        """The sum of `subs` (at least one, consecutive)."""
        if not subs:
            raise ValueError("a window needs at least one sub-interval")
        return cls(
            start=subs[0].t0,
            end=subs[-1].t0 + subs[-1].dt,
            bounds=bounds,
            requests=np.sum([s.requests for s in subs], axis=0),
            errors=np.sum([s.errors for s in subs], axis=0),
            buckets=np.sum([s.buckets for s in subs], axis=0),
            latency_sum_ms=np.sum([s.latency_sum_ms for s in subs], axis=0),
            missing=any(s.gap for s in subs),
            provider_error=subs[-1].provider_error,
        )

    def success_rate(self, version: int = CANARY) -> FloatArray:
        """100 · non-5xx / all per run, NaN without requests (Flagger's request-success-rate)."""
        n = self.requests[version].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, 100.0 * (n - self.errors[version]) / np.where(n > 0, n, 1), np.nan)

    def quantile(self, q: float = 0.99, version: int = CANARY) -> FloatArray:
        """histogram_quantile(q) per run, in ms, NaN without requests (Flagger's request-duration)."""
        return histogram_quantile(q, self.bounds, self.buckets[version])


def histogram_quantile(q: float, bounds: FloatArray, cumulative: npt.ArrayLike) -> FloatArray:
    """Prometheus' histogram_quantile over the last axis: linear interpolation inside the bucket holding rank
    q·count (from 0 in the first bucket), the highest finite bound when that is the +Inf bucket, NaN without
    observations. `bounds` has K entries (+Inf last); `cumulative` has shape (..., K)."""
    cum = np.asarray(cumulative, dtype=np.float64)
    bounds = np.asarray(bounds, dtype=np.float64)
    k = bounds.shape[0]
    total = cum[..., -1]
    if q < 0:
        return np.full(total.shape, -np.inf)
    if q > 1:
        return np.full(total.shape, np.inf)
    rank = q * total
    ge = cum[..., :-1] >= rank[..., None]
    b = np.where(ge.any(axis=-1), ge.argmax(axis=-1), k - 1)
    prev = np.where(b > 0, np.take_along_axis(cum, np.maximum(b - 1, 0)[..., None], axis=-1)[..., 0], 0.0)
    here = np.take_along_axis(cum, b[..., None], axis=-1)[..., 0]
    lower = np.where(b > 0, bounds[np.maximum(b - 1, 0)], 0.0)
    upper = bounds[b]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = lower + (upper - lower) * (rank - prev) / (here - prev)
    value = np.where(b == k - 1, bounds[k - 2], value)
    return np.where(total > 0, value, np.nan)


#: sticky clients' (fraction, size), one for all runs or per run
_StickyArgs = tuple[float | FloatArray, int | IntArray]


def _as_runs(value: float | npt.ArrayLike, runs: int) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(arr, (runs,)).astype(np.float64)


class Generator:
    """Generates the traffic of `model` for `runs` independent runs, one sub-interval at a time (docs/simulate.md,
    The generator)."""

    def __init__(self, model: TrafficModel, runs: int = 1) -> None:
        if runs < 1:
            raise ValueError("runs must be at least 1")
        self.model = model
        self.runs = runs
        self.dt = model.sub_interval
        self.bounds: FloatArray = np.array([*model.bounds_ms, math.inf])
        self.k = len(self.bounds)
        self._noise: tuple[int, FloatArray] | None = None
        self._bursts: tuple[int, FloatArray] | None = None
        #: the distinct aboveWeight thresholds of the changes, ascending
        self._thresholds: FloatArray = np.array(
            sorted({c.above_weight for c in model.changes if c.above_weight is not None}), dtype=np.float64
        )

    def index(self, t0: float) -> int:
        """The number of the sub-interval starting at `t0`."""
        return math.floor(t0 / self.dt + 1e-9)

    def noise(self, t0: float) -> FloatArray:
        """The error-rate factors in effect at `t0`, shape (2, runs): shared factor × blip × the version's own."""
        j = math.floor(t0 / self.model.noise_interval + 1e-9)
        if self._noise is not None and self._noise[0] == j:
            return self._noise[1]
        m, runs = self.model, self.runs
        factors = np.ones((2, runs))
        if m.shared_sigma or m.blip_probability:
            rng = np.random.default_rng([m.seed, 1, j])
            z, u = rng.standard_normal(runs), rng.random(runs)
            shared = np.exp(m.shared_sigma * z - m.shared_sigma**2 / 2) if m.shared_sigma else np.ones(runs)
            if m.blip_probability:
                shared = np.where(u < m.blip_probability, shared * m.blip_multiplier, shared)
            factors *= shared
        if m.overdispersion:
            for v in (PRIMARY, CANARY):
                z = np.random.default_rng([m.seed, 2, j, v]).standard_normal(runs)
                factors[v] *= np.exp(m.overdispersion * z - m.overdispersion**2 / 2)
        self._noise = (j, factors)
        return factors

    def bursts(self, t0: float) -> FloatArray:
        """The traffic factor in effect at `t0`, shape (runs,): the burst multiplier in a burst, else 1. From its
        own stream keyed by (seed, 3, noise interval), so blips and bursts are independent."""
        j = math.floor(t0 / self.model.noise_interval + 1e-9)
        if self._bursts is not None and self._bursts[0] == j:
            return self._bursts[1]
        m = self.model
        factors = np.ones(self.runs)
        if m.burst_probability:
            u = np.random.default_rng([m.seed, 3, j]).random(self.runs)
            factors = np.where(u < m.burst_probability, m.burst_multiplier, 1.0)
        self._bursts = (j, factors)
        return factors

    def step(
        self,
        t0: float,
        canary_share: float | npt.ArrayLike,
        primary_share: float | npt.ArrayLike | None = None,
        *,
        canary_started: float | npt.ArrayLike | None = None,
        primary_started: float | npt.ArrayLike | None = None,
    ) -> SubInterval:
        """Generate [t0, t0 + dt) with the canary at `canary_share` of the traffic (a fraction, per run) and the
        primary at the rest, or at `primary_share` when given (mirroring). `*_started`: when the version last
        scaled up (its latency is multiplied by the warm-up multiplier for the warm-up duration after it). Changes
        with aboveWeight apply to the runs whose canary share (after srm) reaches it."""
        m, runs, dt = self.model, self.runs, self.dt
        i = self.index(t0)
        canary = np.clip(_as_runs(canary_share, runs) * m.srm, 0.0, 1.0)
        primary = 1.0 - canary if primary_share is None else np.clip(_as_runs(primary_share, runs), 0.0, 1.0)
        shares = np.stack([primary, canary])
        rate: float | FloatArray = m.rps * m.rate_factor(t0 + dt / 2) * dt
        if m.burst_probability:
            rate = rate * self.bursts(t0)
        versions = m.versions_at(t0)
        # aboveWeight: the canary's model per run, by how many thresholds its share reaches
        options: list[VersionModel] | None = None
        pick: IntArray | None = None
        if self._thresholds.size:
            regime = np.searchsorted(self._thresholds, shares[CANARY], side="right")
            present = np.unique(regime)
            options = [
                m.versions_at(t0, canary_share=float(self._thresholds[k - 1]))[CANARY] if k else versions[CANARY]
                for k in present
            ]
            if len(options) == 1:
                versions, options = (versions[PRIMARY], options[0]), None
            else:
                pick = np.searchsorted(present, regime)
        noise = self.noise(t0)
        started = (primary_started, canary_started)
        requests = np.empty((2, runs), dtype=np.int64)
        errors = np.empty((2, runs), dtype=np.int64)
        buckets = np.empty((2, runs, self.k), dtype=np.int64)
        latency_sum = np.empty((2, runs))
        for v in (PRIMARY, CANARY):
            uniforms = np.random.default_rng([m.seed, 0, i, v]).random((runs, 1 + self.k))
            n = poisson_ppf(uniforms[:, 0], rate * shares[v])
            requests[v] = n
            warm = self._warming(t0, started[v])
            if v == CANARY and options is not None:
                p, probs, means, sticky = self._per_run(options, pick, noise[v], warm)
            else:
                p, probs, means, sticky = self._per_run((versions[v],), None, noise[v], warm)
            if sticky is None:
                errors[v] = binomial_ppf(uniforms[:, 1], n, p)
            else:
                errors[v] = self._sticky_errors(uniforms[:, 1], n, p, sticky, i, v)
            counts = multinomial_ppf(uniforms[:, 2:], n, probs)
            buckets[v] = np.cumsum(counts, axis=-1)
            latency_sum[v] = (counts * means).sum(axis=-1)
        return SubInterval(
            t0=t0,
            dt=dt,
            shares=shares,
            requests=requests,
            errors=errors,
            buckets=buckets,
            latency_sum_ms=latency_sum,
            gap=m.in_gap(t0, t0 + dt),
            provider_error=m.provider_error_at(t0, t0 + dt),
        )

    def _per_run(
        self,
        options: Sequence[VersionModel],
        pick: IntArray | None,
        noise: FloatArray,
        warm: npt.NDArray[np.bool_] | None,
    ) -> tuple[FloatArray, FloatArray, FloatArray, _StickyArgs | None]:
        """Error rate, bucket probabilities and means, and sticky clients, run r taking the version
        options[pick[r]]; with `pick` None, options[0] for every run (its tables broadcast, not copied per run)."""
        bounds = tuple(float(b) for b in self.model.bounds_ms)

        def per_run(values: Any) -> Any:
            return values[0] if pick is None else values[pick]

        p = np.clip(per_run(np.array([o.error_rate for o in options])) * noise, 0.0, 1.0)
        tables = [bucket_model(bounds, o.latency) for o in options]
        probs = per_run(np.stack([t[0] for t in tables]))
        means = per_run(np.stack([t[1] for t in tables]))
        if warm is not None and warm.any():
            tables = [bucket_model(bounds, o.latency, self.model.warmup_multiplier) for o in options]
            probs = np.where(warm[:, None], per_run(np.stack([t[0] for t in tables])), probs)
            means = np.where(warm[:, None], per_run(np.stack([t[1] for t in tables])), means)
        sticky: _StickyArgs | None = None
        if any(o.sticky is not None and o.sticky.fraction for o in options):
            sticky = (
                per_run(np.array([o.sticky.fraction if o.sticky is not None else 0.0 for o in options])),
                per_run(np.array([o.sticky.size if o.sticky is not None else 1 for o in options], dtype=np.int64)),
            )
        return p, probs, means, sticky

    def _sticky_errors(
        self, u: FloatArray, n: IntArray, p: FloatArray, sticky: _StickyArgs, i: int, v: int
    ) -> IntArray:
        """Errors with sticky clients: Binomial(n, p·(1 - fraction)) independent ones from the run's usual
        uniform, plus `size` per cluster, Binomial(n, p·fraction / size) clusters from a uniform of the stream
        keyed by (seed, 4, sub-interval, version); at most n."""
        fraction, size = sticky
        independent = binomial_ppf(u, n, p * (1.0 - np.asarray(fraction)))
        uc = np.random.default_rng([self.model.seed, 4, i, v]).random(self.runs)
        clusters = binomial_ppf(uc, n, p * np.asarray(fraction) / np.asarray(size))
        return np.minimum(independent + np.asarray(size, dtype=np.int64) * clusters, n).astype(np.int64)

    def _warming(self, t0: float, started: float | npt.ArrayLike | None) -> npt.NDArray[np.bool_] | None:
        m = self.model
        if started is None or not m.warmup_duration or m.warmup_multiplier == 1.0:
            return None
        since = _as_runs(started, self.runs)
        return (since <= t0) & (t0 < since + m.warmup_duration)


class History:
    """The sub-intervals generated so far for one set of runs, and windows over them."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.subs: list[SubInterval] = []

    @property
    def end(self) -> float:
        """Where the generated time ends."""
        return self.subs[-1].t0 + self.subs[-1].dt if self.subs else 0.0

    def add(self, sub: SubInterval) -> None:
        """Append the next sub-interval."""
        self.subs.append(sub)

    def window(self, end: float, length: float) -> Window | None:
        """The sub-intervals that end at or before `end` and start at or after `end - length` (at least one when
        `length` is shorter than a sub-interval), or None when there are none."""
        dt = self.generator.dt
        last = min(math.floor(end / dt + 1e-9), len(self.subs))
        count = max(1, math.floor(length / dt + 1e-9))
        first = max(0, last - count)
        if last <= first:
            return None
        return Window.of(self.subs[first:last], self.generator.bounds)
