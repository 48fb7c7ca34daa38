"""Client-side rate limit of Kubernetes API requests: client-go's QPS and Burst (Flagger's -kubeconfig-qps and
-kubeconfig-burst).

A token bucket holds up to `burst` tokens and gains `qps` a second; every request takes one, waiting for it when
the bucket is empty, as client-go's flowcontrol.NewTokenBucketRateLimiter does. As in client-go's rest config, a
QPS of 0 means 5 and a burst of 0 means 10, and a negative QPS turns the limit off. A watch takes a token to start
and none while it streams.

`set_rate_limit()` sets the process's limit; `connect()` (serinus.kube.client) puts every client it makes behind
it, so all the operator's clients share one bucket (Flagger's several clientsets each had their own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx2

#: client-go's rest.DefaultQPS and rest.DefaultBurst, used where 0 is given
DEFAULT_QPS = 5.0
DEFAULT_BURST = 10


class TokenBucket:
    """`burst` tokens at most, `qps` more each second; `await take()` returns once a token is ours."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()

    def reserve(self) -> float:
        """Take a token now, going into debt when there is none; the seconds to wait before using it."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        # a debt is paid back in order: the n-th waiter waits n tokens' worth of time
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def take(self) -> None:
        """Wait for a token."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


def bucket_for(qps: float, burst: int) -> TokenBucket | None:
    """The bucket client-go would build for this QPS and burst (None: no limit)."""
    qps = DEFAULT_QPS if qps == 0 else qps
    burst = DEFAULT_BURST if burst == 0 else burst
    return TokenBucket(qps, burst) if qps > 0 else None


class RateLimitedTransport(httpx2.AsyncBaseTransport):
    """An httpx transport that takes a token from `bucket` before each request it passes on."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, bucket: TokenBucket) -> None:
        self.inner = inner
        self.bucket = bucket

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Wait for a token, then send `request`."""
        await self.bucket.take()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


_bucket: TokenBucket | None = None


def set_rate_limit(qps: float, burst: int) -> None:
    """Limit every client `connect()` makes from now on to `qps` requests a second with bursts of `burst`."""
    global _bucket
    _bucket = bucket_for(qps, burst)


def limited(transport: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
    """`transport` behind the process's rate limit, if one is set."""
    return RateLimitedTransport(transport, _bucket) if _bucket is not None else transport
