"""Readiness of Deployments, DaemonSets and StatefulSets, with Flagger's messages and deadline rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from serinus.targets.readiness import (
    daemonset_readiness,
    deployment_readiness,
    statefulset_readiness,
    threshold_count,
)

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _ts(seconds_ago: int) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(
    *,
    generation: int = 2,
    observed: int = 2,
    replicas: int = 3,
    updated: int = 3,
    total: int = 3,
    available: int = 3,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


# Produced by Go 1.26 itself: int32(float32(n) * (float32(t) / float32(100))) for each (n, t).
GO_FLOAT32_VECTORS = [
    (10, 70, 7),
    (3, 80, 2),
    (7, 100, 7),
    (10, 30, 3),
    (10, 90, 9),
    (5, 60, 3),
    (100, 29, 29),
    (10, 29, 2),
    (3, 33, 0),
    (6, 35, 2),
    (10, 57, 5),
    (100, 57, 57),
]


@pytest.mark.parametrize(("count", "threshold", "needed"), GO_FLOAT32_VECTORS)
def test_float32_threshold_matches_go(count: int, threshold: int, needed: int) -> None:
    """The replicas a readyThreshold requires are computed in float32, as Flagger's Go code computes them."""
    assert threshold_count(count, threshold) == needed


def test_complete_rollout_is_ready() -> None:
    """All replicas updated and available is ready."""
    assert deployment_readiness(deployment(), 600, 100, NOW).ready


@pytest.mark.parametrize(
    ("dep", "message"),
    [
        (
            deployment(generation=3, observed=2),
            "waiting for rollout to finish: observed deployment generation less than desired generation",
        ),
        (deployment(updated=1), "waiting for rollout to finish: 1 out of 3 new replicas have been updated"),
        (deployment(total=5), "waiting for rollout to finish: 2 old replicas are pending termination"),
        (
            deployment(available=2),
            "waiting for rollout to finish: 2 of 3 (readyThreshold 100%) updated replicas are available",
        ),
    ],
)
def test_unfinished_rollouts_wait_with_flaggers_words(dep: dict[str, Any], message: str) -> None:
    """Each way a rollout can be unfinished is a retriable wait with Flagger's message."""
    got = deployment_readiness(dep, 600, 100, NOW)
    assert (got.ready, got.retriable, got.message) == (False, True, message)


def test_ready_threshold_lowers_the_bar() -> None:
    """With readyThreshold 50, 2 of 4 available replicas is ready."""
    assert deployment_readiness(deployment(replicas=4, updated=4, total=4, available=2), 600, 50, NOW).ready


def test_progress_deadline_exceeded_is_final() -> None:
    """A ProgressDeadlineExceeded condition is a non-retriable failure naming the deployment."""
    dep = deployment(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}])
    got = deployment_readiness(dep, 600, 100, NOW)
    assert (got.ready, got.retriable, got.message) == (
        False,
        False,
        'deployment "podinfo" exceeded its progress deadline',
    )


def test_unavailable_for_longer_than_the_deadline_is_final() -> None:
    """MinimumReplicasUnavailable for longer than progressDeadlineSeconds turns the wait non-retriable."""
    conds = [
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "lastUpdateTime": _ts(601)},
    ]
    late = deployment_readiness(deployment(available=1, conditions=conds), 600, 100, NOW)
    assert (late.ready, late.retriable) == (False, False)
    conds[1]["lastUpdateTime"] = _ts(599)
    early = deployment_readiness(deployment(available=1, conditions=conds), 600, 100, NOW)
    assert (early.ready, early.retriable) == (False, True)


def daemonset(desired: int = 2, updated: int = 2, available: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
        },
    }


def test_daemonset_rules() -> None:
    """DaemonSets wait for updated and available pods; past the deadline (from the Canary's last transition) fail."""
    assert daemonset_readiness(daemonset(), 60, 100, NOW, NOW).ready
    behind = daemonset_readiness(daemonset(updated=1), 60, 100, NOW, NOW)
    assert behind.message == "waiting for rollout to finish: 1 out of 2 new pods have been updated"
    short = daemonset_readiness(daemonset(available=1), 60, 100, NOW, NOW)
    assert short.message == "waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated pods are available"
    late = daemonset_readiness(daemonset(updated=1), 60, 100, NOW, NOW - dt.timedelta(seconds=61))
    assert (late.retriable, late.message) == (False, "exceeded its progressDeadlineSeconds: 60")


def test_statefulset_waits_for_the_update_revision() -> None:
    """A StatefulSet is ready only when every replica runs the update revision and enough are available."""
    sts: dict[str, Any] = {
        "metadata": {"generation": 4},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 4,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
            "currentRevision": "web-1",
            "updateRevision": "web-2",
        },
    }
    assert not statefulset_readiness(sts, 600, 100, NOW, NOW).ready
    sts["status"]["currentRevision"] = "web-2"
    assert statefulset_readiness(sts, 600, 100, NOW, NOW).ready
    sts["status"]["availableReplicas"] = 1
    short = statefulset_readiness(sts, 600, 100, NOW, NOW)
    assert short.message == "waiting for rollout to finish: 1 of 2 (readyThreshold 100%) updated pods are available"
