"""Benchmark: how the per-Canary scheduler scales to thousands of Canaries in one process.

Starts N jobs whose analysis is a no-op that records its time, each with a 10 s interval (Flagger's minimum),
runs them for DURATION seconds of wall time, and reports how late ticks ran compared with their schedule
(median and p99 lag), the CPU time the process used per tick, and the memory per Canary.
Run: `.venv/bin/python -m bench.scheduler_scale [N] [DURATION]` (defaults 5000 and 30).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import time

from serinus.runtime.scheduler import Key, Scheduler

INTERVAL = 10.0


async def _run(n: int, duration: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    last: dict[Key, float] = {}
    lags: list[float] = []

    async def analyze(key: Key) -> None:
        now = loop.time()
        previous = last.get(key)
        if previous is not None:
            lags.append(now - previous - INTERVAL)
        last[key] = now

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scheduler = Scheduler(analyze, lambda key: INTERVAL)
    cpu0 = time.process_time()
    for i in range(n):
        scheduler.ensure(("bench", f"canary-{i}"))
        if i % 500 == 0:
            await asyncio.sleep(0)  # spread first ticks a little, as watches deliver Canaries over time
    await asyncio.sleep(duration)
    cpu = time.process_time() - cpu0
    ticks = sum(scheduler.ticks(key) for key in scheduler.keys)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await scheduler.close()
    lags.sort()
    return {
        "canaries": n,
        "seconds": duration,
        "ticks": ticks,
        "median_lag_ms": round(statistics.median(lags) * 1000, 2) if lags else 0.0,
        "p99_lag_ms": round(lags[int(len(lags) * 0.99)] * 1000, 2) if lags else 0.0,
        "cpu_us_per_tick": round(cpu / max(ticks, 1) * 1e6, 1),
        "cpu_share_of_one_core": round(cpu / duration, 4),
        "rss_kib_per_canary": round((rss1 - rss0) / n, 2),
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    print(json.dumps(asyncio.run(_run(n, seconds)), indent=2))
