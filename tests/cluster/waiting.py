"""Polling helper for cluster tests: wait for a condition with a deadline and say what never happened."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60.0, every: float = 0.25) -> T:
    """Call `probe` until it returns something truthy and return that; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last observed: {last!r}")


async def until(check: Callable[[], bool | Awaitable[bool]], within: float, what: str, every: float = 0.05) -> None:
    """Await until `check()` (plain or async) holds; fail naming `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"not within {within}s: {what}")
