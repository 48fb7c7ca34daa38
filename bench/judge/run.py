"""Benchmark: does Serinus's statistical judge beat Flagger's rule, hand-written baselines and Kayenta?

Runs the benchmark's matrix (scenarios × traffic levels × rules), closed-loop: in each cell the generator of
`serinus.sim.traffic` (the one `serinus simulate` uses) is vectorised over the runs, and every run steps its own
rule object, whose decisions set that run's canary weight for the next interval. All rules of a cell share the
cell's seed, so with common random numbers a run sees the same requests under every rule that holds the same
weight. The schedule is the benchmark's Canary: interval 1m, stepWeight 10 (first interval at 10 %), maxWeight
50, threshold 5, `min: 99`, `max: 500`; the statistical judge holds at most 30m at the gate (maxHold). A run that
is still undecided at the horizon (45 min) counts as undecided (pause, or held below the gate).

Measures per cell and rule (`bench.judge.acceptance` checks them), each share with a Wilson 95 % interval:
rollbacks and promotions (false rollbacks of good canaries, missed = promoted severe canaries, detected moderate
ones), decisions taken by the onInconclusive policy, hold time, minute of promotion as a multiple of the 5-minute
schedule, minutes from onset to rollback, and bad exposure (canary weight × minutes served while bad, up to the
decision).

Run: `nice -n 10 .venv/bin/python -m bench.judge.run [--runs N] [--rps 0.5,2,20,200,2000] [--scenarios G0,B2]
[--rules flagger-t5,serinus] [--seed S] [--workers 2] [--out FILE.json] [--markdown FILE.md]`. It prints the
table and the acceptance verdicts (`bench.judge.acceptance`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from multiprocessing import Pool
from typing import Any

import numpy as np

from bench.judge.baselines import FisherPerInterval, PeekingZ
from bench.judge.common import Counts, Decision, Interval, Rule, wilson
from bench.judge.flagger import FlaggerRule, FlaggerSpec
from bench.judge.kayenta import KayentaRule
from bench.judge.scenarios import SCHEDULE_MIN, Scenario, label, scenarios
from bench.judge.serinus_rule import SerinusRule, serinus_config
from serinus.engine.judge import evidence
from serinus.sim.traffic import CANARY, PRIMARY, Generator, Window

INTERVAL_S = 60.0
HORIZON_MIN = 45
RPS_LEVELS = (0.5, 2.0, 20.0, 200.0, 2000.0)

RuleFactory = Callable[[int], Rule]


def _flagger(name: str, spec: FlaggerSpec) -> RuleFactory:
    return lambda run: FlaggerRule(name, spec)


def _serinus(name: str, judge: dict[str, Any] | None = None) -> RuleFactory:
    config = serinus_config(judge)
    return lambda run: SerinusRule(name, config)


def rule_factories() -> dict[str, RuleFactory]:
    """Every rule under test, by name: a factory taking the run's index."""
    rules: dict[str, RuleFactory] = {}
    for threshold in (1, 2, 5, 10):
        rules[f"flagger-t{threshold}"] = _flagger(f"flagger-t{threshold}", FlaggerSpec(threshold=threshold))
    rules["flagger-t5-sr99.9"] = lambda run: FlaggerRule("flagger-t5-sr99.9", FlaggerSpec(success_min=99.9))
    rules["flagger-t5-p1000"] = lambda run: FlaggerRule("flagger-t5-p1000", FlaggerSpec(duration_max_ms=1000))
    rules["peek-z"] = lambda run: PeekingZ()
    rules["fisher-per-interval"] = lambda run: FisherPerInterval()
    rules["kayenta"] = lambda run: KayentaRule(seed=run)
    rules["serinus"] = _serinus("serinus")
    rules["serinus-everystep"] = _serinus("serinus-everystep", {"gate": "everyStep"})
    for policy in ("rollback", "promote", "pause"):
        rules[f"serinus-inconclusive-{policy}"] = _serinus(f"serinus-inconclusive-{policy}", {"onInconclusive": policy})
    rules["serinus-untempered"] = _serinus("serinus-untempered")  # φ fixed at 1 (see _untempered)
    return rules


#: rules whose runs need the judge's over-dispersion estimate switched off (φ = 1): the judge always tempers,
#: and this variant shows what that buys
UNTEMPERED = {"serinus-untempered"}


@dataclass
class Runs:
    """Per-run outcomes of one rule in one cell."""

    outcome: list[str] = field(default_factory=list)  # promote | rollback | undecided
    minute: list[float] = field(default_factory=list)  # of the decision (NaN when undecided)
    by_policy: list[bool] = field(default_factory=list)
    holds: list[int] = field(default_factory=list)  # intervals held (HOLD/FREEZE)
    exposure: list[float] = field(default_factory=list)  # weight (fraction) × minutes while bad


def cell_seed(seed: int, scenario: str, rps: float) -> int:
    """The cell's seed: the same for every rule of the cell (common random numbers), different across cells."""
    return zlib.crc32(f"{seed}/{scenario}/{rps:g}".encode())


def simulate(
    scenario: Scenario, rps: float, rule_name: str, runs: int, seed: int, horizon_min: int = HORIZON_MIN
) -> Runs:
    """Run one rule over `runs` closed-loop runs of one cell."""
    factory = rule_factories()[rule_name]
    saved_cap = evidence.PHI_CAP
    if rule_name in UNTEMPERED:
        evidence.PHI_CAP = 1.0
    try:
        return _simulate(scenario, rps, factory, runs, cell_seed(seed, scenario.key, rps), horizon_min)
    finally:
        evidence.PHI_CAP = saved_cap


def _simulate(scenario: Scenario, rps: float, factory: RuleFactory, runs: int, seed: int, horizon_min: int) -> Runs:
    gen = Generator(scenario.model(rps, seed), runs)
    bounds = tuple(float(b) for b in gen.bounds)
    per_interval = round(INTERVAL_S / gen.dt)
    rules = [factory(r) for r in range(runs)]
    weights = np.array([rule.weight for rule in rules], dtype=np.float64)
    out = Runs(
        outcome=["undecided"] * runs,
        minute=[math.nan] * runs,
        by_policy=[False] * runs,
        holds=[0] * runs,
        exposure=[0.0] * runs,
    )
    active = list(range(runs))
    bad = label(scenario) != "good"
    started = 0.0 if scenario.warmup else None
    for minute in range(1, horizon_min + 1):
        t0 = (minute - 1) * INTERVAL_S
        subs = [gen.step(t0 + i * gen.dt, weights / 100.0, canary_started=started) for i in range(per_interval)]
        window = Window.of(subs, gen.bounds)
        requests = window.requests.tolist()
        errors = window.errors.tolist()
        buckets_c = window.buckets[CANARY].tolist()
        buckets_p = window.buckets[PRIMARY].tolist()
        still: list[int] = []
        for r in active:
            rule = rules[r]
            weight = int(weights[r])
            interval = Interval(
                minute,
                float(minute),
                weight,
                bounds,
                Counts(requests[CANARY][r], errors[CANARY][r], tuple(buckets_c[r])),
                Counts(requests[PRIMARY][r], errors[PRIMARY][r], tuple(buckets_p[r])),
            )
            if bad and minute > scenario.onset_min:
                out.exposure[r] += weight / 100.0 * min(1.0, minute - scenario.onset_min)
            decision = rule.step(interval)
            if decision in (Decision.HOLD, Decision.FAIL) and isinstance(rule, SerinusRule):
                out.holds[r] += 1
            if decision is Decision.ROLLBACK or decision is Decision.PROMOTE:
                out.outcome[r] = "rollback" if decision is Decision.ROLLBACK else "promote"
                out.minute[r] = float(minute)
                out.by_policy[r] = bool(getattr(rule, "policy", ""))
                weights[r] = 0.0
                continue
            if getattr(rule, "policy", "") == "pause":
                out.by_policy[r] = True
            weights[r] = rule.weight
            still.append(r)
        active = still
        if not active:
            break
    return out


# --- summaries ---------------------------------------------------------------------------------------------------


def _share(k: int, n: int) -> dict[str, float]:
    low, high = wilson(k, n)
    return {"k": k, "n": n, "p": k / n if n else math.nan, "low": low, "high": high}


def _median(values: Iterable[float]) -> float | None:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else None


def _mean(values: Iterable[float]) -> float | None:
    values = [v for v in values if not math.isnan(v)]
    return statistics.fmean(values) if values else None


def summarise(scenario: Scenario, rps: float, rule: str, runs: Runs, wall_s: float) -> dict[str, Any]:
    """The measures of one cell and rule."""
    n = len(runs.outcome)
    promoted = [i for i in range(n) if runs.outcome[i] == "promote"]
    rolled = [i for i in range(n) if runs.outcome[i] == "rollback"]
    undecided = [i for i in range(n) if runs.outcome[i] == "undecided"]
    policy_promoted = sum(1 for i in promoted if runs.by_policy[i])
    policy_rolled = sum(1 for i in rolled if runs.by_policy[i])
    inconclusive = policy_promoted + policy_rolled + len(undecided)
    onset = scenario.onset_min
    return {
        "scenario": scenario.key,
        "title": scenario.title,
        "label": label(scenario),
        "rps": rps,
        "rule": rule,
        "runs": n,
        "wall_s": round(wall_s, 2),
        "rollback": _share(len(rolled), n),
        "promote": _share(len(promoted), n),
        "undecided": _share(len(undecided), n),
        "promote_by_evidence": _share(len(promoted) - policy_promoted, n),
        "rollback_by_evidence": _share(len(rolled) - policy_rolled, n),
        "promote_by_policy": _share(policy_promoted, n),
        "rollback_by_policy": _share(policy_rolled, n),
        "inconclusive": _share(inconclusive, n),
        "hold_min_mean": statistics.fmean(runs.holds) if n else None,
        "promote_min_median": _median(runs.minute[i] for i in promoted),
        "promote_min_mean": _mean(runs.minute[i] for i in promoted),
        "promote_vs_schedule": (_mean(runs.minute[i] for i in promoted) or math.nan) / SCHEDULE_MIN
        if promoted
        else None,
        "rollback_from_onset_median": _median(runs.minute[i] - onset for i in rolled),
        "rollback_from_onset_mean": _mean(runs.minute[i] - onset for i in rolled),
        "exposure_mean": statistics.fmean(runs.exposure) if n else None,
    }


def _task(args: tuple[str, float, str, int, int]) -> dict[str, Any]:
    key, rps, rule, runs, seed = args
    with contextlib.suppress(OSError):
        os.nice(10)
    scenario = scenarios()[key]
    began = time.perf_counter()
    result = simulate(scenario, rps, rule, runs, seed)
    return summarise(scenario, rps, rule, result, time.perf_counter() - began)


def run_matrix(
    scenario_keys: Iterable[str],
    rps_levels: Iterable[float],
    rules: Iterable[str],
    runs: int,
    seed: int,
    workers: int = 2,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Every (scenario, rps, rule) of the matrix, over `workers` processes; the summaries in matrix order."""
    tasks = [(key, rps, rule, runs, seed) for rps in rps_levels for key in scenario_keys for rule in rules]
    # the slow tasks first (statistical judge at low traffic holds longest), so the pool ends together
    order = sorted(range(len(tasks)), key=lambda i: (not tasks[i][2].startswith("serinus"), tasks[i][1]))
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    if workers <= 1:
        for done, i in enumerate(order, 1):
            results[i] = _task(tasks[i])
            if progress:
                print(f"[{done}/{len(tasks)}] {tasks[i][:3]}", file=sys.stderr, flush=True)
    else:
        with Pool(workers) as pool:
            for done, (i, summary) in enumerate(
                zip(order, pool.imap(_task, [tasks[i] for i in order]), strict=True), 1
            ):
                results[i] = summary
                if progress and done % 10 == 0:
                    print(f"[{done}/{len(tasks)}]", file=sys.stderr, flush=True)
    return [r for r in results if r is not None]


# --- report ------------------------------------------------------------------------------------------------------


def _pct(share: dict[str, float]) -> str:
    return f"{100 * share['p']:.1f}%"


def cell_text(summary: dict[str, Any]) -> str:
    """One table cell: the share that matters for the label / median minute of that decision (and how many
    runs the onInconclusive policy decided or left undecided)."""
    good = summary["label"] == "good"
    share = summary["rollback"] if good else summary["promote"]
    minute = summary["promote_min_median"] if good else summary["rollback_from_onset_median"]
    text = f"{_pct(share)} / {minute:g}" if minute is not None else f"{_pct(share)} / -"
    inconclusive = summary["inconclusive"]["p"]
    if inconclusive > 0:
        text += f" ({100 * inconclusive:.0f}% inc)"
    return text


def markdown(results: list[dict[str, Any]], rules: list[str]) -> str:
    """The results table: per traffic level and scenario, one column per rule."""
    lines = [
        "| RPS | scenario | label | " + " | ".join(rules) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in rules) + " |",
    ]
    cells: dict[tuple[float, str], dict[str, dict[str, Any]]] = {}
    for s in results:
        cells.setdefault((s["rps"], s["scenario"]), {})[s["rule"]] = s
    for (rps, key), by_rule in cells.items():
        first = next(iter(by_rule.values()))
        row = [f"{rps:g}", f"{key} {first['title']}", first["label"]]
        row += [cell_text(by_rule[r]) if r in by_rule else "" for r in rules]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def detail_markdown(results: list[dict[str, Any]], rule: str = "serinus", baseline: str = "flagger-t5") -> str:
    """One rule in detail, per traffic level and scenario: rollbacks and promotions split into evidence and
    policy, undecided and inconclusive shares, mean minutes held, median minutes from onset to rollback, mean
    promotion minute (÷ the schedule minimum) against the baseline's, and bad exposure (weight × minutes)."""
    lines = [
        "| RPS | scenario | label | rollback (evidence / policy) | promote (evidence / policy) | undecided | "
        f"inconclusive | mean min held | rollback from onset, median | promote min, mean (÷ {SCHEDULE_MIN} min) | "
        f"{baseline} promote min, mean | bad exposure (weight×min) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = {(s["rps"], s["scenario"]): s for s in results if s["rule"] == baseline}
    for s in results:
        if s["rule"] != rule:
            continue
        other = base.get((s["rps"], s["scenario"]))
        good = s["label"] == "good"
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{s['rps']:g}",
                    f"{s['scenario']} {s['title']}",
                    s["label"],
                    f"{_pct(s['rollback'])} ({_pct(s['rollback_by_evidence'])} / {_pct(s['rollback_by_policy'])})",
                    f"{_pct(s['promote'])} ({_pct(s['promote_by_evidence'])} / {_pct(s['promote_by_policy'])})",
                    _pct(s["undecided"]),
                    _pct(s["inconclusive"]),
                    _num(s["hold_min_mean"], ".1f"),
                    "-" if good else _num(s["rollback_from_onset_median"], "g"),
                    f"{_num(s['promote_min_mean'], '.2f')} ({_num(s['promote_vs_schedule'], '.2f')})",
                    _num(other["promote_min_mean"], ".2f") if other is not None else "-",
                    "-" if good else _num(s["exposure_mean"], ".2f"),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the matrix, print the table and the acceptance verdicts."""
    from bench.judge.acceptance import check_all, format_verdicts

    parser = argparse.ArgumentParser(prog="python -m bench.judge.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rps", default=",".join(f"{r:g}" for r in RPS_LEVELS))
    parser.add_argument("--scenarios", default=",".join(scenarios()))
    parser.add_argument("--rules", default=",".join(rule_factories()))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="", help="write every summary as JSON here")
    parser.add_argument("--markdown", default="", help="write the table and verdicts as markdown here")
    args = parser.parse_args(argv)
    rps_levels = [float(x) for x in args.rps.split(",") if x]
    keys = [k for k in args.scenarios.split(",") if k]
    rules = [r for r in args.rules.split(",") if r]
    unknown = [k for k in keys if k not in scenarios()] + [r for r in rules if r not in rule_factories()]
    if unknown:
        parser.error(f"unknown scenario or rule: {', '.join(unknown)}")
    began = time.perf_counter()
    results = run_matrix(keys, rps_levels, rules, args.runs, args.seed, args.workers)
    wall = time.perf_counter() - began
    table = markdown(results, rules)
    verdicts = check_all(results)
    report = (
        f"{args.runs} runs per cell, seed {args.seed}, {len(results)} cell-rules in {wall:.0f} s wall "
        f"({sum(r['wall_s'] for r in results):.0f} s of worker time)\n\n{table}\n\n{format_verdicts(verdicts)}"
    )
    if "serinus" in rules:
        report += "\n\n`serinus` in detail:\n\n" + detail_markdown(results)
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(
                {
                    "runs": args.runs,
                    "seed": args.seed,
                    "rps": rps_levels,
                    "scenarios": keys,
                    "rules": rules,
                    "wall_s": wall,
                    "results": results,
                    "acceptance": [asdict(v) for v in verdicts],
                },
                fh,
                indent=1,
            )
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
