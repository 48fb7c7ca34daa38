"""The client-side rate limit behaves as client-go's token bucket for Flagger's -kubeconfig-qps/-kubeconfig-burst."""

from __future__ import annotations

import pytest

from serinus.kube.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket, bucket_for


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_at_once_then_requests_are_spaced_at_qps() -> None:
    """With burst 3 and QPS 2, three requests go at once; the 4th and 5th wait 0.5 s and 1 s."""
    clock = Clock()
    bucket = TokenBucket(2.0, 3, clock)
    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_tokens_come_back_with_time_up_to_the_burst() -> None:
    """After a quiet second at QPS 2 two tokens are back; after a quiet minute no more than the burst."""
    clock = Clock()
    bucket = TokenBucket(2.0, 3, clock)
    for _ in range(3):
        bucket.reserve()
    clock.now = 1.0
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]
    clock.now = 61.0
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


@pytest.mark.parametrize(
    ("qps", "burst", "expected"),
    [(100, 250, (100.0, 250)), (0, 0, (DEFAULT_QPS, DEFAULT_BURST)), (-1, 250, None)],
)
def test_zero_and_negative_mean_what_they_mean_in_client_go(
    qps: int, burst: int, expected: tuple[float, int] | None
) -> None:
    """Flagger's defaults give a 100/250 bucket; 0 means client-go's 5/10; a negative QPS means no limit."""
    bucket = bucket_for(qps, burst)
    assert (None if bucket is None else (bucket.qps, bucket.burst)) == expected
