"""A fixed-seed subset of the judge benchmark (`bench.judge.run`) as regression tests.

200 closed-loop runs per cell through the real generator and the real judge. Each assertion is an acceptance
criterion of `bench.judge.acceptance` with a margin that follows from the Wilson 95 % interval of 200 runs: a share
must not be *significantly* above its limit (the interval's lower end at or below it) and, where Serinus must beat
a baseline, the intervals must not overlap.
"""

from __future__ import annotations

from typing import Any

import pytest
from bench.judge.run import simulate, summarise
from bench.judge.scenarios import scenarios

RUNS = 200
SEED = 1
ALPHA = BETA = 0.05


def cell(key: str, rps: float, rule: str) -> dict[str, Any]:
    scenario = scenarios()[key]
    return summarise(scenario, rps, rule, simulate(scenario, rps, rule, RUNS, SEED), 0.0)


@pytest.mark.parametrize(("key", "rps"), [("G0", 20.0), ("AA", 200.0), ("SI", 200.0)])
def test_good_canaries_are_rarely_rolled_back(key: str, rps: float) -> None:
    judge = cell(key, rps, "serinus")
    assert judge["label"] == "good"
    assert judge["rollback"]["low"] <= ALPHA, judge["rollback"]
    assert judge["rollback"]["p"] <= ALPHA + 0.01, judge["rollback"]
    # and they are promoted, at about Flagger's pace once traffic allows
    assert judge["promote"]["p"] >= 0.9, judge["promote"]


def test_shared_incident_rolls_flagger_back_not_the_judge() -> None:
    judge, flagger = cell("SI", 200.0, "serinus"), cell("SI", 200.0, "flagger-t5")
    assert judge["rollback"]["high"] < flagger["rollback"]["low"], (judge["rollback"], flagger["rollback"])


def test_severe_errors_are_caught_fast_where_flagger_promotes() -> None:
    judge, flagger = cell("B2", 20.0, "serinus"), cell("B2", 20.0, "flagger-t5")
    assert judge["label"] == "severe"
    assert judge["promote_by_evidence"]["low"] <= BETA, judge["promote"]
    assert judge["promote"]["high"] < flagger["promote"]["low"], (judge["promote"], flagger["promote"])
    assert judge["rollback_from_onset_median"] is not None
    assert judge["rollback_from_onset_median"] < flagger["rollback_from_onset_median"]


def test_promotion_at_twenty_rps_keeps_flaggers_schedule() -> None:
    judge, flagger = cell("G0", 20.0, "serinus"), cell("G0", 20.0, "flagger-t5")
    assert judge["promote_min_median"] == flagger["promote_min_median"] == 5.0


def test_a_regression_after_good_minutes_is_not_certified_at_high_traffic() -> None:
    """B7 at 2000 RPS (errors ×10 from minute 3): the pooled confidence-sequence route certified the run's average
    and promoted 13.8 % of these severe canaries on evidence in the 1,000-run matrix; the PASS routes now multiply
    per-interval evidence, where the bad minutes weigh more than the good ones."""
    judge = cell("B7", 2000.0, "serinus")
    assert judge["label"] == "severe"
    assert judge["promote_by_evidence"]["low"] <= BETA, judge["promote_by_evidence"]
    assert judge["promote_by_evidence"]["p"] <= 0.02, judge["promote_by_evidence"]


def test_a_late_regression_seen_through_noise_is_rarely_certified() -> None:
    """B8 at 200 RPS (B7 with per-version noise σ 0.5 a minute): a bad minute that the noise makes look good kept
    the early minutes' promotion evidence above the threshold, and the bad minute after it took away at most
    4.6 nats, so 10.5 % of these canaries were promoted at minute 5 (1,000-run check). No promotion comes on an
    interval that took promotion evidence away: at most β now, against Flagger's 96 %."""
    judge, flagger = cell("B8", 200.0, "serinus"), cell("B8", 200.0, "flagger-t5")
    assert judge["label"] == "severe"
    assert judge["promote_by_evidence"]["low"] <= BETA, judge["promote_by_evidence"]
    assert judge["promote"]["high"] < flagger["promote"]["low"], (judge["promote"], flagger["promote"])


@pytest.mark.parametrize("key", ["SI", "G2"])
def test_flaggers_verdict_at_max_hold_does_not_roll_back_good_canaries_at_2_rps(key: str) -> None:
    """At 2 RPS many good canaries reach maxHold; Flagger's replayed checks (on the judge's higher weights) failed
    5 times in 6.5 % (G2) and 8.2 % (SI) of them, which the flagger policy rolled back. It now rolls back only where
    a FAIL test's evidence leans the same way, and an interval where the primary fails the same bound (a shared
    incident) is not a failed check of the replay."""
    judge = cell(key, 2.0, "serinus")
    assert judge["label"] == "good"
    assert judge["rollback"]["low"] <= ALPHA, judge["rollback"]
    assert judge["rollback"]["p"] <= ALPHA, judge["rollback"]
    assert judge["inconclusive"]["p"] > 0.1  # the policy still decides a share of them: low traffic shows it


def test_the_detail_table_splits_evidence_from_policy_and_compares_promotion_time() -> None:
    """bench/README.md's `serinus` detail table comes from detail_markdown: one row per cell with rollbacks and
    promotions split into evidence and policy, and the judge's mean promotion minute beside Flagger's."""
    from bench.judge.run import detail_markdown

    results = [cell("G0", 20.0, "serinus"), cell("G0", 20.0, "flagger-t5")]
    table = detail_markdown(results).splitlines()
    assert len(table) == 3
    row = table[2].split(" | ")
    judge, flagger = results
    assert row[3].startswith(f"{100 * judge['rollback']['p']:.1f}% (")
    assert row[9].startswith(f"{judge['promote_min_mean']:.2f} (")
    assert row[10] == f"{flagger['promote_min_mean']:.2f}"


def test_one_noisy_minute_does_not_hold_an_a_a_canary_at_high_traffic() -> None:
    """AA at 2000 RPS (identical versions, per-version noise σ 0.5 a minute): one minute that shows the canary
    several times the primary's errors used to undo the promotion evidence of the whole run and hold a quarter of
    the runs for minutes (mean promotion 6.49 min against Flagger's 5.39 in the 1,000-run matrix). A minute now takes
    away at most 4.6 nats of it, so the judge promotes within 1.05 × Flagger's mean time."""
    judge, flagger = cell("AA", 2000.0, "serinus"), cell("AA", 2000.0, "flagger-t5")
    assert judge["promote"]["p"] >= 0.9, judge["promote"]
    assert judge["promote_min_mean"] <= 1.05 * flagger["promote_min_mean"], (
        judge["promote_min_mean"],
        flagger["promote_min_mean"],
    )
