"""The watches wake a Canary the moment the workload it waits for is rolled out, and only then."""

from __future__ import annotations

from typing import Any

from serinus.runtime.scheduler import Key, Wait
from serinus.runtime.watch import CanaryIndex

KEY: Key = ("test", "web")


def _deployment(updated: int, available: int, generation: int = 2, observed: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "test", "name": "web-primary", "generation": generation},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": observed,
            "replicas": updated,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


def test_ready_primary_releases_the_waiting_canary_once() -> None:
    """Not ready yet: nobody is woken; rolled out: the waiting Canary is woken and stops waiting."""
    index = CanaryIndex()
    index.expect(KEY, Wait(workload=("Deployment", "web-primary")))
    assert index.is_awaiting(KEY, "test", "Deployment", "web-primary")
    assert index.now_ready("Deployment", _deployment(updated=2, available=1)) == set()
    assert index.now_ready("Deployment", _deployment(updated=2, available=2, observed=1)) == set()
    assert index.now_ready("Deployment", _deployment(updated=2, available=2)) == {KEY}
    assert index.now_ready("Deployment", _deployment(updated=2, available=2)) == set()


def test_ready_threshold_is_respected() -> None:
    """With a 50% ready threshold one of two updated pods available is enough."""
    index = CanaryIndex()
    index.expect(KEY, Wait(workload=("Deployment", "web-primary"), threshold=50))
    assert index.now_ready("Deployment", _deployment(updated=2, available=1)) == {KEY}


def test_a_new_wait_replaces_the_old_one() -> None:
    """expect() with nothing to wait for clears what the Canary waited for."""
    index = CanaryIndex()
    index.expect(KEY, Wait(workload=("Deployment", "web-primary")))
    index.expect(KEY, None)
    assert not index.is_awaiting(KEY, "test", "Deployment", "web-primary")
    assert index.now_ready("Deployment", _deployment(updated=2, available=2)) == set()
