"""Helpers for the judge's tests: configurations, observations and traffic in a few words."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from serinus.api.analysis import ThresholdRange
from serinus.api.judge import MetricKind
from serinus.engine.judge.config import FlaggerCheck, JudgeConfig, MetricConfig
from serinus.engine.judge.state import JudgeState
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import Observation, Tick, TickResult, VersionCounts
from serinus.engine.thresholds import MetricKind as FlaggerKind

SR = "request-success-rate"
DUR = "request-duration"
#: Istio's bucket bounds (ms)
ISTIO = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, math.inf)


def success_rate(**kw: Any) -> MetricConfig:
    """The built-in success rate with the judge's defaults and `min: 99` (p_max 1 %)."""
    flagger = FlaggerCheck(FlaggerKind.SUCCESS_RATE, ThresholdRange(min=99), 0.0)
    return replace(MetricConfig(name=SR, kind=MetricKind.RATIO, p_max=0.01, flagger=flagger), **kw)


def duration(**kw: Any) -> MetricConfig:
    """The built-in duration: exceedance at the primary's p99 bucket plus P(> 500 ms) <= 1 %."""
    base = MetricConfig(
        name=DUR,
        kind=MetricKind.HISTOGRAM,
        m_fail=2.0,
        delta_fail=0.005,
        m_pass=5.0,
        delta_pass=0.02,
        bounds=(None,),
        latency_max=500.0,
        p_max=0.01,
        prior_rate=0.01,
        flagger=FlaggerCheck(FlaggerKind.DURATION_MS, ThresholdRange(max=500), 0.0),
    )
    return replace(base, **kw)


def config(*metrics: MetricConfig, **kw: Any) -> JudgeConfig:
    return JudgeConfig(metrics=metrics or (success_rate(), duration()), **kw)


def counts(name: str, canary: tuple[float, float], primary: tuple[float, float] | None) -> Observation:
    """A ratio observation: (requests, bad) for each version."""
    return Observation(
        name,
        canary=VersionCounts(requests=canary[0], bad=canary[1]),
        primary=VersionCounts(requests=primary[0], bad=primary[1]) if primary else None,
    )


def histogram(n: float, shares: Sequence[float], bounds: Sequence[float] = ISTIO) -> tuple[tuple[float, float], ...]:
    """Cumulative buckets of `n` requests where `shares[i]` of them are at or below `bounds[i]`."""
    return tuple((le, n if math.isinf(le) else n * share) for le, share in zip(bounds, shares, strict=True))


#: a service with a p99 in the 250 ms bucket (0.8 % above 250 ms, 0.1 % above 500 ms)
FAST = (0, 0, 0, 0.001, 0.01, 0.2, 0.6, 0.992, 0.999, 1, 1, 1, 1, 1)
#: the same service 3x slower in the tail: 4 % above 250 ms, 0.5 % above 500 ms
SLOW = (0, 0, 0, 0.001, 0.01, 0.15, 0.5, 0.96, 0.995, 1, 1, 1, 1, 1)


def latency(n_c: float, n_p: float, canary: Sequence[float] = FAST, primary: Sequence[float] = FAST) -> Observation:
    return Observation(
        DUR,
        kind="histogram",
        canary=VersionCounts(buckets=histogram(n_c, canary)),
        primary=VersionCounts(buckets=histogram(n_p, primary)),
    )


def tick(minute: int, weight: int, at_gate: bool = False, window_s: float = 60.0, **kw: Any) -> Tick:
    return Tick(at=60.0 * minute, window_s=window_s, weight=weight, at_gate=at_gate, **kw)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal above 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, prod = 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def run(
    cfg: JudgeConfig, ticks: Sequence[tuple[Tick, Sequence[Observation]]], state: JudgeState | None = None
) -> list[TickResult]:
    """Feed ticks until a terminal verdict (ROLLBACK or PROMOTE); every result is returned."""
    out: list[TickResult] = []
    for when, observations in ticks:
        result = judge_tick(cfg, state, when, observations)
        out.append(result)
        state = result.state
        if result.verdict in ("ROLLBACK", "PROMOTE"):
            break
    return out


def wilson_upper(successes: int, n: int, z: float = 1.96) -> float:
    """The upper end of the Wilson 95 % interval of a proportion."""
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)
