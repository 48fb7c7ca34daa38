"""Benchmark: how fast `serinus simulate` runs the engine on the virtual clock.

Simulates the podinfo Canary (30 s interval, stepWeight 10, maxWeight 50, threshold 5, pre-rollout and rollout
hooks, two metrics) over a 24-hour scenario in which a new revision arrives every 20 minutes and every third
one regresses (latency above the bound for 4 minutes), so the engine goes through whole releases, rollbacks and
idle stretches (idle steps after a finished run are skipped, as they change nothing). Prints the median wall
time of RUNS simulations, the simulated seconds per wall second, and the median cost of one step.
Run: `.venv/bin/python -m bench.simulator [RUNS]` (default 7).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

from serinus.api import Canary
from serinus.sim.runner import simulate
from serinus.sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
DAY_S = 24 * 3600
EVERY_S = 20 * 60


def scenario_doc() -> dict[str, object]:
    """A day of releases: a revision every 20 minutes, every third one with a 4-minute latency regression."""
    revisions = [f"{t}s" for t in range(0, DAY_S, EVERY_S)]
    latency: list[dict[str, object]] = [{"at": "0s", "value": 120}]
    for i, t in enumerate(range(0, DAY_S, EVERY_S)):
        if i % 3 == 2:
            latency += [{"at": f"{t + 120}s", "value": 900}, {"at": f"{t + 360}s", "value": 120}]
    return {
        "duration": f"{DAY_S}s",
        "revisions": revisions,
        "metrics": {"request-success-rate": [{"at": "0s", "value": 99.9}], "request-duration": latency},
    }


def main(runs: int) -> None:
    """Run the benchmark and print its figures."""
    canary = Canary.model_validate(yaml.safe_load((ROOT / "examples/podinfo/canary.yaml").read_text()))
    scenario = parse_scenario(scenario_doc(), canary)
    walls: list[float] = []
    steps = 0
    outcomes: dict[str, int] = {}
    for _ in range(runs):
        began = time.perf_counter()
        result = simulate(canary, scenario)
        walls.append(time.perf_counter() - began)
        steps = len(result.steps)
        outcomes = {}
        for event in result.events:
            for key in ("Promotion completed!", "Canary failed!"):
                if event.message.startswith(key):
                    outcomes[key] = outcomes.get(key, 0) + 1
    wall = statistics.median(walls)
    print(
        f"simulated: {result.duration:.0f} s in {steps} steps; promotions {outcomes.get('Promotion completed!', 0)},"
        f" rollbacks {outcomes.get('Canary failed!', 0)}"
    )
    print(f"median wall time of {runs} runs: {wall:.3f} s (min {min(walls):.3f}, max {max(walls):.3f})")
    print(f"simulated seconds per wall second: {result.duration / wall:,.0f}")
    print(f"median cost of one analysis step: {wall / steps * 1e6:.0f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
