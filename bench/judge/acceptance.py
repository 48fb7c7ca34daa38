"""The acceptance criteria of the statistical judge, checked on the benchmark's summaries (bench/README.md, judge).

For the judge with its defaults (rule `serinus`), against Flagger's rule with threshold 5 (`flagger-t5`):

1. false rollbacks ≤ α in every good scenario (including over-dispersed and A/A): the share ≤ α and its Wilson
   upper bound ≤ α + 1 pp;
2. severe misses ≤ β wherever the run reaches a decision: the share of severe runs promoted on evidence (not by
   the onInconclusive policy at maxHold) ≤ β, upper bound ≤ β + 1 pp; the policy's promotions are listed apart;
3. strictly fewer false rollbacks *and* fewer misses than flagger-t5, each averaged over the good (respectively
   severe) scenarios, at every traffic level (misses here count every promotion, the policy's included);
4. time to promote ≤ 1.05 × Flagger's at ≥ 20 RPS: in every good scenario, the mean minute of promotion.

Each criterion prints PASS or FAIL with every cell that breaks it, with its numbers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

ALPHA = 0.05
BETA = 0.05
SLACK = 0.01
PROMOTION_FACTOR = 1.05
JUDGE = "serinus"
FLAGGER = "flagger-t5"


@dataclass
class Verdict:
    """One criterion: passed or not, what was checked and where it broke."""

    criterion: str
    passed: bool
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cells(results: list[dict[str, Any]], rule: str, label: str) -> list[dict[str, Any]]:
    return [r for r in results if r["rule"] == rule and r["label"] == label]


def _where(s: dict[str, Any]) -> str:
    return f"{s['scenario']} ({s['title']}) at {s['rps']:g} RPS"


def _share(share: dict[str, Any]) -> str:
    return f"{100 * share['p']:.1f}% [{100 * share['low']:.1f}, {100 * share['high']:.1f}] ({share['k']}/{share['n']})"


def false_rollbacks(results: list[dict[str, Any]], rule: str = JUDGE) -> Verdict:
    """Criterion 1."""
    v = Verdict(
        f"1. {rule}: false rollbacks ≤ {ALPHA:.0%} (upper 95 % bound ≤ {ALPHA + SLACK:.0%}) in every good scenario",
        True,
    )
    for s in _cells(results, rule, "good"):
        v.checked += 1
        share = s["rollback"]
        if share["p"] > ALPHA or share["high"] > ALPHA + SLACK:
            v.passed = False
            v.failures.append(f"{_where(s)}: false rollbacks {_share(share)}")
    return v


def severe_misses(results: list[dict[str, Any]], rule: str = JUDGE) -> Verdict:
    """Criterion 2."""
    v = Verdict(
        f"2. {rule}: severe regressions promoted on evidence ≤ {BETA:.0%} (upper bound ≤ {BETA + SLACK:.0%})", True
    )
    for s in _cells(results, rule, "severe"):
        v.checked += 1
        share = s["promote_by_evidence"]
        if share["p"] > BETA or share["high"] > BETA + SLACK:
            v.passed = False
            v.failures.append(f"{_where(s)}: promoted on evidence {_share(share)}")
        if s["promote_by_policy"]["k"]:
            v.notes.append(
                f"{_where(s)}: promoted by the onInconclusive policy at maxHold {_share(s['promote_by_policy'])}"
            )
    return v


def beats_flagger(results: list[dict[str, Any]], rule: str = JUDGE, baseline: str = FLAGGER) -> Verdict:
    """Criterion 3."""
    v = Verdict(
        f"3. {rule}: fewer false rollbacks and fewer missed severe regressions than {baseline}, averaged "
        "at every traffic level",
        True,
    )
    for rps in sorted({r["rps"] for r in results}):
        at = [r for r in results if r["rps"] == rps]
        for label, key, what in (("good", "rollback", "false rollbacks"), ("severe", "promote", "severe promoted")):
            ours = [s[key]["p"] for s in _cells(at, rule, label)]
            theirs = [s[key]["p"] for s in _cells(at, baseline, label)]
            if not ours or not theirs:
                continue
            v.checked += 1
            a, b = statistics.fmean(ours), statistics.fmean(theirs)
            text = f"{rps:g} RPS {what}: {rule} {100 * a:.2f}% vs {baseline} {100 * b:.2f}%"
            if not a < b:
                v.passed = False
                v.failures.append(text)
            else:
                v.notes.append(text)
    return v


def _minutes(value: float | None) -> str:
    return "never promoted" if value is None else f"{value:.2f} min"


def promotion_time(
    results: list[dict[str, Any]], rule: str = JUDGE, baseline: str = FLAGGER, min_rps: float = 20.0
) -> Verdict:
    """Criterion 4."""
    v = Verdict(
        f"4. {rule}: mean time to promote ≤ {PROMOTION_FACTOR:g} × {baseline}'s at ≥ {min_rps:g} RPS, every "
        "good scenario",
        True,
    )
    theirs = {(s["scenario"], s["rps"]): s for s in _cells(results, baseline, "good")}
    for s in _cells(results, rule, "good"):
        if s["rps"] < min_rps or (s["scenario"], s["rps"]) not in theirs:
            continue
        v.checked += 1
        ours, other = s["promote_min_mean"], theirs[(s["scenario"], s["rps"])]["promote_min_mean"]
        text = f"{_where(s)}: {_minutes(ours)} vs {_minutes(other)}"
        if ours is None or other is None or ours > PROMOTION_FACTOR * other:
            v.passed = False
            v.failures.append(text)
        else:
            v.notes.append(text)
    return v


def check_all(results: list[dict[str, Any]]) -> list[Verdict]:
    """Every criterion that the results allow checking."""
    return [false_rollbacks(results), severe_misses(results), beats_flagger(results), promotion_time(results)]


def format_verdicts(verdicts: list[Verdict], notes: bool = False) -> str:
    """PASS/FAIL per criterion, with the failing cells (and, if asked, the passing numbers)."""
    lines = ["Acceptance:"]
    for v in verdicts:
        state = "PASS" if v.passed else "FAIL"
        if v.checked == 0:
            state = "n/a (no cells)"
        lines.append(f"- {state}: {v.criterion} ({v.checked} checked)")
        lines += [f"    - FAIL {text}" for text in v.failures]
        if notes or v.criterion.startswith("3."):
            lines += [f"    - {text}" for text in v.notes]
        elif v.notes:
            lines += [f"    - note: {text}" for text in v.notes]
    return "\n".join(lines)
