"""The judge benchmark's baselines replay their originals: Prometheus' histogram_quantile, Flagger's rule, the
Fisher and z tests, and the Kayenta port on its users' reports (kayenta #426 and #780, spinnaker#5622 and #6278:
golden cases)."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from bench.judge.baselines import FisherPerInterval, PeekingZ, fisher_greater, z_statistic
from bench.judge.common import ISTIO_BOUNDS_MS, Counts, Decision, Interval, histogram_quantile, wilson
from bench.judge.flagger import FlaggerRule, FlaggerSpec
from bench.judge.kayenta import Classification, KayentaRule, brent_root, classify, mann_whitney_ci


def lognormal_buckets(requests: float, median: float, sigma: float) -> tuple[float, ...]:
    """Expected cumulative bucket counts of a lognormal latency over Istio's bounds."""
    return tuple(
        requests if math.isinf(b) else requests * NormalDist().cdf(math.log(b / median) / sigma)
        for b in ISTIO_BOUNDS_MS
    )


def interval(
    index: int, weight: int, requests: float, errors: float, median: float = 80.0, primary_errors: float = 0.0
) -> Interval:
    canary = Counts(requests, errors, lognormal_buckets(requests, median, 0.5))
    primary = Counts(9 * requests, primary_errors, lognormal_buckets(9 * requests, 80.0, 0.5))
    return Interval(index, float(index), weight, ISTIO_BOUNDS_MS, canary, primary)


# --- Prometheus' histogram_quantile ---------------------------------------------------------------------------


def test_histogram_quantile_reads_a_true_p99_of_256ms_as_280ms_and_320ms_as_429ms() -> None:
    """Linear interpolation inside Istio's 250-500 ms bucket overstates a lognormal p99, as Prometheus does."""
    assert histogram_quantile(0.99, ISTIO_BOUNDS_MS, lognormal_buckets(1000, 80, 0.5)) == pytest.approx(279.8, abs=0.5)
    median = 320 / math.exp(NormalDist().inv_cdf(0.99) * 0.5)
    assert histogram_quantile(0.99, ISTIO_BOUNDS_MS, lognormal_buckets(1000, median, 0.5)) == pytest.approx(
        428.7, abs=0.5
    )


def test_histogram_quantile_edge_rules() -> None:
    bounds = (100.0, 250.0, 500.0, math.inf)
    assert math.isnan(histogram_quantile(0.99, bounds, (0, 0, 0, 0)))  # no observations
    assert histogram_quantile(0.99, bounds, (0, 0, 0, 10)) == 500.0  # rank in +Inf: the highest finite bound
    assert histogram_quantile(0.5, bounds, (10, 10, 10, 10)) == 50.0  # the first bucket starts at 0
    assert histogram_quantile(0.99, bounds, (50, 90, 100, 100)) == pytest.approx(250 + 250 * 9 / 10)
    assert histogram_quantile(0.5, bounds, (6, 5, 10, 10)) == pytest.approx(100 * 5 / 6)  # made monotonic
    assert math.isnan(histogram_quantile(0.5, (100.0, 250.0), (1, 2)))  # no +Inf bucket


def test_wilson_interval() -> None:
    low, high = wilson(0, 1000)
    assert low == 0.0
    assert high == pytest.approx(0.00383, abs=1e-5)
    low, high = wilson(50, 1000)
    assert (low, high) == pytest.approx((0.03813, 0.06531), abs=1e-4)


# --- Flagger's rule ----------------------------------------------------------------------------------------------


def test_flagger_promotes_after_five_passes_from_ten_percent() -> None:
    rule = FlaggerRule("flagger-t5")
    decisions = []
    for i in range(1, 6):
        weight = rule.weight
        decisions.append(rule.step(interval(i, weight, 1000, 1)))
    assert decisions == [Decision.ADVANCE] * 4 + [Decision.PROMOTE]
    assert rule.weight == 50


def test_flagger_no_data_fails_and_rollback_comes_the_tick_after_the_threshold() -> None:
    rule = FlaggerRule("flagger-t2", FlaggerSpec(threshold=2))
    assert rule.step(interval(1, 10, 0, 0)) is Decision.FAIL  # NaN success rate: "no values found"
    assert rule.step(interval(2, 10, 1000, 1)) is Decision.ADVANCE  # a pass does not reset failedChecks
    assert rule.step(interval(3, 20, 100, 2)) is Decision.FAIL  # 98 % < 99 %
    assert rule.failed_checks == 2
    assert rule.step(interval(4, 20, 1000, 0)) is Decision.ROLLBACK  # checked before the metrics


def test_flagger_latency_check_truncates_to_whole_milliseconds() -> None:
    # p99 reads 279.8 ms, which Flagger converts to 279 ms: a max of 279 passes, 278 fails
    assert FlaggerRule("f", FlaggerSpec(duration_max_ms=279)).step(interval(1, 10, 1000, 0)) is Decision.ADVANCE
    rule = FlaggerRule("f", FlaggerSpec(duration_max_ms=278))
    assert rule.step(interval(1, 10, 1000, 0)) is Decision.FAIL
    assert rule.last_reason == "request duration 279ms > 278ms"


def test_flagger_success_rate_bound_is_inclusive() -> None:
    rule = FlaggerRule("f")
    assert rule.step(interval(1, 10, 100, 1)) is Decision.ADVANCE  # exactly 99 % passes (fail only if < min)


# --- hand-written baselines --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((3, 300, 2, 2700), 0.0085),
        ((1, 30, 0, 270), 0.10),
        ((5, 1000, 20, 9000), 0.098),
        ((0, 600, 0, 5400), 1.0),
    ],
)
def test_fisher_one_sided_p_values_of_small_tables(counts: tuple[int, int, int, int], expected: float) -> None:
    """3/300 vs 2/2700 is 0.0085; one error in 30 requests is 0.10, never significant alone; no errors is 1.0."""
    assert fisher_greater(*counts) == pytest.approx(expected, abs=5e-4)


def test_fisher_exact_small_and_large_counts() -> None:
    assert fisher_greater(4, 10, 0, 10) == pytest.approx(math.comb(16, 6) / math.comb(20, 10))
    assert fisher_greater(1000, 5000, 9000, 5000) == pytest.approx(1.0)
    assert fisher_greater(900, 5000, 100, 5000) < 1e-100


def test_peeking_z_rolls_back_on_the_first_rejection() -> None:
    assert z_statistic(0, 100, 0, 900) == 0.0
    rule = PeekingZ()
    assert rule.step(interval(1, 10, 1000, 1, primary_errors=9)) is Decision.ADVANCE
    assert rule.step(interval(2, 20, 1000, 10, primary_errors=9)) is Decision.ROLLBACK


def test_fisher_per_interval_counts_failed_checks_like_flagger() -> None:
    rule = FisherPerInterval(threshold=2)
    assert rule.step(interval(1, 10, 1000, 10, primary_errors=9)) is Decision.FAIL
    assert rule.step(interval(2, 10, 0, 0)) is Decision.FAIL  # no canary requests: no values
    assert rule.step(interval(3, 10, 1000, 1, primary_errors=9)) is Decision.ROLLBACK


# --- the Kayenta port: its users' reports (kayenta and spinnaker issues) ------------------------------------------


def test_kayenta_426_sparse_errors_pass() -> None:
    assert classify([0, 1, 2, 1, 0, 0], [0] * 6).classification is Classification.PASS


def test_spinnaker_5622_replace_strategy_passes() -> None:
    experiment = [0, 0.048, 0, 0.18, 0.089, 0, 0.098, 0.035, 0, 0]
    assert classify(experiment, [0] * 10, nan_strategy="replace").classification is Classification.PASS


def test_spinnaker_6278_seven_hundreds_pass_eight_are_high() -> None:
    seven = classify([100] * 7 + [1] * 3, [1] * 10)
    assert seven.classification is Classification.PASS
    assert seven.lower is not None
    assert seven.lower < 1e-3  # the CI's lower end stays near 0 (8.3e-5 here; the jitter decides the digits)
    assert seven.estimate == pytest.approx(99, abs=1e-3)  # so the bound is 0.25 * 99 = 24.7
    assert classify([100] * 8 + [1] * 2, [1] * 10).classification is Classification.HIGH


def test_kayenta_780_variance_change_passes() -> None:
    # The data are not available; these series match its description ("10.0-17.7 vs 1-106"): similar
    # medians, the spread of one about 14 times the other's. A change of spread is not a location shift.
    narrow = [10.0, 10.9, 11.8, 12.6, 13.4, 14.1, 14.9, 15.8, 16.6, 17.7]
    wide = [1.0, 2.5, 4.0, 7.0, 11.0, 16.0, 24.0, 40.0, 70.0, 106.0]
    assert classify(narrow, wide).classification is Classification.PASS
    assert classify(wide, narrow).classification is Classification.PASS


def test_kayenta_shortcuts_and_clear_shift() -> None:
    assert classify([], [1.0]).classification is Classification.NODATA
    assert classify([math.nan], [1.0]).classification is Classification.NODATA
    assert classify([1.0, 2.0], [2.0, 1.0]).classification is Classification.PASS  # identical sorted
    assert classify([5.0] * 3, [5.0] * 4).classification is Classification.PASS  # one distinct value
    assert classify([10.0 + i for i in range(10)], [float(i) for i in range(10)]).classification is Classification.HIGH


def test_mann_whitney_without_ties_gives_walsh_order_statistics() -> None:
    # Without ties the Hodges-Lehmann estimate is the median of the pairwise differences and each CI end sits on
    # one of them (the rank statistic only jumps there).
    x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.291, 1.061, 3.14, 1.29]
    diffs = sorted(a - b for a in x for b in y)
    lower, upper, estimate = mann_whitney_ci(x, y, 0.95)
    assert estimate == pytest.approx(diffs[len(diffs) // 2], abs=1e-3)
    assert min(abs(lower - d) for d in diffs) < 1e-3
    assert min(abs(upper - d) for d in diffs) < 1e-3
    assert lower < estimate < upper


def test_brent_finds_a_root() -> None:
    assert brent_root(lambda v: v * v - 2, 0, 2, -2, 2, tol=1e-10) == pytest.approx(math.sqrt(2), abs=1e-9)


def test_kayenta_rule_judges_from_the_third_interval() -> None:
    rule = KayentaRule()
    assert rule.step(interval(1, 10, 1000, 100, primary_errors=9)) is Decision.ADVANCE
    assert rule.step(interval(2, 20, 1000, 100, primary_errors=9)) is Decision.ADVANCE
    assert rule.step(interval(3, 30, 1000, 100, primary_errors=9)) is Decision.ROLLBACK
