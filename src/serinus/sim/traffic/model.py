"""The traffic model: how each version serves, and how changes, drift and ramps move that over time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from serinus.sim.traffic.spec import (
    DEFAULT_DIURNAL_PERIOD_S,
    DEFAULT_ERROR_RATE,
    DEFAULT_MEDIAN_MS,
    DEFAULT_NOISE_INTERVAL_S,
    DEFAULT_SIGMA,
    DEFAULT_SUB_INTERVAL_S,
    ISTIO_BOUNDS_MS,
    ChangeSpec,
    SpanSpec,
    TrafficSpec,
    VersionSpec,
    parse_spec,
)

#: axis 0 of every generated array: the primary, then the canary
PRIMARY: Final = 0
CANARY: Final = 1
VERSIONS: Final = ("primary", "canary")


@dataclass(frozen=True)
class Latency:
    """A lognormal body (median in ms, log-scale sigma) plus a tail: `tail_fraction` of requests take `tail_add_ms`
    longer."""

    median_ms: float = DEFAULT_MEDIAN_MS
    sigma: float = DEFAULT_SIGMA
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

    error_rate: float = DEFAULT_ERROR_RATE
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
    """The parsed `traffic:` block (docs/simulate.md, Traffic)."""

    rps: float
    seed: int = 0
    primary: VersionModel = field(default_factory=VersionModel)
    canary: VersionModel = field(default_factory=VersionModel)
    changes: tuple[Change, ...] = ()
    sub_interval: float = DEFAULT_SUB_INTERVAL_S
    noise_interval: float = DEFAULT_NOISE_INTERVAL_S
    bounds_ms: tuple[float, ...] = ISTIO_BOUNDS_MS
    diurnal_amplitude: float = 0.0
    diurnal_period: float = DEFAULT_DIURNAL_PERIOD_S
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
        """Check and parse a `traffic:` block; a mistake raises ScenarioError naming the field under `where`."""
        return _from_spec(parse_spec(raw, where))

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


def with_model(model: TrafficModel, **changes: Any) -> TrafficModel:
    """A copy of `model` with fields replaced (for benchmarks sweeping one parameter)."""
    return replace(model, **changes)


# ----- from the block as written -----


def _from_spec(spec: TrafficSpec) -> TrafficModel:
    """The model a checked `traffic:` block describes: the canary starts from the primary, the changes are in the
    order of `at`, and every field the block leaves out keeps its default."""
    primary = _override(spec.primary).apply(VersionModel()) if spec.given("primary") is not None else VersionModel()
    canary = _override(spec.canary).apply(primary) if spec.given("canary") is not None else primary
    diurnal, blips, bursts, warmup = spec.diurnal, spec.blips, spec.bursts, spec.warmup
    return TrafficModel(
        rps=spec.rps,
        seed=spec.seed,
        primary=primary,
        canary=canary,
        changes=tuple(sorted((_change(c) for c in spec.changes), key=lambda c: c.at)),
        sub_interval=spec.sub_interval,
        noise_interval=spec.noise_interval,
        bounds_ms=spec.buckets,
        diurnal_amplitude=diurnal.amplitude,
        diurnal_period=diurnal.period,
        diurnal_phase=diurnal.phase,
        shared_sigma=spec.shared_sigma,
        blip_probability=blips.probability,
        blip_multiplier=blips.multiplier,
        burst_probability=bursts.probability,
        burst_multiplier=bursts.multiplier,
        overdispersion=spec.overdispersion,
        srm=spec.srm,
        warmup_multiplier=warmup.multiplier,
        warmup_duration=warmup.duration,
        gaps=tuple(_span(s) for s in spec.gaps),
        provider_errors=tuple(_span(s) for s in spec.provider_errors),
    )


def _override(spec: VersionSpec) -> Override:
    latency = spec.latency if spec.given("latency") else None
    tail = latency.tail if latency is not None and latency.given("tail") else None
    sticky = spec.given("sticky")
    return Override(
        error_rate=spec.given("error_rate"),
        median_ms=latency.given("median") if latency is not None else None,
        sigma=latency.given("sigma") if latency is not None else None,
        tail_fraction=tail.given("fraction") if tail is not None else None,
        tail_add_ms=tail.given("add") if tail is not None else None,
        error_drift=spec.given("error_drift"),
        sticky=Sticky(sticky.fraction, sticky.size) if sticky is not None else None,
    )


def _change(spec: ChangeSpec) -> Change:
    sides = {k: _override(getattr(spec, k)) for k in ("primary", "canary", "shared") if spec.given(k) is not None}
    return Change(spec.at, spec.given("until"), ramp=spec.ramp, above_weight=spec.given("above_weight"), **sides)


def _span(spec: SpanSpec) -> Span:
    return Span(spec.at, spec.until)
