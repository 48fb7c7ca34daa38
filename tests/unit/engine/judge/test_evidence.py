"""The anytime-valid tests on their own: a worked 3x regression, zeros, shared incidents, histograms, scalars."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from serinus.engine.judge import evidence as ev

from .kit import ISTIO, histogram

#: a 3x error regression (0.5 % -> 1.5 %) at 20 RPS, 10 % more weight a minute, the run behind the ledger example
#: of docs/judge.md: (ρ, canary errors, canary requests, primary errors, primary requests) per minute
WORKED = [
    (0.1, 2, 120, 5, 1080),
    (0.2, 4, 240, 5, 960),
    (0.3, 5, 360, 4, 840),
    (0.4, 8, 480, 4, 720),
    (0.5, 9, 600, 3, 600),
]


def test_worked_example_evidence_for_a_3x_regression_reaches_248_to_1_at_minute_5() -> None:
    """A 3x error regression at 20 RPS: the plain mixture over {2,4,8,16} gives 1.6, 4.6, 13.1, 61.5, 257. Each
    interval bets 99 % of the evidence (its loss is bounded, `evidence.bounded`), which costs at most 1 % a minute:
    1.6, 4.5, 12.8, 59.8, 248. It still crosses 80:1 (α 0.05 over 4 tests) at minute 5, and the single 2:1 ratio's log
    grows by 0.719, 1.132, 1.104, 1.508, 1.373 a minute."""
    logs = [0.0] * 4
    grid = [2 * g for g in ev.FAIL_GRID]
    seen = []
    for rho, b_c, n_c, b_p, n_p in WORKED:
        assert n_c / (n_c + n_p) == pytest.approx(rho)
        ev.ratio_fail_update(logs, grid, b_c, b_c + b_p, rho, 1.0)
        seen.append(ev.mixture(logs))
    all_in = [1.6454, 4.5968, 13.0929, 61.4893, 257.2283]  # the same mixture, each interval betting it all
    for minute, (ours, plain) in enumerate(zip(seen, all_in, strict=True), start=1):
        assert 0.99**minute * plain <= ours <= plain, (minute, ours, plain)
    assert [round(e, 1) for e in seen] == [1.6, 4.5, 12.8, 59.8, 248.3]
    assert [s >= 80 for s in seen] == [False, False, False, False, True]
    steps = [ev.ratio_log_lr(b_c, b_c + b_p, rho, 2.0) for rho, b_c, _, b_p, _ in WORKED]
    assert [round(x, 3) for x in steps] == [0.719, 1.132, 1.104, 1.508, 1.373]


def test_no_bad_events_give_no_evidence_either_way() -> None:
    """0/600 vs 0/5400 is no information: both e-processes stay at 1, neither a rollback nor a pass."""
    fail, passed = [0.0] * 4, [0.0, 0.0]
    for _ in range(30):
        ev.ratio_fail_update(fail, (2, 4, 8, 16), 0.0, 0.0, 0.1, 1.0)
        ev.ratio_pass_update(passed, (1.0, math.sqrt(5)), 5.0, 0.0, 0.0, 0.1, 1.0)
    assert ev.mixture(fail) == 1.0
    assert ev.mixture(passed) == 1.0


def test_a_shared_incident_is_no_evidence_against_the_canary() -> None:
    """Both versions x15 errors in one interval, split as the traffic is: the FAIL evidence goes down, not up."""
    logs = [0.0] * 4
    ev.ratio_fail_update(logs, (2, 4, 8, 16), 15.0, 150.0, 0.1, 1.0)  # 15 of 150 errors on a 10 % canary
    assert ev.mixture(logs) < 1.0


def test_one_error_in_a_tiny_canary_is_not_a_rollback() -> None:
    """1/30 vs 0/270 (Flagger reads 96.7 % and fails it): the evidence is a few to one, far from 80:1."""
    logs = [0.0] * 4
    ev.ratio_fail_update(logs, (2, 4, 8, 16), 1.0, 1.0, 0.1, 1.0)
    assert 1.0 < ev.mixture(logs) < 10.0


def test_confidence_sequence_after_zero_errors_is_4_4_then_0_94_then_0_18_percent() -> None:
    """Robbins' beta mixture, prior rate 0.1 %, α 1.25 %: upper bounds 4.4 % at 100 requests, 0.94 % at 500,
    0.18 % at 3000 when no error has been seen."""
    level = math.log(1 / 0.0125)
    uppers = [ev.beta_cs(0.0, n, level, 0.001)[1] for n in (100, 500, 3000)]
    assert [100 * u for u in uppers] == pytest.approx([4.4, 0.94, 0.18], rel=0.02)


@pytest.mark.parametrize(("s", "n"), [(3, 1000), (30, 4000), (1, 50), (0.4, 3.2), (12.5, 80.25)])
def test_confidence_sequence_bounds_are_the_set_edges(s: float, n: float) -> None:
    """Each end of the interval is where the mixture martingale reaches the threshold, found conservatively."""
    level = math.log(80)
    lo, hi = ev.beta_cs(s, n, level, 0.001)
    a, b = 0.5, 0.5 / 0.001
    log_mix = (
        math.lgamma(a + s)
        + math.lgamma(b + n - s)
        - math.lgamma(a + b + n)
        - math.lgamma(a)
        - math.lgamma(b)
        + math.lgamma(a + b)
    )

    def martingale(p: float) -> float:
        return log_mix - s * math.log(p) - (n - s) * math.log(1 - p)

    assert lo < s / n < hi
    assert martingale(hi) == pytest.approx(level, abs=1e-4)
    assert martingale(hi) >= level - 1e-9
    if lo > 1e-12:
        assert martingale(lo) == pytest.approx(level, abs=1e-4)
        assert martingale(lo) >= level - 1e-9


def test_absolute_pass_needs_about_500_clean_requests_for_99_percent() -> None:
    """Certifying success rate >= 99 % takes about 500 requests without an error (docs/judge.md, Limits)."""
    coefficients = ev.binomial_coefficients(0.01, ev.ABS_PASS_GRID)
    logs = [0.0] * len(coefficients)
    served = 0
    while ev.mixture(logs) < 20:
        ev.binomial_update(logs, coefficients, 10.0, 0.0, 1.0)
        served += 10
    assert 400 <= served <= 600


def test_histogram_helpers_read_buckets_like_prometheus() -> None:
    """Slow requests are count − bucket(le); the p99 bucket is the first with 99 %; histogram_quantile
    interpolates inside the bucket as Prometheus does."""
    buckets = histogram(1000, (0, 0, 0, 0.001, 0.01, 0.2, 0.6, 0.99, 0.999, 1, 1, 1, 1, 1), ISTIO)
    assert ev.slower_than(buckets, 250) == pytest.approx(10)
    assert ev.slower_than(buckets, 300) == pytest.approx(10)  # not a bound: the bound below is used
    assert ev.quantile_bound(buckets, 0.99) == 250
    assert ev.bound_at_or_below(buckets, 600) == 500
    assert ev.bound_at_or_above(buckets, 600) == 1000
    # rank 990 is the top of the 100-250 ms bucket (600 -> 990 requests)
    assert ev.histogram_quantile(0.99, buckets) == pytest.approx(250.0)
    assert ev.histogram_quantile(0.5, buckets) == pytest.approx(50 + 50 * (500 - 200) / 400)
    assert math.isnan(ev.histogram_quantile(0.99, histogram(0, [0] * 14, ISTIO)))
    assert ev.histogram_quantile(0.99, ((10.0, 0.0), (math.inf, 5.0))) == 10.0  # rank in +Inf: largest bound


def test_sign_test_needs_about_eight_worse_intervals() -> None:
    """λ = 0.5: 1.5^8 ≈ 26 crosses 20:1 (α 0.05) after 8 intervals 30 % worse, not after 7; missing or zero values
    are skipped; direction -1 judges a value that must not drop."""
    log_e = 0.0
    for _ in range(7):
        step = ev.sign_step(130.0, 100.0, 1, 1.2, 1.5)
        assert step is not None
        log_e += step[0]
    assert math.exp(log_e) < 20
    step = ev.sign_step(130.0, 100.0, 1, 1.2, 1.5)
    assert step is not None
    assert math.exp(log_e + step[0]) >= 20
    assert ev.sign_step(None, 100.0, 1, 1.2, 1.5) is None
    assert ev.sign_step(0.0, 100.0, 1, 1.2, 1.5) is None
    assert ev.sign_step(float("nan"), 100.0, 1, 1.2, 1.5) is None
    lower = ev.sign_step(70.0, 100.0, -1, 1.2, 1.5)  # throughput down 30 %: worse when lower is worse
    assert lower is not None
    assert lower[0] > 0


def test_overdispersion_is_near_zero_for_binomial_splits_and_tempers_noisy_ones() -> None:
    """The canary's share of the errors per interval: binomial noise gives ĉ ≈ 0 (no tempering); a share that swings
    between 5 % and 35 % around 20 % gives φ > 1.5 for an interval of 40 errors, capped at 4."""
    rng = random.Random(7)
    calm: list[float] = []
    noisy: list[float] = []
    for i in range(60):
        total = 40.0
        calm_bc = sum(rng.random() < 0.2 for _ in range(40))
        ev.push_split(calm, calm_bc, total, 0.2)
        noisy_bc = 2.0 if i % 2 else 14.0  # 5 % or 35 % of the errors, around 20 %
        ev.push_split(noisy, noisy_bc, total, 0.2)
    assert len(calm) == 3 * ev.SPLITS_KEPT
    assert ev.interval_phi(40.0, ev.overdispersion(calm, 1.0)) < 1.3
    assert ev.interval_phi(40.0, ev.overdispersion(noisy, 1.0)) > 1.5
    assert ev.interval_phi(4000.0, ev.overdispersion(noisy, 1.0)) == ev.PHI_CAP
    assert ev.interval_phi(1.0, ev.overdispersion(noisy, 1.0)) == 1.0


def test_one_interval_cannot_decide_alone() -> None:
    """However extreme one interval is (a minute at thousands of requests), it adds at most STEP_CAP nats (less the
    1 % its bet keeps back), so the FAIL evidence needs a second interval to reach 80:1; two such intervals do."""
    logs = [0.0] * 4
    ev.ratio_fail_update(logs, (2, 4, 8, 16), 600.0, 1000.0, 0.1, 1.0)
    assert ev.mixture(logs) == pytest.approx(math.exp(ev.STEP_CAP), rel=0.01)
    assert ev.mixture(logs) < 80
    ev.ratio_fail_update(logs, (2, 4, 8, 16), 600.0, 1000.0, 0.1, 1.0)
    assert ev.mixture(logs) >= 80


def test_an_obviously_broken_interval_still_decides_alone_but_a_small_burst_does_not() -> None:
    """40 of 1000 canary requests failing against 9 of 9000 (a 40x ratio) is beyond any plausible noise: FAIL
    evidence passes 80:1 at once. 5 canary errors against none on the primary could be one client's retry burst:
    capped like any other interval."""
    logs = [0.0] * 4
    ev.ratio_fail_update(logs, (2, 4, 8, 16), 40.0, 49.0, 0.1, 1.0)
    assert ev.mixture(logs) >= 80
    burst = [0.0] * 4
    ev.ratio_fail_update(burst, (2, 4, 8, 16), 5.0, 5.0, 0.1, 1.0)
    assert ev.mixture(burst) <= math.exp(ev.STEP_CAP)


def test_lower_tail_bound_flags_a_canary_starved_of_traffic() -> None:
    """100 of 2100 requests at weight 50 % is impossible by chance; 950 of 2000 is normal."""
    assert ev.lower_tail_bound(100, 2100, 0.5) < 1e-4
    assert ev.lower_tail_bound(950, 2000, 0.5) > 1e-4
    assert ev.lower_tail_bound(1200, 2000, 0.5) == 1.0


def test_one_noisy_interval_takes_away_at_most_the_loss_cap_of_promotion_evidence() -> None:
    """An A/A canary at 2000 RPS with per-version noise: four clean minutes certify it, then one minute shows the
    canary at 2 % against the primary's 0.4 % (a 5x split, as per-version noise of σ 0.5 makes now and then).
    Without a bound that minute alone took away tens of nats of the 'not 5x worse' evidence and held the release
    for minutes; now it costs at most LOSS_CAP, and a clean interval still adds all but 0.01 nats of its
    evidence."""
    logs = [0.0, 0.0]
    for _ in range(4):
        ev.ratio_pass_update(logs, (1.0, math.sqrt(5.0)), 5.0, 60.0, 120.0, 0.5, 1.0)
    before = math.log(ev.mixture(logs))
    assert before == pytest.approx(4 * ev.bounded(ev.STEP_CAP), abs=0.01)
    assert ev.STEP_CAP - ev.bounded(ev.STEP_CAP) < 0.011
    ev.ratio_pass_update(logs, (1.0, math.sqrt(5.0)), 5.0, 1200.0, 1440.0, 0.5, 1.0)
    after = math.log(ev.mixture(logs))
    assert before - after <= ev.LOSS_CAP + 1e-9
    assert before - after > 4.0  # it still costs nearly all of it: a bad minute is not ignored


def test_one_noisy_interval_takes_away_at_most_the_loss_cap_of_rollback_evidence() -> None:
    """A canary at 3x the primary's errors at 2000 RPS has a minute in which per-version noise puts it below the
    primary (150 of 1000 bad events on half the traffic). That minute alone took away over a hundred nats of
    rollback evidence, which the capped gains of later bad minutes (2.5 nats each) could not make up within any
    maxHold; now it costs at most LOSS_CAP, and four bad minutes after it roll the canary back."""
    logs = [0.0] * 4
    grid = [2 * g for g in ev.FAIL_GRID]
    ev.ratio_fail_update(logs, grid, 150.0, 1000.0, 0.5, 1.0)
    assert math.log(ev.mixture(logs)) >= -ev.LOSS_CAP - 1e-9
    assert ev.ratio_log_lr(150.0, 1000.0, 0.5, 4.0) < -100  # what the interval says, unbounded
    for minute in range(4):
        assert ev.mixture(logs) < 80, minute
        ev.ratio_fail_update(logs, grid, 750.0, 1000.0, 0.5, 1.0)  # 3x: 750 of 1000 bad events on the canary
    assert ev.mixture(logs) >= 80


def _share_crossing(
    seed: int,
    size: int,
    threshold: float,
    step: Callable[[random.Random, list[float]], None],
    runs: int = 4000,
    looks: int = 40,
) -> float:
    """The share of `runs` runs of `looks` intervals in which a mixture of `size` e-processes, updated each interval
    by `step`, ever reaches `threshold` (under its null, Ville's inequality keeps that at most 1/threshold)."""
    rng = random.Random(seed)
    crossed = 0
    for _ in range(runs):
        logs = [0.0] * size
        for _ in range(looks):
            step(rng, logs)
            if ev.mixture(logs) >= threshold:
                crossed += 1
                break
    return crossed / runs


def test_rollback_evidence_with_bounded_loss_stays_valid_for_a_canary_as_good_as_the_primary() -> None:
    """A canary with the primary's error rate must not be rolled back more than α of the time over any number of
    looks: 4,000 runs of 40 one-minute intervals (30 bad events a minute split at ρ = 0.3), FAIL against r ≤ 1 at
    the default grid, at 80:1 (α 0.05 over 4 tests)."""
    grid = [2 * g for g in ev.FAIL_GRID]

    def step(rng: random.Random, logs: list[float]) -> None:
        b_c = sum(1 for _ in range(30) if rng.random() < 0.3)
        ev.ratio_fail_update(logs, grid, float(b_c), 30.0, 0.3, 1.0)

    assert _share_crossing(12, len(grid), 80.0, step) <= 0.05 / 4


def test_promotion_evidence_with_bounded_loss_stays_valid_at_the_bound() -> None:
    """A canary exactly at `min: 99` (1 % errors) must not be certified within it more than β of the time, over
    any number of looks: 4,000 runs of 40 one-minute intervals of 300 requests each, PASS against p_max = 1 %."""
    coefficients = ev.binomial_coefficients(0.01, ev.ABS_PASS_GRID)

    def step(rng: random.Random, logs: list[float]) -> None:
        bad = sum(1 for _ in range(300) if rng.random() < 0.01)
        ev.binomial_update(logs, coefficients, 300.0, float(bad), 1.0)

    assert _share_crossing(11, len(coefficients), 20.0, step) <= 0.05


def test_rate_dispersion_is_near_zero_for_binomial_intervals_and_finds_per_version_noise() -> None:
    """The absolute tests' tempering: 60 minutes of a steady 1 % canary at 6,000 requests a minute show no extra
    dispersion (φ stays near 1), while the same canary with a per-minute lognormal factor (σ 0.5, variance 0.28)
    is tempered by about 1 + 60·0.28 ≈ 17 for a minute of 6,000 requests."""
    rng = random.Random(5)
    steady: list[float] = []
    noisy: list[float] = []
    for _ in range(60):
        ev.push_counts(steady, 6000.0, float(sum(1 for _ in range(6000) if rng.random() < 0.01)))
        factor = math.exp(0.5 * rng.gauss(0.0, 1.0) - 0.125)
        rate = 0.01 * factor
        ev.push_counts(noisy, 6000.0, float(sum(1 for _ in range(6000) if rng.random() < rate)))
    p, v = ev.rate_dispersion(steady)
    assert p == pytest.approx(0.01, rel=0.05)
    assert v < 0.02
    assert ev.rate_phi(6000.0, steady) < 2.2
    _, v_noisy = ev.rate_dispersion(noisy)
    assert 0.15 < v_noisy < 0.45
    assert 10.0 < ev.rate_phi(6000.0, noisy) < 28.0
    assert ev.rate_dispersion([])[1] == ev.RATE_DISPERSION_PRIOR
