"""bench.judge.margin: AT's canary moved further beyond `min: 99` with the noise unchanged."""

from __future__ import annotations

from bench.judge.margin import beyond, markdown, sweep
from bench.judge.scenarios import label, scenarios

BETA = 0.05


def test_only_the_canarys_rate_moves() -> None:
    """The sweep's scenario is AT with another canary rate: same key (same random numbers), primary and noise."""
    at, moved = scenarios()["AT"], beyond(0.015)
    assert moved.key == at.key
    assert moved.traffic["canary"] == {"errorRate": 0.015}
    assert {k: v for k, v in moved.traffic.items() if k != "canary"} == {
        k: v for k, v in at.traffic.items() if k != "canary"
    }
    assert label(moved) == "severe"


def test_twice_the_bound_is_not_promoted_on_evidence() -> None:
    """Under AA's per-version noise, a canary at 2 % errors against `min: 99` (twice the bound) is promoted on
    evidence in at most β of runs at 2000 RPS, where the noise dominates the counts; the table says so."""
    (row,) = sweep((0.02,), (2000.0,), runs=200, seed=1)
    assert row["promote_by_evidence"]["low"] <= BETA, row["promote_by_evidence"]
    assert row["promote_by_evidence"]["p"] <= BETA, row["promote_by_evidence"]
    assert row["rollback"]["p"] >= 0.9, row["rollback"]
    text = markdown([row])
    assert "| 2 % | 100 % | 2000 |" in text


def test_half_beyond_the_bound_is_rolled_back_not_promoted_at_max_hold() -> None:
    """A canary at 1.5 % errors (2.6x the primary's, half beyond `min: 99`) under AA's noise at 2000 RPS: a few
    minutes in which the noise put it below the primary once buried its rollback evidence (1e-53:1 after 35
    minutes), so 14 % of runs held to maxHold and were promoted by the timeout policy. Each interval now takes away
    at most LOSS_CAP: it is rolled back, within minutes, and no more than β of runs are promoted in any way."""
    (row,) = sweep((0.015,), (2000.0,), runs=200, seed=1)
    assert row["promote"]["p"] <= BETA, (row["promote_by_evidence"], row["promote_by_policy"])
    assert row["rollback"]["p"] >= 0.95, row["rollback"]
    assert row["rollback_from_onset_median"] <= 5, row["rollback_from_onset_median"]
