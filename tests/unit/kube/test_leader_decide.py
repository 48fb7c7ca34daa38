"""The pure election rule: who may write the Lease, and when."""

from __future__ import annotations

import datetime as dt

from serinus.kube.leader import LeaseState, Step, decide

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, 1, tzinfo=dt.UTC)


def state(holder: str | None, renewed_ago: float | None, duration: int = 60) -> LeaseState:
    renew = None if renewed_ago is None else NOW - dt.timedelta(seconds=renewed_ago)
    return LeaseState(holder=holder, duration_s=duration, renew_time=renew, transitions=0)


def test_missing_lease_is_created() -> None:
    """With no Lease at all, the elector creates it."""
    assert decide(None, "a", NOW) is Step.CREATE


def test_own_lease_is_renewed_even_when_expired() -> None:
    """The holder renews its own Lease, even late (nobody else took it)."""
    assert decide(state("a", 10), "a", NOW) is Step.RENEW
    assert decide(state("a", 600), "a", NOW) is Step.RENEW


def test_live_lease_of_another_replica_is_respected() -> None:
    """A Lease renewed less than leaseDurationSeconds ago by another replica makes us wait."""
    assert decide(state("b", 59.9), "a", NOW) is Step.WAIT


def test_expired_or_released_lease_is_taken_over() -> None:
    """An expired Lease, or one released with an empty holder, is taken over."""
    assert decide(state("b", 60), "a", NOW) is Step.TAKE_OVER
    assert decide(state(None, 1), "a", NOW) is Step.TAKE_OVER
    assert decide(state("", 1), "a", NOW) is Step.TAKE_OVER
