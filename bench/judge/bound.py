"""The information bound: how soon *any* rule can promote a good canary and still keep the PASS guarantee.

Criterion 2 of the benchmark (`bench.judge.acceptance`) asks that a canary beyond the promotion tolerance — errors
`m_pass`× and `δ_pass` above the primary's, or beyond `min: 99` while the primary is within it — be promoted with
probability at most β. Criterion 4 asks that good canaries be promoted within 1.05 × Flagger's mean time. Both
cannot always hold: when a good canary sits close to the nearest severe one, no rule can tell them apart before it
has seen enough canary requests, however clever.

The bound is Wald's (the data-processing inequality at a stopping time N): for the good traffic P and a severe
twin Q, a rule that promotes every good run and promotes Q with probability ≤ β must have E_P[K(N)] ≥ ln(1/β),
where K(m) is the Kullback-Leibler divergence between P and Q of everything observed by minute m. Q is P with the
canary's error rate raised to the lowest rate the labels call severe in some minute before the scheduled promotion
(`severe_twin`; held from then on, or the good canary's own rate when that is higher, so Q stays a severe canary by
the labels). The primary's data and the latency are the same under P and Q, so only the canary's error counts
carry information. K(m) is summed over the minutes of the fastest schedule (10 %, 20 %, … up to maxWeight, then
maxWeight; no rule may ramp faster), given each minute's shared noise factor (an oracle that knows it only learns
more), with the per-version over-dispersion left unseen as it is in the data, and traffic bursts at their rate.
Where an exact sum over counts is too long, an upper bound of the divergence is used, which keeps the bound valid.
Promotion cannot come before the schedule's last step, and a rule may mix early and late promotions, so the least
mean minute is the lower convex hull of the points (K(m), m), m ≥ 5, at K = ln(1/β) (`least_mean_minute`); when
K(5) ≥ ln(1/β) the bound is the schedule's 5 minutes. Considering only the errors metric makes the bound weaker,
never wrong (a rule must exclude every severe alternative, the latency ones too), and so does the oracle's
knowledge of the shared noise.

Run: `.venv/bin/python -m bench.judge.bound [--runs N] [--rps 20,200,2000] [--scenarios G0,G1,...] [--serinus]
[--from judge.json]`.
It prints, per good cell, the severe twin, K(5), the information of the 6th minute, the bound, Flagger-t5's mean
time to promote (simulated on the same generator, `--runs` runs, 0 to skip), the 1.05× bar, whether the bar is
reachable at all, and with `--serinus` the judge's own mean; `--from` takes both means from a matrix's JSON
(`bench.judge.run --out`) instead.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from bench.judge.scenarios import ABS_ERRORS, ERRORS_PASS, SCHEDULE_MIN, Scenario, label, scenarios, schedule
from serinus.sim.traffic import TrafficModel

BETA = 0.05
#: above this mean count the over-dispersed divergence is bounded instead of summed over every count
EXACT_MEAN = 200.0
HORIZON_MIN = 45
#: Gauss-Hermite nodes for the lognormal noise factors
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def nearest_severe(primary_rate: float, canary_rate: float) -> float | None:
    """The canary error rate closest above `canary_rate` that the labels call severe (scenarios.compare): the
    relative tolerance max(m_pass·p, p + δ_pass), or the `min: 99` bound while the primary is within it."""
    m_pass, d_pass = ERRORS_PASS
    candidates = [max(m_pass * primary_rate, primary_rate + d_pass)]
    if primary_rate <= ABS_ERRORS:
        candidates.append(ABS_ERRORS)
    above = [c for c in candidates if c > canary_rate]
    return min(above) if above else None


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> npt.NDArray[np.float64]:
    logs = np.log(np.arange(1, n + 1, dtype=np.float64))
    out = np.zeros(n + 1, dtype=np.float64)
    np.cumsum(logs, out=out[1:])
    return out


def poisson_lognormal_kl(mean_p: float, mean_q: float, sigma: float) -> float:
    """KL(P ‖ Q) of one count: Poisson with mean `mean_p` (`mean_q`) times an unseen lognormal factor (mean 1,
    log-sd `sigma`, the same law under both). With sigma 0 it is the Poisson divergence."""
    if mean_p <= 0.0:
        return mean_q
    poisson = mean_p * math.log(mean_p / mean_q) - mean_p + mean_q
    if sigma <= 0.0:
        return poisson
    if max(mean_p, mean_q) > EXACT_MEAN:
        # both are upper bounds of the count's divergence (given the factor; of the factor alone, which the count
        # only blurs), so their minimum is one too, and the bound on time stays valid
        return min(poisson, (math.log(mean_p / mean_q)) ** 2 / (2.0 * sigma * sigma))
    factors = np.exp(sigma * _NODES - sigma * sigma / 2.0)
    top = int(max(mean_p, mean_q) * factors.max() * 1.5 + 10.0 * math.sqrt(max(mean_p, mean_q) * factors.max()) + 30)
    k = np.arange(top + 1, dtype=np.float64)
    log_fact = _log_factorials(top)

    def pmf(mean: float) -> npt.NDArray[np.float64]:
        lam = mean * factors[:, None]
        out: npt.NDArray[np.float64] = (
            _WEIGHTS[:, None] * np.exp(k[None, :] * np.log(lam) - lam - log_fact[None, :])
        ).sum(axis=0)
        return out

    p, q = pmf(mean_p), pmf(mean_q)
    keep = p > 0.0
    return float((p[keep] * (np.log(p[keep]) - np.log(np.maximum(q[keep], 1e-300)))).sum())


def severe_twin(model: TrafficModel) -> float | None:
    """The error rate of the nearest persistently severe canary: the lowest rate that the labels call severe in
    some minute before the scheduled promotion (a severe canary need not be severe later). None when no canary
    above the good one is severe (the cell then gives no bound)."""
    rates = []
    for minute in range(SCHEDULE_MIN):
        primary, canary = model.versions_at((minute + 0.5) * 60.0)
        severe = nearest_severe(primary.error_rate, canary.error_rate)
        if severe is not None:
            rates.append(severe)
    return min(rates) if rates else None


def minute_information(model: TrafficModel, minute: int, share: float, severe: float) -> float:
    """KL between the good traffic and its severe twin (the canary's error rate `severe`, or the good canary's
    own when that is higher) of one minute's canary error count at `share`, given the shared noise (integrated
    over its law), with the per-version over-dispersion left unseen."""
    t = (minute + 0.5) * 60.0
    _, canary = model.versions_at(t)
    twin = max(severe, canary.error_rate)
    if twin <= canary.error_rate:
        return 0.0
    requests = model.rps * model.rate_factor(t) * 60.0 * share
    shared = [(1.0, 1.0)]
    if model.shared_sigma:
        shared = [
            (float(w), float(math.exp(model.shared_sigma * z - model.shared_sigma**2 / 2)))
            for z, w in zip(_NODES, _WEIGHTS, strict=True)
        ]
    blips = [(1.0 - model.blip_probability, 1.0)]
    if model.blip_probability:
        blips.append((model.blip_probability, model.blip_multiplier))
    bursts = [(1.0 - model.burst_probability, 1.0)]
    if model.burst_probability:
        bursts.append((model.burst_probability, model.burst_multiplier))
    total = 0.0
    for w_s, s in shared:
        for w_b, b in blips:
            for w_t, burst in bursts:
                factor = s * b
                mean_p = requests * burst * min(1.0, canary.error_rate * factor)
                mean_q = requests * burst * min(1.0, twin * factor)
                total += w_s * w_b * w_t * poisson_lognormal_kl(mean_p, mean_q, model.overdispersion)
    return total


@dataclass(frozen=True)
class Bound:
    """The information bound of one cell."""

    scenario: str
    rps: float
    severe: float | None  # the severe twin's error rate
    k_gate: float  # nats by the last step of the schedule
    k_next: float  # nats the first minute after the gate adds
    minutes: float  # lower bound on the mean minute of promotion


def least_mean_minute(cumulative: list[float], need: float, first: int = SCHEDULE_MIN) -> float:
    """The least E[N] over stopping rules N ≥ `first` (minutes) with E[K(N)] ≥ `need`, K(m) = cumulative[m − 1]:
    a rule may mix early and late promotions, so this is the lower convex hull of the points (K(m), m) at
    K = need (a linear programme over the distributions of N); inf when even the last minute is short of it."""
    points = [(cumulative[m - 1], float(m)) for m in range(first, len(cumulative) + 1)]
    if points[0][0] >= need:
        return float(first)
    if points[-1][0] < need:
        return math.inf
    best = math.inf
    for k_lo, m_lo in points:
        if k_lo > need:
            continue
        for k_hi, m_hi in points:
            if k_hi < need or k_hi <= k_lo:
                continue
            share = (need - k_lo) / (k_hi - k_lo)
            best = min(best, m_lo + share * (m_hi - m_lo))
    return best


def bound(scen: Scenario, rps: float, beta: float = BETA) -> Bound:
    """The information bound for one good cell (see the module docstring)."""
    model = scen.model(rps, 0)
    severe = severe_twin(model)
    shares = schedule(HORIZON_MIN)
    info = [minute_information(model, i, shares[i], severe) if severe is not None else 0.0 for i in range(HORIZON_MIN)]
    cumulative = list(np.cumsum(info))
    minutes = least_mean_minute(cumulative, math.log(1.0 / beta)) if severe is not None else float(SCHEDULE_MIN)
    return Bound(scen.key, rps, severe, float(cumulative[SCHEDULE_MIN - 1]), info[SCHEDULE_MIN], minutes)


def _mean_promotion(scen: Scenario, rps: float, rule: str, runs: int, seed: int) -> float:
    from bench.judge.run import simulate, summarise  # the matrix's own runner, imported late: it pulls in every rule

    mean = summarise(scen, rps, rule, simulate(scen, rps, rule, runs, seed), 0.0)["promote_min_mean"]
    return math.nan if mean is None else float(mean)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs per cell for Flagger's mean (default 1000)")
    parser.add_argument("--rps", default="20,200,2000")
    parser.add_argument("--scenarios", default="")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serinus", action="store_true", help="also simulate the judge's mean")
    parser.add_argument(
        "--from", dest="source", default="", help="read the means from a bench.judge.run JSON instead of simulating"
    )
    args = parser.parse_args(argv)
    measured: dict[tuple[str, float, str], float] = {}
    if args.source:
        with open(args.source, encoding="utf-8") as fh:
            for r in json.load(fh)["results"]:
                if r["promote_min_mean"] is not None:
                    measured[(r["scenario"], float(r["rps"]), r["rule"])] = float(r["promote_min_mean"])

    def mean(scen: Scenario, rps: float, rule: str) -> float:
        if args.source:
            return measured.get((scen.key, rps, rule), math.nan)
        return _mean_promotion(scen, rps, rule, args.runs, args.seed) if args.runs else math.nan

    every = scenarios()
    keys = [k for k in (args.scenarios.split(",") if args.scenarios else every) if label(every[k]) == "good"]
    header = (
        "| RPS | scenario | severe twin | K(5) nats | 6th minute nats | bound (min) | flagger-t5 (min) | "
        "1.05× bar | reachable |"
    )
    if args.serinus:
        header += " serinus (min) |"
    print(header)
    print("| --- " * (header.count("|") - 1) + "|")
    for rps in (float(x) for x in args.rps.split(",")):
        for key in keys:
            b = bound(every[key], rps)
            flagger = mean(every[key], rps, "flagger-t5")
            bar = 1.05 * flagger
            reachable = "-" if math.isnan(bar) else "yes" if b.minutes <= bar else "**no**"
            twin = f"{b.severe * 100:.2g} % errors" if b.severe is not None else "-"
            line = (
                f"| {rps:g} | {key} | {twin} | {b.k_gate:.2f} | {b.k_next:.2f} | {b.minutes:.2f} | "
                f"{flagger:.2f} | {bar:.2f} | {reachable} |"
            )
            if args.serinus:
                line += f" {mean(every[key], rps, 'serinus'):.2f} |"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
