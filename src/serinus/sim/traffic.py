"""Synthetic request traffic for the simulator and the judge benchmark: counts, errors and latency histograms.

The scenario's `traffic:` block (docs/simulate.md, Traffic) describes two versions serving requests; the generator
turns it into what Prometheus would hold, per time step and per version: request counts, 5xx counts and cumulative
latency bucket counts. It is closed-loop: the caller says, every step, which share of the traffic the canary gets
(the routing weight its rule set), so the traffic follows the decisions.

```yaml
traffic:
  rps: 20                      # total requests per second, split by the routing weights
  seed: 7                      # the same seed gives the same requests
  subInterval: 10s             # time step (default 10s)
  primary: {errorRate: 0.001, latency: {median: 80ms, sigma: 0.5, tail: {fraction: 0.02, add: 800ms}}}
  canary: {errorRate: 0.005}   # fields left out are the primary's
  # primary/canary (and change overrides) may also set:
  #   errorDrift: 0.0001         # the error rate grows by 0.01 pp a minute (absolute; may be negative)
  #   sticky: {fraction: 0.5, size: 10}   # half the errors come in clusters of 10 from one client
  buckets: [0.5, 1, 5, ...]    # histogram bounds in ms (+Inf is added; default Istio's)
  diurnal: {amplitude: 0.3, period: 24h, phase: 0s}   # rps x (1 + amplitude sin(2 pi (t + phase) / period))
  noiseInterval: 1m            # how long each draw of the noise below holds (default 1m)
  sharedSigma: 0.3             # a lognormal factor (mean 1) on both versions' error rates, per noise interval
  blips: {probability: 0.02, multiplier: 15}   # a shared error blip, per noise interval
  bursts: {probability: 0.05, multiplier: 4}   # a traffic burst (rps x4, both versions), per noise interval
  overdispersion: 0.5          # an independent lognormal factor (mean 1) per version, per noise interval
  srm: 2                       # sample-ratio fault: the canary gets 2x its weight
  warmup: {multiplier: 3, duration: 1m}        # latency x3 for 1m after a version scales up
  gaps: [{at: 5m, until: 6m}]                  # scrape gaps: windows touching them have no data
  providerErrors: [{at: 8m, until: 9m}]        # the metrics provider answers with an error
  changes:                     # from `at` (until `until`) override fields of canary, primary or both (shared)
    - {at: 6m, canary: {errorRate: 0.005}}
    - {at: 10m, until: 13m, shared: {errorRate: 0.05, latency: {median: 200ms}}}
    - {at: 15m, ramp: 5m, canary: {latency: {median: 160ms}}}   # 80ms at 15m, 120ms at 17m30s, 160ms from 20m
    - {at: 25m, aboveWeight: 0.3, canary: {errorRate: 0.02}}    # only while the canary serves >= 30 %
    - {at: 20m, shared: {errorDrift: 0.0002}}                   # both rates rise from 20m on
```

`bursts`: per noise interval and run, with chance `probability` the whole traffic (both versions' requests) is
`multiplier` times higher for that noise interval; drawn independently of the error blips.

`sticky: {fraction: F, size: K}` (per version): a share F of the version's errors come in clusters of K errors
(one client retrying, within one sub-interval). Errors = Binomial(n, p·(1 - F)) independent ones plus K ×
Binomial(n, p·F / K) clusters, at most the n requests: the mean stays n·p (short of that cap), the variance grows
about 1 + F·(K - 1) times.

`errorDrift: D` (per version): the error rate changes by D (an absolute share) per minute, counted from t = 0 for
`primary`/`canary` and from `at` for a change's override; the rate is clamped to [0, 1]. A change that sets
`errorRate` restarts the rate there and the drift in effect (its own `errorDrift`, else the one before) goes on
from its `at`; a change that sets only `errorDrift` continues from the rate reached at its `at`.

`ramp: <duration>` (per change): the numeric fields the change sets (errorRate, latency median, sigma, tail
fraction and add) move linearly from the values in effect just before `at` to the new ones over the ramp, instead
of stepping at `at`; `errorDrift` and `sticky` still start at `at`. A change applies its overrides after the
earlier ones (by `at`) that are still in effect; once it ends (`until`) the others are as if it had never been.

`aboveWeight: W` (per change, 0 < W <= 1, with a `canary` override only): the change applies to the canary only in
the sub-intervals (and runs) where the canary's share of the traffic (its routing weight, times `srm`) is at least
W: a regression that shows only under load.

Values that move (drift, ramps) are taken at the start of each sub-interval, like the changes' steps.

Python API (the benchmark and the tests code against it):

* `TrafficModel.parse(raw, where="traffic") -> TrafficModel`; raises ScenarioError naming the field.
* `Generator(model, runs=1)`: `runs` independent replications, vectorised. `gen.bounds` (K bounds in ms, +Inf last);
  `gen.noise(t0)` (2, runs) and `gen.bursts(t0)` (runs,) are the error-rate and traffic factors in effect.
* `model.versions_at(t, *, canary_share=None) -> (primary, canary)`: the VersionModels in effect at t (changes,
  drift and ramps applied; changes with aboveWeight only when `canary_share` is given and reaches it).
* `gen.step(t0, canary_share, primary_share=None, *, canary_started=None, primary_started=None) -> SubInterval`
  generates the sub-interval [t0, t0 + dt). `canary_share` is the canary's routing weight as a fraction, a float
  or an array of shape (runs,); the primary gets the rest (`primary_share` overrides that, for mirroring, where
  both serve). `*_started` is when that version last scaled up (float or (runs,)), for the warm-up.
* `SubInterval`: `requests[v, r]`, `errors[v, r]` (int64), `buckets[v, r, K]` (cumulative, int64),
  `latency_sum_ms[v, r]`, `shares[v, r]`, and the telemetry flags `gap` / `provider_error`; v is PRIMARY (0) or
  CANARY (1).
* `Window.of(subs)` sums consecutive sub-intervals (`missing` when any is in a gap, `provider_error` from the
  last); `window.success_rate(v)` (percent, NaN without requests) and `window.quantile(q, v)` (ms, Prometheus'
  histogram_quantile) give what Flagger's built-in queries return.
* `History(gen)` keeps the sub-intervals of a run: `history.add(sub)`, `history.window(end, length)`.
* `histogram_quantile(q, bounds, cumulative)` is Prometheus' function, vectorised over leading axes.

Per sub-interval of length dt and version v: requests ~ Poisson(rps · diurnal · burst · share_v · dt); errors ~
Binomial(requests, p_v) (with sticky clients, the sum above) with p_v the version's error rate (changes, drift and
ramps applied) times the noise factors; latency bucket counts ~
Multinomial(requests, bucket probabilities of the lognormal body plus the tail mixture). The latency sum takes
each request at the mean latency of its bucket (a histogram's _sum is not used by the judge).

Common random numbers. Every random number comes from a stream keyed by (seed, sub-interval, version), or for the
noise by (seed, noise interval[, version]); nothing depends on the order of calls or on other runs. The streams
are told apart by a key component: 0 the counts (seed, 0, sub-interval, version), 1 the shared error noise and
blips (seed, 1, noise interval), 2 the over-dispersion (seed, 2, noise interval, version), 3 the bursts (seed, 3,
noise interval), 4 the sticky clusters (seed, 4, sub-interval, version). The later features only add streams, so
a model without them draws exactly what it drew before they existed. Counts are
drawn by inversion: each run takes a fixed number of uniforms from the stream (one for its requests, one for its
errors, one per bucket boundary) and maps them through the inverse CDF of the distribution in effect. So run r
of two rules that hold the same weight in a sub-interval sees exactly the same requests, errors and latencies,
whatever the other runs do; with different weights its counts stay coupled (more weight, more requests from the
same uniforms). Inversion is exact for small means (<= 15) and uses a Cornish-Fisher normal approximation (mean,
variance and skewness right) above; run 0 of a generator is the same for any `runs`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from serinus.api.duration import DurationError, duration_seconds
from serinus.api.problems import yaml_number
from serinus.sim.scenario import ScenarioError, parse_time

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PRIMARY: Final = 0
CANARY: Final = 1
VERSIONS: Final = ("primary", "canary")
#: Istio's istio_request_duration_milliseconds bounds (+Inf is added)
ISTIO_BOUNDS_MS: Final = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)
DEFAULT_SUB_INTERVAL_S: Final = 10.0
DEFAULT_NOISE_INTERVAL_S: Final = 60.0
#: inversion is exact up to this mean, Cornish-Fisher above
_EXACT_MEAN: Final = 15.0


# ----- the model -----


@dataclass(frozen=True)
class Latency:
    """A lognormal body (median in ms, log-scale sigma) plus a tail: `tail_fraction` of requests take `tail_add_ms`
    longer."""

    median_ms: float = 80.0
    sigma: float = 0.5
    tail_fraction: float = 0.0
    tail_add_ms: float = 0.0


@dataclass(frozen=True)
class Sticky:
    """Sticky clients: `fraction` of a version's errors arrive in clusters of `size` (from one client, within one
    sub-interval); the mean error rate is unchanged, its variance grows about 1 + fraction · (size - 1) times."""

    fraction: float
    size: int


@dataclass(frozen=True)
class VersionModel:
    """How one version serves: the chance a request fails (5xx) and its latency. `error_drift` is added to the
    error rate every minute (from t = 0, or from the `at` of the change that set it); `sticky` clusters errors.
    From `TrafficModel.versions_at(t)`, `error_rate` is the rate in effect at t (drift and ramps applied)."""

    error_rate: float = 0.001
    latency: Latency = field(default_factory=Latency)
    error_drift: float = 0.0
    sticky: Sticky | None = None


@dataclass(frozen=True)
class Override:
    """Fields a change sets (None: unchanged)."""

    error_rate: float | None = None
    median_ms: float | None = None
    sigma: float | None = None
    tail_fraction: float | None = None
    tail_add_ms: float | None = None
    error_drift: float | None = None
    sticky: Sticky | None = None

    def apply(self, version: VersionModel) -> VersionModel:
        """The version with these fields set (as steps: for ramps and drift see `TrafficModel.versions_at`)."""
        lat = version.latency
        return VersionModel(
            error_rate=version.error_rate if self.error_rate is None else self.error_rate,
            latency=Latency(
                median_ms=lat.median_ms if self.median_ms is None else self.median_ms,
                sigma=lat.sigma if self.sigma is None else self.sigma,
                tail_fraction=lat.tail_fraction if self.tail_fraction is None else self.tail_fraction,
                tail_add_ms=lat.tail_add_ms if self.tail_add_ms is None else self.tail_add_ms,
            ),
            error_drift=version.error_drift if self.error_drift is None else self.error_drift,
            sticky=version.sticky if self.sticky is None else self.sticky,
        )

    def then(self, other: Override | None) -> Override:
        """These fields with `other`'s set on top (a version's own override after the shared one)."""
        if other is None:
            return self
        return replace(
            self, **{f.name: getattr(other, f.name) for f in fields(other) if getattr(other, f.name) is not None}
        )


@dataclass(frozen=True)
class Change:
    """From `at` until `until` (for good when None): `shared` applies to both versions, then the version's own.
    With `ramp` (seconds) the numeric fields it sets move linearly over that long from the values in effect just
    before `at`; with `above_weight` it applies (to the canary only) while the canary's share is at least that."""

    at: float
    until: float | None = None
    primary: Override | None = None
    canary: Override | None = None
    shared: Override | None = None
    ramp: float = 0.0
    above_weight: float | None = None
    #: what the change sets on (primary, canary): `shared` with the version's own on top
    effective: tuple[Override | None, Override | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        own = (self.primary, self.canary)
        eff = tuple(o if self.shared is None else self.shared.then(o) for o in own)
        object.__setattr__(self, "effective", eff)

    def active(self, t: float) -> bool:
        """True when the change is in effect at `t`."""
        return self.at <= t and (self.until is None or t < self.until)


@dataclass(frozen=True)
class Span:
    """A time span [at, until)."""

    at: float
    until: float

    def overlaps(self, start: float, end: float) -> bool:
        """True when [start, end) and the span share time."""
        return start < self.until and self.at < end


@dataclass(frozen=True)
class TrafficModel:
    """The parsed `traffic:` block (see the module docstring for the YAML)."""

    rps: float
    seed: int = 0
    primary: VersionModel = field(default_factory=VersionModel)
    canary: VersionModel = field(default_factory=VersionModel)
    changes: tuple[Change, ...] = ()
    sub_interval: float = DEFAULT_SUB_INTERVAL_S
    noise_interval: float = DEFAULT_NOISE_INTERVAL_S
    bounds_ms: tuple[float, ...] = ISTIO_BOUNDS_MS
    diurnal_amplitude: float = 0.0
    diurnal_period: float = 86400.0
    diurnal_phase: float = 0.0
    shared_sigma: float = 0.0
    blip_probability: float = 0.0
    blip_multiplier: float = 1.0
    burst_probability: float = 0.0
    burst_multiplier: float = 1.0
    overdispersion: float = 0.0
    srm: float = 1.0
    warmup_multiplier: float = 1.0
    warmup_duration: float = 0.0
    gaps: tuple[Span, ...] = ()
    provider_errors: tuple[Span, ...] = ()

    @classmethod
    def parse(cls, raw: object, where: str = "traffic") -> TrafficModel:
        """Check and parse a `traffic:` block; a mistake raises ScenarioError naming the field."""
        return _parse_model(raw, where)

    def versions_at(self, t: float, *, canary_share: float | None = None) -> tuple[VersionModel, VersionModel]:
        """(primary, canary) as the changes in effect at `t` leave them: error rates with their drift and ramps,
        and ramped latencies, at `t`. `canary_share` is the canary's share of the traffic, for changes with
        `aboveWeight` (those apply when it is at least their weight; with None they do not)."""
        if not self.changes and not (self.primary.error_drift or self.canary.error_drift):
            return self.primary, self.canary
        courses = (_Course(self.primary), _Course(self.canary))
        for change in self.changes:
            if not change.active(t):
                continue
            if change.above_weight is not None and (canary_share is None or canary_share < change.above_weight):
                continue
            for course, override in zip(courses, change.effective, strict=True):
                if override is not None:
                    course.apply(override, change.at, change.ramp)
        return courses[0].at(t), courses[1].at(t)

    def rate_factor(self, t: float) -> float:
        """The diurnal factor on the request rate at `t`."""
        if not self.diurnal_amplitude:
            return 1.0
        return 1.0 + self.diurnal_amplitude * math.sin(2 * math.pi * (t + self.diurnal_phase) / self.diurnal_period)

    def in_gap(self, start: float, end: float) -> bool:
        """True when [start, end) touches a scrape gap."""
        return any(g.overlaps(start, end) for g in self.gaps)

    def provider_error_at(self, start: float, end: float) -> bool:
        """True when the provider fails during [start, end)."""
        return any(g.overlaps(start, end) for g in self.provider_errors)


def _clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


#: a field's course from a change on: (start, target, slope per second, at, ramp in seconds); see _value
_Segment = tuple[float, float, float, float, float]


def _value(segment: _Segment, t: float) -> float:
    """The field at `t` >= at: `target` plus `slope` per second since `at`, reached from `start` linearly over
    `ramp` seconds (at once without a ramp)."""
    start, target, slope, at, ramp = segment
    line = target + slope * (t - at) if slope else target
    if ramp and t < at + ramp:
        return start + (t - at) / ramp * (line - start)
    return line


class _Course:
    """One version's numeric fields over time, as the changes active at some t (applied in order of `at`) shape
    them: error rate, median, sigma, tail fraction and tail add, each a _Segment; and the drift and sticky
    clients in effect."""

    __slots__ = ("drift", "segments", "sticky")

    def __init__(self, version: VersionModel) -> None:
        lat = version.latency
        self.segments: list[_Segment] = [
            (version.error_rate, version.error_rate, version.error_drift / 60.0, 0.0, 0.0),
            *((x, x, 0.0, 0.0, 0.0) for x in (lat.median_ms, lat.sigma, lat.tail_fraction, lat.tail_add_ms)),
        ]
        self.drift = version.error_drift
        self.sticky = version.sticky

    def apply(self, override: Override, at: float, ramp: float) -> None:
        """Set the override's fields from `at`: ramped from the values in effect there over `ramp` seconds; an
        error rate (or, without one, the rate reached at `at`) drifts on by the drift in effect from `at`."""
        segments = self.segments
        if override.error_rate is not None or override.error_drift is not None:
            before = _clamp01(_value(segments[0], at))
            if override.error_drift is not None:
                self.drift = override.error_drift
            if override.error_rate is None:
                segments[0] = (before, before, self.drift / 60.0, at, 0.0)
            else:
                segments[0] = (before, override.error_rate, self.drift / 60.0, at, ramp)
        for k, new in enumerate(
            (override.median_ms, override.sigma, override.tail_fraction, override.tail_add_ms), start=1
        ):
            if new is not None:
                segments[k] = (_value(segments[k], at), new, 0.0, at, ramp)
        if override.sticky is not None:
            self.sticky = override.sticky

    def at(self, t: float) -> VersionModel:
        """The version at `t` (the error rate clamped to [0, 1])."""
        rate, median, sigma, fraction, add = (_value(s, t) for s in self.segments)
        return VersionModel(
            error_rate=_clamp01(rate),
            latency=Latency(median, sigma, fraction, add),
            error_drift=self.drift,
            sticky=self.sticky,
        )


_MODEL_FIELDS = {
    "rps",
    "seed",
    "subInterval",
    "noiseInterval",
    "buckets",
    "primary",
    "canary",
    "changes",
    "diurnal",
    "sharedSigma",
    "blips",
    "bursts",
    "overdispersion",
    "srm",
    "warmup",
    "gaps",
    "providerErrors",
}
_VERSION_FIELDS = {"errorRate", "latency", "errorDrift", "sticky"}
_LATENCY_FIELDS = {"median", "sigma", "tail"}
_TAIL_FIELDS = {"fraction", "add"}
_CHANGE_FIELDS = {"at", "until", "primary", "canary", "shared", "ramp", "aboveWeight"}


#: Upper bounds, far above any realistic value, that keep the generator's 64-bit request counts and its exp() from
#: overflowing: a million requests per second, a burst of a thousand times the rate, a log-normal sigma of 10,
#: clusters of a billion errors.
MAX_RPS = 1e6
MAX_MULTIPLIER = 1e3
MAX_SIGMA = 10.0
MAX_STICKY_SIZE = 10**9


def _mapping(raw: object, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected a mapping with {', '.join(sorted(allowed))}")
    unknown = set(raw) - allowed
    if unknown:
        raise ScenarioError(
            f"{where}: unknown field {sorted(map(str, unknown))[0]!r} (expected one of {sorted(allowed)})"
        )
    return raw


def _number(
    raw: object, where: str, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(f"{where}: {raw!r} is not a number")
    if not math.isfinite(raw):
        raise ScenarioError(f"{where}: {yaml_number(raw)} is not a finite number")
    value = float(raw)
    if low is not None and (value < low or (low_open and value == low)):
        raise ScenarioError(f"{where}: {raw!r} must be {'above' if low_open else 'at least'} {low:g}")
    if high is not None and value > high:
        raise ScenarioError(f"{where}: {raw!r} must be at most {high:g}")
    return value


def _millis(raw: object, where: str, positive: bool) -> float:
    """A latency: a duration (80ms, 1.5s) or a number of milliseconds."""
    if isinstance(raw, str):
        try:
            value = duration_seconds(raw.strip()) * 1000.0
        except DurationError:
            raise ScenarioError(f"{where}: {raw!r} is not a latency (use a duration such as 80ms)") from None
    elif isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(f"{where}: {raw!r} is not a latency (use a duration such as 80ms)")
    else:
        value = float(raw)
    if not math.isfinite(value):
        shown = repr(raw) if isinstance(raw, str) else yaml_number(value)
        raise ScenarioError(f"{where}: {shown} is not a latency (a finite number of milliseconds)")
    if value < 0 or (positive and value == 0):
        raise ScenarioError(f"{where}: {raw!r} must be {'above' if positive else 'at least'} 0")
    return value


def _override(raw: object, where: str) -> Override:
    block = _mapping(raw, where, _VERSION_FIELDS)
    error_rate = _number(block["errorRate"], f"{where}.errorRate", 0, 1) if "errorRate" in block else None
    median = sigma = fraction = add = None
    if "latency" in block:
        lat = _mapping(block["latency"], f"{where}.latency", _LATENCY_FIELDS)
        if "median" in lat:
            median = _millis(lat["median"], f"{where}.latency.median", positive=True)
        if "sigma" in lat:
            sigma = _number(lat["sigma"], f"{where}.latency.sigma", 0, MAX_SIGMA)
        if "tail" in lat:
            tail = _mapping(lat["tail"], f"{where}.latency.tail", _TAIL_FIELDS)
            if "fraction" in tail:
                fraction = _number(tail["fraction"], f"{where}.latency.tail.fraction", 0, 1)
            if "add" in tail:
                add = _millis(tail["add"], f"{where}.latency.tail.add", positive=False)
    drift = _number(block["errorDrift"], f"{where}.errorDrift") if "errorDrift" in block else None
    sticky = _sticky(block["sticky"], f"{where}.sticky") if "sticky" in block else None
    return Override(error_rate, median, sigma, fraction, add, drift, sticky)


def _sticky(raw: object, where: str) -> Sticky:
    block = _mapping(raw, where, {"fraction", "size"})
    for key in ("fraction", "size"):
        if key not in block:
            raise ScenarioError(f"{where}: missing '{key}'")
    fraction = _number(block["fraction"], f"{where}.fraction", 0, 1)
    size = block["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ScenarioError(f"{where}.size: {size!r} is not a whole number >= 1")
    if size > MAX_STICKY_SIZE:
        raise ScenarioError(f"{where}.size: {size!r} must be at most {MAX_STICKY_SIZE:g}")
    return Sticky(fraction, size)


def _spans(raw: object, where: str) -> tuple[Span, ...]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{where}: expected a list of spans such as [{{at: 5m, until: 6m}}]")
    spans = []
    for i, entry in enumerate(raw):
        here = f"{where}[{i}]"
        block = _mapping(entry, here, {"at", "until"})
        if "at" not in block or "until" not in block:
            raise ScenarioError(f"{here}: missing '{'at' if 'at' not in block else 'until'}'")
        span = Span(parse_time(block["at"], f"{here}.at"), parse_time(block["until"], f"{here}.until"))
        if span.until <= span.at:
            raise ScenarioError(f"{here}.until: must be after 'at'")
        spans.append(span)
    return tuple(spans)


def _parse_model(raw: object, where: str) -> TrafficModel:
    doc = _mapping(raw, where, _MODEL_FIELDS)
    if "rps" not in doc:
        raise ScenarioError(f"{where}: missing 'rps' (total requests per second)")
    kw: dict[str, Any] = {"rps": _number(doc["rps"], f"{where}.rps", 0, MAX_RPS)}
    if "seed" in doc:
        seed = doc["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ScenarioError(f"{where}.seed: {seed!r} is not a whole number >= 0")
        kw["seed"] = seed
    for key, name in (("subInterval", "sub_interval"), ("noiseInterval", "noise_interval")):
        if key in doc:
            kw[name] = parse_time(doc[key], f"{where}.{key}")
            if kw[name] <= 0:
                raise ScenarioError(f"{where}.{key}: must be above 0s")
    if "buckets" in doc:
        bounds = doc["buckets"]
        if not isinstance(bounds, list) or not bounds:
            raise ScenarioError(f"{where}.buckets: expected a list of upper bounds in ms")
        values = tuple(_millis(b, f"{where}.buckets[{i}]", positive=True) for i, b in enumerate(bounds))
        if any(b >= c for b, c in itertools.pairwise(values)):
            raise ScenarioError(f"{where}.buckets: bounds must increase")
        kw["bounds_ms"] = values
    primary = (
        _override(doc["primary"], f"{where}.primary").apply(VersionModel()) if "primary" in doc else VersionModel()
    )
    canary = _override(doc["canary"], f"{where}.canary").apply(primary) if "canary" in doc else primary
    kw["primary"], kw["canary"] = primary, canary
    if "changes" in doc:
        changes = doc["changes"]
        if not isinstance(changes, list):
            raise ScenarioError(f"{where}.changes: expected a list such as [{{at: 6m, canary: {{errorRate: 0.01}}}}]")
        parsed = []
        for i, entry in enumerate(changes):
            here = f"{where}.changes[{i}]"
            block = _mapping(entry, here, _CHANGE_FIELDS)
            if "at" not in block:
                raise ScenarioError(f"{here}: missing 'at'")
            at = parse_time(block["at"], f"{here}.at")
            until = parse_time(block["until"], f"{here}.until") if "until" in block else None
            if until is not None and until <= at:
                raise ScenarioError(f"{here}.until: must be after 'at'")
            sides = {k: _override(block[k], f"{here}.{k}") for k in ("primary", "canary", "shared") if k in block}
            if not sides:
                raise ScenarioError(f"{here}: expected canary, primary or shared")
            ramp = parse_time(block["ramp"], f"{here}.ramp") if "ramp" in block else 0.0
            above = None
            if "aboveWeight" in block:
                above = _number(block["aboveWeight"], f"{here}.aboveWeight", 0, 1, low_open=True)
                if "canary" not in block:
                    raise ScenarioError(
                        f"{here}.aboveWeight: needs a canary override (the change applies to the "
                        f"canary while its share is at least {above:g})"
                    )
                other = next((k for k in ("primary", "shared") if k in block), None)
                if other is not None:
                    raise ScenarioError(
                        f"{here}.aboveWeight: applies to the canary only; move '{other}' to a "
                        f"change without aboveWeight"
                    )
            parsed.append(Change(at, until, ramp=ramp, above_weight=above, **sides))
        kw["changes"] = tuple(sorted(parsed, key=lambda c: c.at))
    if "diurnal" in doc:
        d = _mapping(doc["diurnal"], f"{where}.diurnal", {"amplitude", "period", "phase"})
        if "amplitude" in d:
            kw["diurnal_amplitude"] = _number(d["amplitude"], f"{where}.diurnal.amplitude", 0, 1)
        if "period" in d:
            kw["diurnal_period"] = parse_time(d["period"], f"{where}.diurnal.period")
            if kw["diurnal_period"] <= 0:
                raise ScenarioError(f"{where}.diurnal.period: must be above 0s")
        if "phase" in d:
            kw["diurnal_phase"] = parse_time(d["phase"], f"{where}.diurnal.phase")
    if "sharedSigma" in doc:
        kw["shared_sigma"] = _number(doc["sharedSigma"], f"{where}.sharedSigma", 0, MAX_SIGMA)
    if "overdispersion" in doc:
        kw["overdispersion"] = _number(doc["overdispersion"], f"{where}.overdispersion", 0, MAX_SIGMA)
    for key, prefix in (("blips", "blip"), ("bursts", "burst")):
        # both are {probability, multiplier} per noise interval: error blips and traffic bursts
        if key in doc:
            b = _mapping(doc[key], f"{where}.{key}", {"probability", "multiplier"})
            if "probability" in b:
                kw[f"{prefix}_probability"] = _number(b["probability"], f"{where}.{key}.probability", 0, 1)
            if "multiplier" in b:
                kw[f"{prefix}_multiplier"] = _number(
                    b["multiplier"], f"{where}.{key}.multiplier", 0, MAX_MULTIPLIER, low_open=True
                )
    if "srm" in doc:
        kw["srm"] = _number(doc["srm"], f"{where}.srm", 0, low_open=True)
    if "warmup" in doc:
        w = _mapping(doc["warmup"], f"{where}.warmup", {"multiplier", "duration"})
        if "multiplier" in w:
            kw["warmup_multiplier"] = _number(w["multiplier"], f"{where}.warmup.multiplier", 0, low_open=True)
        if "duration" in w:
            kw["warmup_duration"] = parse_time(w["duration"], f"{where}.warmup.duration")
    if "gaps" in doc:
        kw["gaps"] = _spans(doc["gaps"], f"{where}.gaps")
    if "providerErrors" in doc:
        kw["provider_errors"] = _spans(doc["providerErrors"], f"{where}.providerErrors")
    return TrafficModel(**kw)


# ----- inversion samplers (vectorised; each run maps its own uniform) -----

_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def normal_ppf(u: FloatArray) -> FloatArray:
    """The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 1e-300, 1 - 1e-16)
    out = np.empty_like(u)
    low, high = u < 0.02425, u > 1 - 0.02425
    mid = ~(low | high)
    q = u[mid] - 0.5
    r = q * q
    out[mid] = (
        (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
        * q
        / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    )
    for mask, sign, tail in ((low, 1.0, u[low]), (high, -1.0, 1 - u[high])):
        if mask.any():
            s = np.sqrt(-2 * np.log(tail))
            out[mask] = sign * (
                (((((_C[0] * s + _C[1]) * s + _C[2]) * s + _C[3]) * s + _C[4]) * s + _C[5])
                / ((((_D[0] * s + _D[1]) * s + _D[2]) * s + _D[3]) * s + 1)
            )
    return out


def _cornish_fisher(u: FloatArray, mean: FloatArray, var: FloatArray, skew: FloatArray) -> FloatArray:
    z = normal_ppf(u)
    x = mean + np.sqrt(var) * (z + skew * (z * z - 1) / 6)
    return np.maximum(np.ceil(x - 0.5), 0.0)


def poisson_ppf(u: FloatArray, lam: FloatArray) -> IntArray:
    """The u-quantile of Poisson(lam), elementwise: exact search for lam <= 15, Cornish-Fisher above."""
    u, lam = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(lam, np.float64))
    out = np.zeros(u.shape, dtype=np.int64)
    big = lam > _EXACT_MEAN
    if big.any():
        lb = lam[big]
        out[big] = _cornish_fisher(u[big], lb, lb, 1 / np.sqrt(lb)).astype(np.int64)
    idx = np.flatnonzero(~big & (lam > 0))
    if idx.size:
        uu, ll = u.ravel()[idx], lam.ravel()[idx]
        pmf = np.exp(-ll)
        cdf = pmf.copy()
        k = np.zeros(idx.size, dtype=np.int64)
        flat = out.reshape(-1)
        active = np.flatnonzero(uu > cdf)
        limit = int(_EXACT_MEAN * 4 + 40)
        while active.size and limit:
            k[active] += 1
            pmf[active] *= ll[active] / k[active]
            cdf[active] += pmf[active]
            active = active[uu[active] > cdf[active]]
            limit -= 1
        flat[idx] = k
    return out


def binomial_ppf(u: FloatArray, n: IntArray, p: FloatArray) -> IntArray:
    """The u-quantile of Binomial(n, p), elementwise: exact search while the smaller of n·p and n·(1-p) is at most
    15, Cornish-Fisher above."""
    u, n, p = np.broadcast_arrays(
        np.asarray(u, np.float64), np.asarray(n, np.int64), np.clip(np.asarray(p, np.float64), 0.0, 1.0)
    )
    flip = p > 0.5
    q = np.where(flip, 1 - p, p)
    uq = np.where(flip, 1 - u, u)
    mean = n.astype(np.float64) * q
    big = mean > _EXACT_MEAN
    res = np.zeros(u.shape, dtype=np.int64)
    if big.any():
        mb, qb = mean[big], q[big]
        var = mb * (1 - qb)
        res[big] = np.minimum(_cornish_fisher(uq[big], mb, var, (1 - 2 * qb) / np.sqrt(var)), n[big]).astype(np.int64)
    idx = np.flatnonzero(~big & (mean > 0))
    if idx.size:
        uu, nn, qq = uq.ravel()[idx], n.ravel()[idx].astype(np.float64), q.ravel()[idx]
        pmf = np.exp(nn * np.log1p(-qq))
        cdf = pmf.copy()
        ratio = qq / (1 - qq)
        k = np.zeros(idx.size, dtype=np.int64)
        active = np.flatnonzero((uu > cdf) & (k < nn))
        limit = int(_EXACT_MEAN * 4 + 40)
        while active.size and limit:
            pmf[active] *= (nn[active] - k[active]) / (k[active] + 1) * ratio[active]
            k[active] += 1
            cdf[active] += pmf[active]
            active = active[(uu[active] > cdf[active]) & (k[active] < nn[active])]
            limit -= 1
        res.reshape(-1)[idx] = k
    out = np.where(flip, n - res, res)
    return out.astype(np.int64)


# ----- latency buckets -----


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    if x <= 0:
        return 0.0
    if sigma == 0:
        return 1.0 if x >= median else 0.0
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))


def _partial_mean(x: float, median: float, sigma: float) -> float:
    """E[X; X <= x] of a lognormal."""
    if x <= 0:
        return 0.0
    if sigma == 0:
        return median if x >= median else 0.0
    mu = math.log(median)
    return (
        math.exp(mu + sigma * sigma / 2)
        * 0.5
        * (1 + math.erf((math.log(x) - mu - sigma * sigma) / (sigma * math.sqrt(2))))
    )


@lru_cache(maxsize=4096)
def bucket_model(bounds: tuple[float, ...], latency: Latency, multiplier: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """(probability of each bucket, mean latency of a request in it), for finite bounds plus +Inf, in ms."""
    median, sigma = latency.median_ms * multiplier, latency.sigma
    frac, add = latency.tail_fraction, latency.tail_add_ms
    edges = [*bounds, math.inf]

    def cdf(x: float) -> float:
        if math.isinf(x):
            return 1.0
        return (1 - frac) * _lognormal_cdf(x, median, sigma) + frac * _lognormal_cdf(x - add, median, sigma)

    def partial(x: float) -> float:  # E[latency; latency <= x]
        full = math.exp(math.log(median) + sigma * sigma / 2)
        if math.isinf(x):
            return (1 - frac) * full + frac * (full + add)
        return (1 - frac) * _partial_mean(x, median, sigma) + frac * (
            _partial_mean(x - add, median, sigma) + add * _lognormal_cdf(x - add, median, sigma)
        )

    cum = np.array([cdf(x) for x in edges])
    pm = np.array([partial(x) for x in edges])
    probs = np.diff(np.concatenate([[0.0], cum]))
    mass = np.diff(np.concatenate([[0.0], pm]))
    lower = np.array([0.0, *bounds])
    upper = np.array([*bounds, bounds[-1] * 2])
    means = np.where(probs > 1e-300, mass / np.maximum(probs, 1e-300), (lower + upper) / 2)
    probs = np.clip(probs, 0.0, None)
    probs.setflags(write=False)
    means.setflags(write=False)
    return probs, means


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
    """Generates the traffic of `model` for `runs` independent runs, one sub-interval at a time (see the module
    docstring)."""

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
            counts = self._multinomial(uniforms[:, 2:], n, probs)
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

    def _multinomial(self, uniforms: FloatArray, n: IntArray, probs: FloatArray) -> IntArray:
        """Multinomial(n, probs) per run by a chain of conditional binomials, each from its own uniform."""
        runs, k = n.shape[0], self.k
        probs = np.broadcast_to(probs, (runs, k))
        counts = np.zeros((runs, k), dtype=np.int64)
        remaining = n.copy()
        left = np.ones(runs)
        for j in range(k - 1):
            if not remaining.any():
                return counts
            pj = probs[:, j]
            cond = np.where(left > 1e-15, np.minimum(pj / np.maximum(left, 1e-300), 1.0), 0.0)
            c = binomial_ppf(uniforms[:, j], remaining, cond)
            counts[:, j] = c
            remaining = remaining - c
            left = left - pj
        counts[:, k - 1] = remaining
        return counts


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


def with_model(model: TrafficModel, **changes: Any) -> TrafficModel:
    """A copy of `model` with fields replaced (for benchmarks sweeping one parameter)."""
    return replace(model, **changes)
