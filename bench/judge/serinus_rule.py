"""Serinus's statistical judge as a rule of the benchmark: the real `judge_config` and `judge_tick`, nothing else.

The Canary is the benchmark's (interval 1m, stepWeight 10, maxWeight 50, threshold 5, `min: 99` success rate,
`max: 500` ms p99) with a `judge` block; `judge_config` resolves it exactly as the operator does. Each interval the
rule hands the judge the same counts every other rule sees (requests and 5xx for the success rate, cumulative
buckets for the duration) and moves the weight as the verdict says: ADVANCE steps by stepWeight, HOLD and FREEZE
keep it, PROMOTE and ROLLBACK end the run.
"""

from __future__ import annotations

from typing import Any

from bench.judge.common import Decision, Interval
from serinus.api import Canary
from serinus.engine.judge.config import JudgeConfig, judge_config
from serinus.engine.judge.state import JudgeState
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import Observation, Tick, TickResult, Verdict, VersionCounts

STEP_WEIGHT = 10
MAX_WEIGHT = 50


def canary_manifest(judge: dict[str, Any] | None = None, threshold: int = 5) -> dict[str, Any]:
    """The benchmark's Canary as a manifest, with `judge` as `spec.analysis.judge` (statistical by default)."""
    block = {"mode": "statistical", "maxHold": "30m", **(judge or {})}
    metrics = [
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
    ]
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "bench", "namespace": "bench"},
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bench"},
            "service": {"port": 80},
            "analysis": {
                "interval": "1m",
                "threshold": threshold,
                "stepWeight": STEP_WEIGHT,
                "maxWeight": MAX_WEIGHT,
                "metrics": metrics,
                "judge": block,
            },
        },
    }


def serinus_config(judge: dict[str, Any] | None = None) -> JudgeConfig:
    """`judge_config` of the benchmark's Canary with this judge block."""
    config = judge_config(Canary.model_validate(canary_manifest(judge)))
    if config is None:
        raise ValueError("the judge block does not turn the statistical judge on")
    return config


class SerinusRule:
    """One run judged by `judge_tick`; the state is carried between ticks as the operator carries it."""

    def __init__(self, name: str, config: JudgeConfig) -> None:
        self.name = name
        self.config = config
        self.state: JudgeState | None = None
        self._weight = STEP_WEIGHT
        self.holds = 0  # intervals held (HOLD or FREEZE)
        self.policy = ""  # set when maxHold ran out and onInconclusive decided
        self.last: TickResult | None = None

    @property
    def weight(self) -> int:
        """The canary's weight over the next interval."""
        return self._weight

    def step(self, interval: Interval) -> Decision:
        """Hand the interval to the judge and act on its verdict."""
        c, p = interval.canary, interval.primary
        bounds = interval.bounds
        observations = (
            Observation(
                "request-success-rate",
                "ratio",
                VersionCounts(requests=c.requests, bad=c.errors),
                VersionCounts(requests=p.requests, bad=p.errors),
            ),
            Observation(
                "request-duration",
                "histogram",
                VersionCounts(buckets=tuple(zip(bounds, c.buckets, strict=True))),
                VersionCounts(buckets=tuple(zip(bounds, p.buckets, strict=True))),
            ),
        )
        tick = Tick(at=interval.minute * 60.0, window_s=60.0, weight=self._weight, at_gate=self._weight >= MAX_WEIGHT)
        result = judge_tick(self.config, self.state, tick, observations)
        self.state = result.state
        self.last = result
        if result.policy:
            self.policy = result.policy
        if result.verdict is Verdict.ROLLBACK:
            return Decision.ROLLBACK
        if result.verdict is Verdict.PROMOTE:
            return Decision.PROMOTE
        if result.verdict is Verdict.ADVANCE:
            self._weight = min(100, self._weight + STEP_WEIGHT)
            return Decision.ADVANCE
        self.holds += 1
        return Decision.HOLD
