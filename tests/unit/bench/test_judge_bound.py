"""The information bound of `bench.judge.bound`: where no rule can promote as fast as criterion 4 asks."""

from __future__ import annotations

import math

import pytest
from bench.judge import bound
from bench.judge.scenarios import scenarios


def test_the_divergence_of_a_count_is_poissons_without_noise_and_smaller_with_it() -> None:
    plain = bound.poisson_lognormal_kl(3.0, 6.0, 0.0)
    assert plain == pytest.approx(3.0 * math.log(0.5) + 3.0)
    noisy = bound.poisson_lognormal_kl(3.0, 6.0, 0.5)
    assert 0.2 * plain < noisy < plain
    # large counts: the bound used instead of the sum is still an upper bound of the exact value
    assert bound.poisson_lognormal_kl(300.0, 600.0, 0.5) <= (math.log(2.0) ** 2) / (2 * 0.25) + 1e-9


def test_the_least_mean_minute_is_the_schedule_when_the_gate_has_enough_and_grows_linearly_after() -> None:
    assert bound.least_mean_minute([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3.0) == 5.0
    linear = [0.2 * m for m in range(1, 6)] + [1.0 + 0.5 * m for m in range(1, 41)]
    assert bound.least_mean_minute(linear, 3.0) == pytest.approx(5.0 + (3.0 - 1.0) / 0.5)
    assert bound.least_mean_minute([0.1] * 45, 3.0) == math.inf


def test_no_rule_can_promote_the_near_bound_cells_at_20_rps_within_the_bar() -> None:
    """G2 (0.65 % errors, bound 1 %) and AA (0.5 % with per-version noise) at 20 RPS: any rule that keeps the
    promotion guarantee needs longer on average than 1.05 × Flagger's mean (about 6.5 and 6.0 minutes); G0's
    twin is far enough that the schedule's 5 minutes suffice in principle."""
    every = scenarios()
    g2 = bound.bound(every["G2"], 20.0)
    aa = bound.bound(every["AA"], 20.0)
    assert g2.severe == pytest.approx(0.01)
    assert g2.minutes > 1.05 * 6.2
    assert aa.minutes > 1.05 * 5.8
    g0 = bound.bound(every["G0"], 20.0)
    assert g0.severe == pytest.approx(0.006)
    assert g0.minutes == 5.0
