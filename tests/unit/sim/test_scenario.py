"""Scenario files: times, series and the errors a user sees for a bad scenario."""

from __future__ import annotations

import pytest
import yaml

from serinus.api import Canary
from serinus.sim.scenario import ScenarioError, parse_scenario

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
