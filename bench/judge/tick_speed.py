"""How long one statistical-judge tick takes: `judge_tick` on the example Canary's two metrics.

    .venv/bin/python -m bench.judge.tick_speed [REPEATS]

The judge runs once per metric interval in the operator, but the benchmark (`bench.judge.run`) and `serinus
simulate` call it hundreds of thousands of times, so its cost matters there. Three situations, each the state
after a few intervals: advancing at 20 RPS, holding at the gate at 0.5 RPS, promoting at 200 RPS. Prints the
median and the best of REPEATS timings of 2,000 ticks, in microseconds per tick; then the same for the operator's
round trip of the last state through status.judge (`encode_state`, JSON text and back, `decode_state`), which
the operator adds to each tick and the benchmark does not.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import timeit
from pathlib import Path

import yaml

from serinus.api import Canary
from serinus.engine.judge.config import judge_config
from serinus.engine.judge.state import JudgeState, decode_state, encode_state
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import Observation, Tick, VersionCounts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/podinfo/judge-canary.yaml"
#: Istio's bucket bounds (ms) up to 10 s, then +Inf
BOUNDS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, math.inf)
#: the cumulative share of a lognormal service (median 80 ms, sigma 0.5) at each bound
SHARES = (0.0, 0.0, 0.0, 0.0, 0.01, 0.17, 0.67, 0.99, 0.9995, 1.0, 1.0, 1.0, 1.0, 1.0)


def _observations(rps: float, weight: int) -> list[Observation]:
    n_c = rps * 60 * weight / 100
    n_p = rps * 60 - n_c

    def buckets(n: float) -> tuple[tuple[float, float], ...]:
        return tuple((b, n * s) for b, s in zip(BOUNDS, SHARES, strict=True))

    return [
        Observation(
            "request-success-rate",
            "ratio",
            VersionCounts(requests=n_c, bad=n_c * 0.001),
            VersionCounts(requests=n_p, bad=n_p * 0.001),
        ),
        Observation(
            "request-duration", "histogram", VersionCounts(buckets=buckets(n_c)), VersionCounts(buckets=buckets(n_p))
        ),
    ]


def main(argv: list[str]) -> int:
    """Time the three situations and print µs per tick."""
    repeats = int(argv[0]) if argv else 7
    doc = next(d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d and d.get("kind") == "Canary")
    config = judge_config(Canary.model_validate(doc))
    assert config is not None
    for name, rps, weights in (
        ("advance, 20 RPS", 20.0, (10, 20, 30, 40)),
        ("hold at the gate, 0.5 RPS", 0.5, (10, 20, 30, 40, 50, 50, 50)),
        ("promote, 200 RPS", 200.0, (10, 20, 30, 40, 50)),
    ):
        state = None
        for minute, weight in enumerate(weights[:-1], start=1):
            state = judge_tick(
                config, state, Tick(minute * 60.0, 60.0, weight, weight == 50), _observations(rps, weight)
            ).state
        last = weights[-1]
        tick = Tick(len(weights) * 60.0, 60.0, last, last == 50)
        observations = _observations(rps, last)

        def one(s: JudgeState | None = state, t: Tick = tick, o: list[Observation] = observations) -> None:
            judge_tick(config, s, t, o)

        _report(name, timeit.repeat(one, number=2000, repeat=repeats))
    assert state is not None
    stored = state

    def round_trip() -> None:
        decode_state(json.loads(json.dumps(encode_state(stored))))

    _report("status round trip of the promoting state", timeit.repeat(round_trip, number=2000, repeat=repeats))
    return 0


def _report(name: str, timings: list[float]) -> None:
    per_tick = [t / 2000 * 1e6 for t in timings]
    print(f"{name}: median {statistics.median(per_tick):.0f} µs per tick, best {min(per_tick):.0f} µs")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
