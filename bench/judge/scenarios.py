"""The scenarios of the judge benchmark and their ground-truth labels (bench/README.md, judge: Scenarios, Labels).

Every scenario is a `traffic:` block for `serinus.sim.traffic` (the generator `serinus simulate` uses) without its
`rps` and `seed`, which the matrix sets per cell. The defaults: a primary error rate of 0.1 %, a shared per-minute
lognormal factor (σ 0.3) and a 2 % chance per minute of a shared ×15 error blip, ±30 % diurnal traffic, lognormal
latency (median 80 ms, σ 0.5: true p99 256 ms) in Istio's buckets.

Labels come from the parameters only, never from an outcome, with the judge's default tolerances:

* a metric is *severe* when the canary's rate is at least `m_pass` times the primary's **and** at least `δ_pass`
  higher (errors 5× and 0.5 pp; requests slower than 250 ms, the primary's p99 bucket, 5× and 2 pp), or when the
  canary is beyond the absolute bound (`min: 99` → more than 1 % errors; `max: 500` → more than 1 % of requests
  slower than 500 ms) while the primary is within it;
* *good* when no metric is worse than the primary's (ratio ≤ 1) and the canary is within the absolute bounds or
  the primary breaches them too (a shared incident);
* *moderate* otherwise.

A regression counts when its onset falls before the scheduled promotion (5 min). Noise (shared factors, blips,
over-dispersion) and the warm-up of a freshly scaled-up canary are not regressions, so the warm-up and
shared-incident scenarios are good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.judge.serinus_rule import MAX_WEIGHT, STEP_WEIGHT
from serinus.api.judge import DEFAULTS
from serinus.sim.traffic import TrafficModel, VersionModel, bucket_model

#: the schedule minimum: 5 steps of 1 minute (10 % to 50 %)
SCHEDULE_MIN = 5
#: the latency bound of the relative test used for labels (the Istio bucket bound nearest the primary's true p99 of
#: 256 ms: 1.1 % of its requests are slower)
LABEL_BOUND_MS = 250.0
#: the judge's default promotion tolerances (ratio, difference), which label a canary "severe" beyond them
ERRORS_PASS = DEFAULTS.errors.promote
LATENCY_PASS = DEFAULTS.latency.promote
ABS_ERRORS = 0.01  # min: 99
ABS_LATENCY_MS, ABS_LATENCY_SHARE = 500.0, 0.01  # max: 500 (p99)

_NOISE: dict[str, Any] = {
    "sharedSigma": 0.3,
    "blips": {"probability": 0.02, "multiplier": 15},
    "diurnal": {"amplitude": 0.3, "period": "24h", "phase": "0s"},
}
_PRIMARY: dict[str, Any] = {"errorRate": 0.001, "latency": {"median": "80ms", "sigma": 0.5}}


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix: a traffic block (without rps and seed) and what it stands for."""

    key: str
    title: str
    traffic: dict[str, Any]
    onset_min: float = 0.0  # when a regression starts (minutes since the canary got traffic)
    warmup: bool = False  # the canary scaled up at t = 0 (its warm-up applies)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def model(self, rps: float, seed: int) -> TrafficModel:
        """The generator's model of this scenario at `rps` with `seed`."""
        return TrafficModel.parse({**self.traffic, "rps": rps, "seed": seed}, where=f"scenario {self.key}")


def _traffic(**kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {**_NOISE, "primary": _PRIMARY}
    doc.update(kw)
    return doc


def _drift(start: float, per_minute: float, minutes: int) -> list[dict[str, Any]]:
    """A shared error rate that rises by `per_minute` every minute (both versions)."""
    return [{"at": f"{m}m", "shared": {"errorRate": round(start + per_minute * m, 8)}} for m in range(1, minutes)]


def scenarios(horizon_min: int = 45) -> dict[str, Scenario]:
    """All scenarios, by key."""
    out = [
        Scenario("G0", "good", _traffic()),
        Scenario(
            "G1",
            "good, over-dispersed",
            _traffic(overdispersion=0.5),
            notes="per-version, per-minute lognormal σ 0.5 on each version's error rate",
        ),
        Scenario(
            "G2",
            "good, base err 0.6 % + drift",
            _traffic(primary={**_PRIMARY, "errorRate": 0.006}, changes=_drift(0.006, 0.0001, horizon_min)),
            notes="both versions 0.6 % rising 0.01 pp a minute (0.65 % at minute 5, 1.04 % at 45)",
        ),
        Scenario(
            "AA",
            "A/A, over-dispersed",
            {
                "primary": {**_PRIMARY, "errorRate": 0.005},
                "overdispersion": 0.5,
                "sharedSigma": 0.3,
                "diurnal": _NOISE["diurnal"],
            },
            notes="identical versions at 0.5 % errors, per-version σ 0.5 over-dispersion, no blips",
        ),
        Scenario(
            "SI",
            "shared incident",
            _traffic(
                blips={"probability": 0.1, "multiplier": 15},
                changes=[{"at": "2m", "until": "6m", "shared": {"errorRate": 0.03, "latency": {"median": "200ms"}}}],
            ),
            notes="×15 blips 10 % of minutes, and a 4-minute shared outage (3 % errors, median 200 ms) from minute 2",
        ),
        Scenario(
            "WU",
            "warm-up only",
            _traffic(warmup={"multiplier": 3, "duration": "1m"}),
            warmup=True,
            notes="the canary's latency ×3 for its first minute",
        ),
        Scenario("B1", "errors ×3", _traffic(canary={"errorRate": 0.003})),
        Scenario("B2", "errors ×10", _traffic(canary={"errorRate": 0.01})),
        Scenario("B3", "errors +2pp", _traffic(canary={"errorRate": 0.021})),
        Scenario("B4", "latency median +30 %", _traffic(canary={"latency": {"median": "104ms"}})),
        Scenario("B5", "latency σ 0.5→0.8", _traffic(canary={"latency": {"sigma": 0.8}})),
        Scenario("B6", "tail 2 % +800 ms", _traffic(canary={"latency": {"tail": {"fraction": 0.02, "add": "800ms"}}})),
        Scenario(
            "B7",
            "errors ×10 from minute 3",
            _traffic(changes=[{"at": "3m", "canary": {"errorRate": 0.01}}]),
            onset_min=3.0,
        ),
        Scenario(
            "B8",
            "errors ×10 from minute 3, over-dispersed",
            _traffic(overdispersion=0.5, changes=[{"at": "3m", "canary": {"errorRate": 0.01}}]),
            onset_min=3.0,
            notes="B7 with G1's per-version σ 0.5 noise a minute: some bad minutes look good",
        ),
        Scenario(
            "AT",
            "A/A noise, canary at 1.01 %",
            {
                "primary": {**_PRIMARY, "errorRate": 0.005},
                "canary": {"errorRate": 0.0101},
                "overdispersion": 0.5,
                "sharedSigma": 0.3,
                "diurnal": _NOISE["diurnal"],
            },
            notes="AA's noise with the canary just beyond `min: 99` (mean 1.01 % errors, median minute 0.89 %) "
            "while the primary is within: the nearest severe canary to AA",
        ),
        Scenario(
            "ST",
            "sticky clients",
            _traffic(
                primary={**_PRIMARY, "sticky": {"fraction": 0.5, "size": 5}},
                canary={"sticky": {"fraction": 0.5, "size": 5}},
            ),
            notes="half of each version's errors come from clients retrying 5 times in one sub-interval",
        ),
        Scenario(
            "BU",
            "traffic bursts",
            _traffic(bursts={"probability": 0.05, "multiplier": 3}),
            notes="in 5 % of minutes the traffic of both versions triples",
        ),
        Scenario(
            "LD",
            "errors ×10 above 30 % weight",
            _traffic(changes=[{"at": "0s", "aboveWeight": 0.3, "canary": {"errorRate": 0.01}}]),
            onset_min=2.0,
            notes="a load-dependent regression: only while the canary serves ≥ 30 % of requests",
        ),
        Scenario(
            "RA",
            "errors ramp to ×10 over 5 min",
            _traffic(changes=[{"at": "0s", "ramp": "5m", "canary": {"errorRate": 0.01}}]),
            notes="the canary's errors climb linearly from 0.1 % to 1 % over its first five minutes",
        ),
    ]
    return {s.key: s for s in out}


def _slower(version: VersionModel, bounds: tuple[float, ...], bound: float) -> float:
    probs, _ = bucket_model(bounds, version.latency)
    upto = sum(float(p) for b, p in zip((*bounds, math.inf), probs, strict=True) if b <= bound)
    return max(0.0, 1.0 - upto)


def compare(primary: VersionModel, canary: VersionModel, bounds: tuple[float, ...]) -> str:
    """The label of one moment: good, moderate or severe (see the module docstring)."""
    severe = False
    worse = False
    for p, c, (m_pass, d_pass) in (
        (primary.error_rate, canary.error_rate, ERRORS_PASS),
        (_slower(primary, bounds, LABEL_BOUND_MS), _slower(canary, bounds, LABEL_BOUND_MS), LATENCY_PASS),
    ):
        if c > p * (1 + 1e-9):
            worse = True
        if c >= m_pass * p and c - p >= d_pass:
            severe = True
    for p, c, limit in (
        (primary.error_rate, canary.error_rate, ABS_ERRORS),
        (_slower(primary, bounds, ABS_LATENCY_MS), _slower(canary, bounds, ABS_LATENCY_MS), ABS_LATENCY_SHARE),
    ):
        if c > limit and p <= limit:
            severe = True
            worse = True
    return "severe" if severe else "moderate" if worse else "good"


def schedule(minutes: int) -> list[float]:
    """The canary's share in each minute of the fastest schedule (stepWeight 10 up to maxWeight 50, then held)."""
    return [min(STEP_WEIGHT * (i + 1), MAX_WEIGHT) / 100.0 for i in range(minutes)]


def label(scenario: Scenario) -> str:
    """The scenario's ground truth: the worst label of any minute before the scheduled promotion."""
    model = scenario.model(20.0, 0)
    rank = {"good": 0, "moderate": 1, "severe": 2}
    worst = "good"
    for minute, share in enumerate(schedule(SCHEDULE_MIN)):
        # the canary's share on the fastest schedule, for load-dependent changes
        primary, canary = model.versions_at(minute * 60.0 + 1.0, canary_share=share)
        now = compare(primary, canary, model.bounds_ms)
        if rank[now] > rank[worst]:
            worst = now
    return worst
