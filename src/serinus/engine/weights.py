"""Traffic weights of the canary strategy: Flagger's maxWeight and nextStepWeight (pkg/controller/scheduler.go)."""

from __future__ import annotations

import itertools

from serinus.api import CanaryAnalysis

TOTAL_WEIGHT = 100


def max_weight(analysis: CanaryAnalysis) -> int:
    """The canary weight at which promotion starts."""
    if analysis.step_weights:
        return min(TOTAL_WEIGHT, analysis.step_weights[-1])
    return analysis.max_weight if analysis.max_weight > 0 else TOTAL_WEIGHT


def next_step_weight(analysis: CanaryAnalysis, canary_weight: int) -> int:
    """How much weight the next step adds; with stepWeights, the distance to the next listed weight."""
    steps = analysis.step_weights
    if analysis.step_weight > 0 or not steps:
        return analysis.step_weight
    max_step = TOTAL_WEIGHT - canary_weight
    if max_step == 0:
        return 1  # at 100 any positive step moves the canary on to promotion, as a last stepWeight would
    if canary_weight == 0:
        return min(max_step, steps[0])
    for current, following in itertools.pairwise(steps):
        if current == canary_weight:
            return min(max_step, following - canary_weight)
    return max_step


def advanced(primary: int, canary: int, step: int) -> tuple[int, int]:
    """One canary step: `step` moves from primary to canary, neither leaving 0..100.

    The canary may pass maxWeight (stepWeight 20, maxWeight 50 gives 20, 40, 60), as in Flagger.
    """
    return max(0, primary - step), min(TOTAL_WEIGHT, canary + step)


def promoted_step(primary: int, canary: int, step: int) -> tuple[int, int]:
    """One stepWeightPromotion step: `step` moves back from canary to primary."""
    return min(TOTAL_WEIGHT, primary + step), max(0, canary - step)
