"""Scenario files: times, series and the errors a user sees for a bad scenario."""

from __future__ import annotations

import pytest
import yaml

from serinus.api import Canary
from serinus.sim.base import ScenarioError
from serinus.sim.scenario import parse_scenario

CANARY = Canary.model_validate(
    yaml.safe_load("""
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  analysis:
    interval: 30s
    stepWeight: 10
    metrics: [{name: request-success-rate, thresholdRange: {min: 99}}]
    webhooks: [{name: approve, type: confirm-rollout, url: http://gate/}]
""")
)


def test_values_hold_from_their_time_until_the_next_entry() -> None:
    """A metric value is in effect from its `at` until the next one; null means no data."""
    scenario = parse_scenario(
        {
            "metrics": {
                "request-success-rate": [
                    {"at": "1m", "value": 80},
                    {"at": "0s", "value": 99.5},
                    {"at": "2m30s", "value": None},
                ]
            }
        },
        CANARY,
    )
    series = scenario.metrics["request-success-rate"]
    assert [series.at(t) for t in (0, 59, 60, 149, 150, 999)] == [99.5, 99.5, 80, 80, None, None]


def test_defaults_are_two_hours_one_revision_and_everything_healthy() -> None:
    """An empty scenario: 2h, a revision right after initialization, workloads ready."""
    scenario = parse_scenario(None, CANARY)
    assert scenario.duration == 7200
    assert scenario.revision_times() == (0.0,)
    assert scenario.canary_ready.at(100) is True
    assert scenario.primary_ready.at(100) is True


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"metrics": {"latency": [{"at": "0s", "value": 1}]}}, "metrics.latency: the Canary has no such metric"),
        ({"webhooks": {"nope": [{"at": "0s", "status": 200}]}}, "webhooks.nope: the Canary has no such webhook"),
        ({"duration": "5x"}, "duration: '5x' is not a time"),
        ({"revisions": ["0s", "soon"]}, "revisions[1]: 'soon' is not a time"),
        (
            {"metrics": {"request-success-rate": [{"at": "0s", "value": "high"}]}},
            "metrics.request-success-rate[0].value: 'high' is not a number",
        ),
        (
            {"webhooks": {"approve": [{"at": "0s", "status": 42}]}},
            "webhooks.approve[0].status: 42 is not an HTTP status",
        ),
        ({"ready": {"canary": [{"at": "0s", "ready": "yes"}]}}, "ready.canary[0].ready: 'yes' is not true or false"),
        ({"ready": {"database": []}}, "ready: unknown workload 'database'"),
        ({"colour": "blue"}, "scenario: unknown field 'colour'"),
        ({"metrics": {"request-success-rate": [{"at": "-1s", "value": 1}]}}, "is negative"),
    ],
)
def test_bad_scenarios_name_the_field(doc: object, message: str) -> None:
    """Each mistake is reported with the path of the field at fault."""
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        parse_scenario(doc, CANARY)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"duration": NAN}, "duration: .nan is not a time"),
        ({"duration": INF}, "duration: .inf is not a time"),
        ({"rollout": -INF}, "rollout: -.inf is not a time"),
        ({"revisions": [0, NAN]}, "revisions[1]: .nan is not a time"),
        (
            {"metrics": {"request-success-rate": [{"at": "0s", "value": NAN}]}},
            "metrics.request-success-rate[0].value: .nan is not a finite number (use null for no data)",
        ),
        (
            {"metrics": {"request-success-rate": [{"at": "0s", "value": 1, "primary": -INF}]}},
            "metrics.request-success-rate[0].primary: -.inf is not a finite number",
        ),
        ({"traffic": {"rps": INF}}, "traffic.rps: .inf is not a finite number"),
        (
            {"traffic": {"rps": 1, "canary": {"errorRate": NAN}}},
            "traffic.canary.errorRate: .nan is not a finite number",
        ),
        (
            {"traffic": {"rps": 1, "canary": {"latency": {"median": INF}}}},
            "traffic.canary.latency.median: .inf is not a latency",
        ),
        ({"traffic": {"rps": 1, "subInterval": -1}}, "traffic.subInterval: -1 is negative"),
        ({"traffic": {"rps": 1e300}}, "traffic.rps: 1e+300 must be at most 1e+06"),
        (
            {"traffic": {"rps": 1, "bursts": {"probability": 1, "multiplier": 1e300}}},
            "traffic.bursts.multiplier: 1e+300 must be at most 1000",
        ),
        ({"traffic": {"rps": 1, "sharedSigma": 1e300}}, "traffic.sharedSigma: 1e+300 must be at most 10"),
        (
            {"traffic": {"rps": 1, "canary": {"sticky": {"fraction": 0.5, "size": 10**20}}}},
            "traffic.canary.sticky.size: 100000000000000000000 must be at most 1e+09",
        ),
        (
            {"traffic": {"rps": 1, "subInterval": "1us"}},
            "traffic.subInterval: 1e-06s makes 7,200,000,000 sub-intervals in the duration of 7200s; at most 10,000",
        ),
        (
            {"duration": "100000h"},
            "duration: 3.6e+08s holds 12,000,000 analysis steps of 30s; at most 10,000 are simulated",
        ),
    ],
)
def test_non_finite_and_degenerate_values_name_the_field(doc: object, message: str) -> None:
    """NaN and infinite times and values, durations or sub-intervals that would take millions of steps, and traffic
    so large its 64-bit counts overflow, are refused naming the field, instead of running as 0 steps, for hours or
    with negative request counts."""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(doc, CANARY)
    assert message in str(err.value)


def test_the_longest_accepted_scenario_is_bounded() -> None:
    """At the limits: 10,000 analysis steps and 10,000 traffic sub-intervals are accepted."""
    scenario = parse_scenario({"duration": "83h20m", "traffic": {"rps": 1, "subInterval": "30s"}}, CANARY)
    assert scenario.duration == 300_000
