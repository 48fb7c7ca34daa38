"""Properties of the engine over generated Canaries and scenarios (hypothesis): weights stay in bounds and add
up, traffic never reaches a canary that is not ready, and a release always ends when the world holds still."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serinus.sim.runner import SimResult
from tests.unit.engine.simkit import canary, run

TERMINAL = {"Succeeded", "Failed"}


@st.composite
def analyses(draw: st.DrawFn) -> dict[str, Any]:
    """Any traffic plan Flagger accepts: stepWeight/maxWeight, stepWeights, blue/green or A/B."""
    kind = draw(st.sampled_from(["step", "steps", "bluegreen", "ab"]))
    analysis: dict[str, Any] = {
        "threshold": draw(st.integers(1, 4)),
        "mirror": draw(st.booleans()),
        "stepWeightPromotion": draw(st.sampled_from([0, 10, 30, 100])),
    }
    if kind == "step":
        analysis |= {"stepWeight": draw(st.integers(1, 60)), "maxWeight": draw(st.integers(1, 100))}
    elif kind == "steps":
        analysis["stepWeights"] = sorted(draw(st.sets(st.integers(1, 100), min_size=1, max_size=5)))
    else:
        analysis["iterations"] = draw(st.integers(1, 5))
        if kind == "ab":
            analysis["match"] = [{"headers": {"x-canary": {"exact": "1"}}}]
    analysis["metrics"] = [{"name": "errors", "query": "x", "thresholdRange": {"max": 1}}]
    return analysis


values = st.lists(st.tuples(st.integers(0, 40), st.one_of(st.none(), st.floats(0, 3))), max_size=4)
readiness = st.lists(st.tuples(st.integers(0, 40), st.booleans()), max_size=4)


def _scenario(
    metric: list[tuple[int, float | None]], ready: list[tuple[int, bool]], duration_min: int = 240
) -> dict[str, Any]:
    return {
        "duration": f"{duration_min}m",
        "metrics": {"errors": [{"at": f"{m}m", "value": v} for m, v in metric]},
        "ready": {"canary": [{"at": f"{m}m", "ready": r} for m, r in ready]},
    }


def _run(analysis: dict[str, Any], provider: str, scenario: dict[str, Any]) -> SimResult:
    return run(canary({"interval": "1m", **analysis}, provider=provider, progressDeadlineSeconds=300), scenario)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(analyses(), st.sampled_from(["istio", "gatewayapi:v1", "kubernetes"]), values, readiness)
def test_weights_stay_in_bounds_and_add_up(
    analysis: dict[str, Any], provider: str, metric: list[tuple[int, float | None]], ready: list[tuple[int, bool]]
) -> None:
    """Every routing change keeps both weights in 0..100 and their sum at 100."""
    result = _run(analysis, provider, _scenario(metric, ready))
    for w in result.weights:
        assert 0 <= w.canary <= 100
        assert 0 <= w.primary <= 100
        assert w.canary + w.primary == 100
    status = result.canary.status
    assert 0 <= status.canary_weight <= 100


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(analyses(), st.sampled_from(["istio", "gatewayapi:v1"]), values, readiness)
def test_traffic_never_moves_to_a_canary_that_is_not_ready(
    analysis: dict[str, Any], provider: str, metric: list[tuple[int, float | None]], ready: list[tuple[int, bool]]
) -> None:
    """A routing change that raises the canary's share happens only while the scenario says it is ready."""
    scenario = _scenario(metric, ready)
    result = _run(analysis, provider, scenario)
    series = sorted((m * 60, r) for m, r in ready)
    previous = 0
    for w in result.weights:
        if w.canary > previous:
            in_effect = [r for t, r in series if t <= w.at]
            assert in_effect[-1] if in_effect else True, f"canary weight {w.canary} at {w.at}s while not ready"
        previous = w.canary


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    analyses(), st.sampled_from(["istio", "kubernetes", "nginx"]), st.one_of(st.none(), st.floats(0, 3)), st.booleans()
)
def test_a_release_always_ends_when_the_world_holds_still(
    analysis: dict[str, Any], provider: str, value: float | None, ready: bool
) -> None:
    """With fixed metric values and readiness, every run ends Succeeded or Failed."""
    scenario = {
        "duration": "12h",
        "metrics": {"errors": [{"at": "0s", "value": value}]},
        "ready": {"canary": [{"at": "0s", "ready": ready}]},
    }
    result = _run(analysis, provider, scenario)
    assert result.phase in TERMINAL
    if value is not None and value <= 1 and ready:
        assert result.phase == "Succeeded"
    else:
        assert result.phase == "Failed"
