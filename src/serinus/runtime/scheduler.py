"""One asyncio task per Canary: runs its analysis tick every interval, or at once when woken.

Each Canary's ticks run in its own task, so a slow webhook or query of one Canary never delays another. A tick
is never run twice at the same time for one Canary; a wake-up that arrives during a tick runs one more tick
right after it (wake-ups coalesce). The interval is read again after every tick, so a change of
`analysis.interval` applies from the next tick on, as does removal of the Canary. Nothing a tick (or reading the
interval) raises ends a Canary's loop: it is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name)
#: the interval a Canary's loop keeps while its own cannot be read
FALLBACK_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Wait:
    """What a tick asks of the scheduler: the next tick after `delay` seconds at the latest (instead of the
    interval), and/or as soon as the workload (kind, name) is ready (the watches report it)."""

    delay: float | None = None
    workload: tuple[str, str] | None = None
    threshold: int = 100


Tick = Callable[[Key], Awaitable["Wait | None"]]
IntervalOf = Callable[[Key], float | None]
OnWait = Callable[[Key, "Wait | None"], None]


@dataclass
class _Job:
    task: asyncio.Task[None]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ticks: int = 0


class Scheduler:
    """Runs `tick(key)` for every known Canary; `interval_of(key)` says how often (None: the Canary is gone)."""

    def __init__(self, tick: Tick, interval_of: IntervalOf, on_wait: OnWait | None = None) -> None:
        self._tick = tick
        self._interval_of = interval_of
        self._on_wait = on_wait
        self._jobs: dict[Key, _Job] = {}

    @property
    def keys(self) -> set[Key]:
        """The Canaries that have a running job."""
        return set(self._jobs)

    def ticks(self, key: Key) -> int:
        """How many ticks have completed for `key` (for metrics and tests)."""
        job = self._jobs.get(key)
        return job.ticks if job else 0

    def ensure(self, key: Key) -> None:
        """Start a job for `key` if it has none; its first tick runs at once."""
        if key not in self._jobs:
            job = _Job(task=asyncio.get_running_loop().create_task(self._run(key), name=f"canary:{key[0]}/{key[1]}"))
            self._jobs[key] = job

    def wake(self, key: Key) -> None:
        """Run the next tick of `key` now instead of at the end of its interval."""
        job = self._jobs.get(key)
        if job is not None:
            job.wake.set()

    async def forget(self, key: Key) -> None:
        """Stop the job of `key` (its Canary was deleted); an in-flight tick is cancelled."""
        job = self._jobs.pop(key, None)
        if job is not None:
            job.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job.task

    async def close(self) -> None:
        """Stop every job."""
        for key in list(self._jobs):
            await self.forget(key)

    async def _run(self, key: Key) -> None:
        job = self._jobs[key]
        interval = FALLBACK_INTERVAL_S
        while True:
            job.wake.clear()
            self._waited(key, None)  # what the last tick waited for is this tick's to check
            wait: Wait | None = None
            try:
                result = await self._tick(key)
                wait = result if isinstance(result, Wait) else None
            except asyncio.CancelledError:
                raise
            except Exception:  # one Canary's failure must never stop its own loop or anyone else's
                log.exception("analysis tick failed", extra={"canary": f"{key[1]}.{key[0]}"})
            job.ticks += 1
            self._waited(key, wait)
            try:
                known = self._interval_of(key)
            except Exception:  # keep ticking at the last interval known rather than end the Canary's loop
                log.exception("reading the analysis interval failed", extra={"canary": f"{key[1]}.{key[0]}"})
            else:
                if known is None:
                    self._jobs.pop(key, None)
                    return
                interval = known
            if job.wake.is_set():
                continue
            timeout = interval if wait is None or wait.delay is None else min(interval, wait.delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.wake.wait(), timeout=timeout)

    def _waited(self, key: Key, wait: Wait | None) -> None:
        """Tell on_wait what the tick waits for; its failure is logged, never the end of the loop."""
        if self._on_wait is None:
            return
        try:
            self._on_wait(key, wait)
        except Exception:
            log.exception("recording what the tick waits for failed", extra={"canary": f"{key[1]}.{key[0]}"})
