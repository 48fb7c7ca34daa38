"""A fixed-seed subset of the judge benchmark (`bench.judge.run`) as regression tests.

200 closed-loop runs per cell through the real generator and the real judge. Each assertion is an acceptance
property of research §9.4 with a margin that follows from the Wilson 95 % interval of 200 runs: a share must not
be *significantly* above its limit (the interval's lower end at or below it) and, where Serinus must beat a
baseline, the intervals must not overlap.
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
