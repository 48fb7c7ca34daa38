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
    assert {k: v for k, v in moved.traffic.items() if k != "canary"} == \
        {k: v for k, v in at.traffic.items() if k != "canary"}
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
