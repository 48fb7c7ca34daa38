"""What happens around a simulated Canary: revisions, metric values, webhook answers and readiness over time.

```yaml
duration: 30m
revisions: [0s]
metrics:
  request-success-rate: [{at: 0s, value: 99.9}, {at: 2m, value: 80}]
webhooks:
  approve: [{at: 0s, status: 403}, {at: 10m, status: 200}]
ready:
  canary: [{at: 0s, ready: true}]
  primary: [{at: 0s, ready: true}]
rollout: 5s     # a workload is ready this long after it is scaled up or updated (default 0s)
traffic:        # optional: generated requests (serinus.sim.traffic), closed-loop on the weights the engine sets
  rps: 20
  primary: {errorRate: 0.001, latency: {median: 80ms, sigma: 0.5}}
  canary: {errorRate: 0.005}
```

Every time is relative to the start; a value holds from its `at` until the next entry.

With `traffic:`, the built-in request-success-rate and request-duration are computed from the generated requests
(as Prometheus' queries would) unless `metrics:` gives their values, which then win. A metric entry may also
give the primary's value, `{at: 0s, value: 1.2, primary: 1.0}`, for the statistical judge's scalar comparison;
the primary's series is made of the entries that have `primary` (no data before the first, or without any).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from serinus.api import Canary
from serinus.api.problems import yaml_number
from serinus.sim.base import ScenarioError, parse_time
from serinus.sim.traffic import TrafficModel

T = TypeVar("T")
DEFAULT_DURATION_S = 2 * 3600.0
#: Most analysis steps a scenario's duration may hold: 27 h at the shortest interval (10 s).
MAX_STEPS = 10_000
#: Most traffic sub-intervals a scenario's duration may hold: 27 h at the default subInterval (10 s).
MAX_SUB_INTERVALS = 10_000


@dataclass(frozen=True)
class Series(Generic[T]):
    """A value that changes at given times; `default` before the first entry."""

    times: tuple[float, ...]
    values: tuple[T, ...]
    default: T

    def at(self, t: float) -> T:
        """The value in effect at `t`."""
        i = bisect.bisect_right(self.times, t)
        return self.values[i - 1] if i else self.default

    def since(self, t: float) -> float:
        """When the value in effect at `t` took effect (0 for the default)."""
        i = bisect.bisect_right(self.times, t)
        return self.times[i - 1] if i else 0.0

    def first(self, value: T, start: float) -> float | None:
        """The first time at or after `start` when the series holds `value`, or None if never."""
        if self.at(start) == value:
            return start
        for t, v in zip(self.times, self.values, strict=True):
            if t > start and v == value:
                return t
        return None

    @classmethod
    def constant(cls, value: T) -> Series[T]:
        """A value that never changes."""
        return cls((), (), value)


def _series(
    raw: object,
    key: str,
    where: str,
    default: Any,
    check: Any,
    extra: str = "",
    extra_entries: list[tuple[float, Any]] | None = None,
) -> Series[Any]:
    """A series of `key` values; with `extra`, entries may also carry that field, collected into
    `extra_entries` as (time, value)."""
    if raw is None:
        return Series.constant(default)
    if not isinstance(raw, list):
        raw = [{"at": 0, key: raw}]
    allowed = {"at", key, extra} if extra else {"at", key}
    entries: list[tuple[float, Any]] = []
    for i, entry in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise ScenarioError(f"{here}: expected a mapping like {{at: 0s, {key}: ...}}")
        unknown = set(entry) - allowed
        if unknown:
            expected = f"'at', '{key}' and '{extra}'" if extra else f"'at' and '{key}'"
            raise ScenarioError(f"{here}: unknown field {sorted(unknown)[0]!r} (expected {expected})")
        if key not in entry:
            raise ScenarioError(f"{here}: missing '{key}'")
        at = parse_time(entry.get("at", 0), f"{here}.at")
        entries.append((at, check(entry[key], f"{here}.{key}")))
        if extra and extra in entry and extra_entries is not None:
            extra_entries.append((at, check(entry[extra], f"{here}.{extra}")))
    entries.sort(key=lambda e: e[0])
    return Series(tuple(t for t, _ in entries), tuple(v for _, v in entries), default)


def _number_or_null(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: {value!r} is not a number (or null for no data)")
    if not math.isfinite(value):
        raise ScenarioError(f"{where}: {yaml_number(value)} is not a finite number (use null for no data)")
    return float(value)


def _status(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ScenarioError(f"{where}: {value!r} is not an HTTP status code")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}: {value!r} is not true or false")
    return value


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario."""

    duration: float = DEFAULT_DURATION_S
    #: times of pod-template changes; None means "once, right after initialization"
    revisions: tuple[float, ...] | None = None
    metrics: Mapping[str, Series[float | None]] = field(default_factory=dict)
    webhooks: Mapping[str, Series[int]] = field(default_factory=dict)
    canary_ready: Series[bool] = field(default_factory=lambda: Series.constant(True))
    primary_ready: Series[bool] = field(default_factory=lambda: Series.constant(True))
    #: how long a workload takes to roll out after it is scaled up or updated
    rollout: float = 0.0
    #: the primary's value of a metric (scalar comparison by the statistical judge), where the scenario gives one
    primary_metrics: Mapping[str, Series[float | None]] = field(default_factory=dict)
    #: generated requests; None keeps the metric values above as the only source
    traffic: TrafficModel | None = None

    def revision_times(self) -> tuple[float, ...]:
        """When the target changes (0 s, right after initialization, unless the scenario says otherwise)."""
        return self.revisions if self.revisions is not None else (0.0,)


_TOP = {"duration", "revisions", "metrics", "webhooks", "ready", "rollout", "traffic"}


def parse_scenario(doc: object, canary: Canary | None = None) -> Scenario:
    """Check and parse a scenario document; with the Canary, names of metrics and webhooks must exist in it."""
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ScenarioError("scenario: expected a mapping with duration, revisions, metrics, webhooks, ready")
    unknown = set(doc) - _TOP
    if unknown:
        raise ScenarioError(f"scenario: unknown field {sorted(unknown)[0]!r} (expected one of {sorted(_TOP)})")
    duration = parse_time(doc["duration"], "duration") if "duration" in doc else DEFAULT_DURATION_S
    revisions: tuple[float, ...] | None = None
    if "revisions" in doc:
        raw = doc["revisions"]
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise ScenarioError("revisions: expected a list of times such as [0s, 20m]")
        revisions = tuple(sorted(parse_time(r, f"revisions[{i}]") for i, r in enumerate(raw)))
    analysis = canary.analysis_or_default() if canary is not None else None
    primary_metrics: dict[str, Series[float | None]] = {}
    metrics = _named(
        doc.get("metrics"),
        "metrics",
        "value",
        _number_or_null,
        {m.name for m in analysis.metrics} if analysis is not None else None,
        0.0,
        extra="primary",
        extras=primary_metrics,
    )
    webhooks = _named(
        doc.get("webhooks"),
        "webhooks",
        "status",
        _status,
        {w.name for w in analysis.webhooks} if analysis is not None else None,
        200,
    )
    ready = doc.get("ready") or {}
    if not isinstance(ready, Mapping):
        raise ScenarioError("ready: expected a mapping with canary and primary")
    extra = set(ready) - {"canary", "primary"}
    if extra:
        raise ScenarioError(f"ready: unknown workload {sorted(extra)[0]!r} (expected canary or primary)")
    traffic = _traffic(doc.get("traffic"))
    _check_work(duration, analysis.interval_seconds() if analysis is not None else None, traffic)
    return Scenario(
        duration=duration,
        revisions=revisions,
        metrics=metrics,
        webhooks=webhooks,
        canary_ready=_series(ready.get("canary"), "ready", "ready.canary", True, _bool),
        primary_ready=_series(ready.get("primary"), "ready", "ready.primary", True, _bool),
        rollout=parse_time(doc["rollout"], "rollout") if "rollout" in doc else 0.0,
        primary_metrics=primary_metrics,
        traffic=traffic,
    )


def _check_work(duration: float, interval: float | None, traffic: TrafficModel | None) -> None:
    """Refuse a duration that holds more than MAX_STEPS analysis steps or MAX_SUB_INTERVALS traffic sub-intervals;
    else a tiny subInterval or a duration of years runs for hours."""
    if interval is not None and duration / interval > MAX_STEPS:
        raise ScenarioError(
            f"duration: {_seconds_text(duration)} holds {duration / interval:,.0f} analysis steps of "
            f"{_seconds_text(interval)}; at most {MAX_STEPS:,} are simulated"
        )
    if traffic is not None and duration / traffic.sub_interval > MAX_SUB_INTERVALS:
        raise ScenarioError(
            f"traffic.subInterval: {_seconds_text(traffic.sub_interval)} makes "
            f"{duration / traffic.sub_interval:,.0f} sub-intervals in the duration of {_seconds_text(duration)}; "
            f"at most {MAX_SUB_INTERVALS:,} are generated (raise subInterval or shorten duration)"
        )


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}s"


def _traffic(raw: object) -> TrafficModel | None:
    return None if raw is None else TrafficModel.parse(raw, "traffic")


def _named(
    raw: object,
    where: str,
    key: str,
    check: Any,
    known: set[str] | None,
    default: Any,
    extra: str = "",
    extras: dict[str, Series[Any]] | None = None,
) -> dict[str, Series[Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected a mapping by name")
    out: dict[str, Series[Any]] = {}
    for name, entries in raw.items():
        if known is not None and name not in known:
            hint = ", ".join(sorted(known)) or "none"
            raise ScenarioError(f"{where}.{name}: the Canary has no such {where[:-1]} (it has: {hint})")
        found: list[tuple[float, Any]] = []
        out[str(name)] = _series(entries, key, f"{where}.{name}", default, check, extra, found)
        if found and extras is not None:
            found.sort(key=lambda e: e[0])
            extras[str(name)] = Series(tuple(t for t, _ in found), tuple(v for _, v in found), None)
    return out
