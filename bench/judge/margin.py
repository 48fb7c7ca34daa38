"""How far beyond an absolute bound the promotion guarantee breaks under strong per-version noise.

Scenario AT of the matrix (`bench.judge.scenarios`) is AA's noise — both versions at 0.5 % errors, per-version
lognormal σ 0.5 a minute, shared σ 0.3, diurnal traffic — with the canary just beyond `min: 99` (1.01 % errors on
average). The judge promotes it on evidence more often than `missedRegressionRate` allows (docs/judge.md, Limits):
its absolute promotion test assumes binomial counts tempered by the dispersion it has measured, and the first
minutes of a skewed noise mostly look below the mean. This sweep moves AT's canary further beyond the bound, with
the noise unchanged, and reports the share of runs promoted on evidence (and by the onInconclusive policy) at each
distance, so the size of the gap is a number a user can read, not a single cell.

Run: `nice -n 10 .venv/bin/python -m bench.judge.margin [--runs N] [--rates 0.0101,0.012,0.015,0.02]
[--rps 20,200,2000] [--rule serinus] [--seed S]`. It prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from bench.judge.run import simulate, summarise
from bench.judge.scenarios import ABS_ERRORS, Scenario, scenarios

RATES = (0.0101, 0.012, 0.015, 0.02)
RPS = (20.0, 200.0, 2000.0)


def beyond(rate: float) -> Scenario:
    """AT with the canary's mean error rate at `rate` (the primary, the noise and the bound unchanged)."""
    base = scenarios()["AT"]
    traffic = {**base.traffic, "canary": {**base.traffic["canary"], "errorRate": rate}}
    # the key stays AT, so every rate sees the same cell seed (common random numbers) and the first row is the
    # matrix's own AT cell
    return dataclasses.replace(base, title=f"A/A noise, canary at {100 * rate:g} %", traffic=traffic)


def sweep(
    rates: tuple[float, ...], rps_levels: tuple[float, ...], runs: int, seed: int, rule: str = "serinus"
) -> list[dict[str, Any]]:
    """One summary (`bench.judge.run.summarise`) per canary rate and traffic level."""
    out = []
    for rate in rates:
        scenario = beyond(rate)
        for rps in rps_levels:
            summary = summarise(scenario, rps, rule, simulate(scenario, rps, rule, runs, seed), 0.0)
            out.append({**summary, "rate": rate})
    return out


def _share(share: dict[str, float]) -> str:
    return f"{100 * share['p']:.1f} % [{100 * share['low']:.1f}, {100 * share['high']:.1f}]"


def markdown(results: list[dict[str, Any]]) -> str:
    """The table: canary rate (and how far beyond the bound), RPS, promoted on evidence and by policy, rolled back."""
    lines = [
        "| canary errors | beyond `min: 99` by | RPS | promoted on evidence | promoted by policy | rolled back |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in results:
        lines.append(
            f"| {100 * s['rate']:g} % | {100 * (s['rate'] / ABS_ERRORS - 1):.0f} % | {s['rps']:g} | "
            f"{_share(s['promote_by_evidence'])} | {_share(s['promote_by_policy'])} | "
            f"{_share(s['rollback'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the sweep, print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.judge.margin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES))
    parser.add_argument("--rps", default=",".join(f"{r:g}" for r in RPS))
    parser.add_argument("--rule", default="serinus")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rates = tuple(float(x) for x in args.rates.split(",") if x)
    rps_levels = tuple(float(x) for x in args.rps.split(",") if x)
    if any(not ABS_ERRORS < rate < 1.0 for rate in rates):
        parser.error(f"every rate must be beyond the bound ({ABS_ERRORS:g}) and below 1")
    print(f"{args.runs} runs per cell, seed {args.seed}, rule {args.rule}\n")
    print(markdown(sweep(rates, rps_levels, args.runs, args.seed, args.rule)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
