"""The per-Canary scheduler: intervals, wake-ups, isolation between Canaries, and clean stops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from serinus.runtime.scheduler import Key, Scheduler, Wait

A: Key = ("test", "a")
B: Key = ("test", "b")


class Recorder:
    """A tick function that records when each Canary ticked and can be made slow or failing."""

    def __init__(self) -> None:
        self.times: dict[Key, list[float]] = {}
        self.slow: dict[Key, float] = {}
        self.running: set[Key] = set()
        self.overlaps = 0
        self.fail: set[Key] = set()

    async def tick(self, key: Key) -> None:
        if key in self.running:
            self.overlaps += 1
        self.running.add(key)
        self.times.setdefault(key, []).append(asyncio.get_running_loop().time())
        try:
            await asyncio.sleep(self.slow.get(key, 0))
            if key in self.fail:
                raise RuntimeError("boom")
        finally:
            self.running.discard(key)


async def test_first_tick_is_immediate_then_every_interval() -> None:
    """A new Canary ticks at once, then once per interval."""
    rec = Recorder()
    sched = Scheduler(rec.tick, lambda key: 0.2)
    start = asyncio.get_running_loop().time()
    sched.ensure(A)
    await asyncio.sleep(0.7)
    await sched.close()
    times = [t - start for t in rec.times[A]]
    assert times[0] < 0.05
    assert 3 <= len(times) <= 5


async def test_wake_runs_the_next_tick_now() -> None:
    """With a long interval, wake() makes the next tick run at once."""
    rec = Recorder()
    sched = Scheduler(rec.tick, lambda key: 60.0)
    sched.ensure(A)
    await asyncio.sleep(0.05)
    sched.wake(A)
    await asyncio.sleep(0.05)
    await sched.close()
    assert len(rec.times[A]) == 2


async def test_a_slow_canary_does_not_delay_another() -> None:
    """While A's tick hangs for a second, B keeps ticking on its own interval."""
    rec = Recorder()
    rec.slow[A] = 1.0
    sched = Scheduler(rec.tick, lambda key: 0.1)
    sched.ensure(A)
    sched.ensure(B)
    await asyncio.sleep(0.55)
    await sched.close()
    assert len(rec.times[A]) == 1
    assert len(rec.times[B]) >= 4


async def test_wake_during_a_tick_runs_one_more_after_it_never_in_parallel() -> None:
    """Wake-ups during a running tick coalesce into one extra tick after it; ticks never overlap."""
    rec = Recorder()
    rec.slow[A] = 0.2
    sched = Scheduler(rec.tick, lambda key: 60.0)
    sched.ensure(A)
    await asyncio.sleep(0.05)
    for _ in range(5):
        sched.wake(A)
    await asyncio.sleep(0.5)
    await sched.close()
    assert len(rec.times[A]) == 2
    assert rec.overlaps == 0


async def test_interval_changes_and_removal_apply_from_the_next_tick() -> None:
    """A shorter interval takes effect after the current wait; an interval of None ends the job."""
    rec = Recorder()
    intervals: dict[Key, float | None] = {A: 0.3}
    sched = Scheduler(rec.tick, lambda key: intervals[key])
    sched.ensure(A)
    await asyncio.sleep(0.05)
    intervals[A] = 0.05
    await asyncio.sleep(0.5)
    fast = len(rec.times[A])
    assert fast >= 4
    intervals[A] = None
    await asyncio.sleep(0.2)
    assert A not in sched.keys
    assert len(rec.times[A]) <= fast + 1


async def test_a_failing_tick_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """An exception in one tick is logged with the Canary, and the next tick still runs."""
    rec = Recorder()
    rec.fail.add(A)
    sched = Scheduler(rec.tick, lambda key: 0.05)
    with caplog.at_level(logging.ERROR, logger="serinus.runtime.scheduler"):
        sched.ensure(A)
        await asyncio.sleep(0.2)
        await sched.close()
    assert len(rec.times[A]) >= 3
    assert "analysis tick failed" in caplog.text


async def test_forget_cancels_an_in_flight_tick() -> None:
    """Forgetting a deleted Canary stops its job even in the middle of a tick."""
    rec = Recorder()
    rec.slow[A] = 10.0
    sched = Scheduler(rec.tick, lambda key: 1.0)
    sched.ensure(A)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(sched.forget(A), 1.0)
    assert sched.keys == set()
    assert rec.running == set()


async def test_a_tick_that_asks_for_a_shorter_wait_gets_it() -> None:
    """A tick returning Wait(delay) runs the next one after that delay instead of the interval, and the watches
    hear what it waits for (cleared before each tick, set after it)."""
    loop = asyncio.get_running_loop()
    times: list[float] = []
    heard: list[Wait | None] = []

    async def tick(key: Key) -> Wait | None:
        times.append(loop.time())
        return Wait(delay=0.05, workload=("Deployment", "web")) if len(times) == 1 else None

    scheduler = Scheduler(tick, lambda key: 30.0, lambda key, wait: heard.append(wait))
    scheduler.ensure(A)
    await asyncio.sleep(0.3)
    await scheduler.close()
    assert len(times) == 2
    assert 0.04 <= times[1] - times[0] < 0.2
    assert heard == [None, Wait(delay=0.05, workload=("Deployment", "web")), None, None]


async def test_a_failing_interval_or_wait_hook_never_ends_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    """Reading the interval and telling the watches what a tick waits for may raise: each is logged and the
    Canary keeps ticking at the last interval it knew, with its job still listed."""
    rec = Recorder()
    reads = 0

    def interval_of(key: Key) -> float:
        nonlocal reads
        reads += 1
        if reads > 1:
            raise KeyError("index rebuilt")
        return 0.05

    def on_wait(key: Key, wait: Wait | None) -> None:
        raise RuntimeError("watch gone")

    sched = Scheduler(rec.tick, interval_of, on_wait)
    with caplog.at_level(logging.ERROR, logger="serinus.runtime.scheduler"):
        sched.ensure(A)
        await asyncio.sleep(0.3)
        assert sched.keys == {A}
        await sched.close()
    assert len(rec.times[A]) >= 4
    assert "reading the analysis interval failed" in caplog.text
    assert "recording what the tick waits for failed" in caplog.text
