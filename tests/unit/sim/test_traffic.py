"""The traffic generator: its counts follow the model, the routing share and the seed, and bad blocks name the
field at fault."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from serinus.sim.scenario import ScenarioError
from serinus.sim.traffic import (
    CANARY,
    PRIMARY,
    Generator,
    History,
    TrafficModel,
    Window,
    binomial_ppf,
    histogram_quantile,
    poisson_ppf,
)


def _gen(runs: int = 4000, **raw: Any) -> Generator:
    return Generator(TrafficModel.parse({"rps": 20, "seed": 7, **raw}), runs)


def test_requests_and_errors_have_the_model_means() -> None:
    """Over many runs: requests average rps · share · dt per version, errors requests · errorRate."""
    gen = _gen(primary={"errorRate": 0.01}, canary={"errorRate": 0.05})
    subs = [gen.step(10.0 * i, 0.3) for i in range(5)]
    requests = np.mean([s.requests for s in subs], axis=(0, 2))
    errors = np.mean([s.errors for s in subs], axis=(0, 2))
    assert requests[CANARY] == pytest.approx(20 * 0.3 * 10, rel=0.02)
    assert requests[PRIMARY] == pytest.approx(20 * 0.7 * 10, rel=0.02)
    assert errors[CANARY] == pytest.approx(60 * 0.05, rel=0.05)
    assert errors[PRIMARY] == pytest.approx(140 * 0.01, rel=0.05)
    # Poisson: the variance is the mean
    assert np.var(subs[0].requests[CANARY]) == pytest.approx(60, rel=0.1)


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_the_split_follows_the_share(share: float) -> None:
    """The canary's part of all requests is its routing share."""
    sub = _gen(rps=200).step(0.0, share)
    total = sub.requests.sum()
    assert sub.requests[CANARY].sum() / total == pytest.approx(share, abs=0.005)
    assert np.all(sub.buckets[:, :, -1] == sub.requests)


def test_low_weight_gives_few_canary_requests() -> None:
    """At 1% of 2 RPS the canary sees about one request a minute, often none."""
    gen = _gen(rps=2)
    minute = Window.of([gen.step(10.0 * i, 0.01) for i in range(6)], gen.bounds)
    assert minute.requests[CANARY].mean() == pytest.approx(1.2, rel=0.1)
    assert np.mean(minute.requests[CANARY] == 0) == pytest.approx(math.exp(-1.2), abs=0.03)
    assert np.isnan(minute.success_rate(CANARY)[minute.requests[CANARY] == 0]).all()


def test_same_seed_same_requests_other_seed_others() -> None:
    """The seed fixes every count; run 0 does not depend on how many runs there are."""
    a, b = _gen(runs=50).step(30.0, 0.2), _gen(runs=50).step(30.0, 0.2)
    assert np.array_equal(a.requests, b.requests)
    assert np.array_equal(a.buckets, b.buckets)
    assert np.array_equal(a.errors, b.errors)
    other = Generator(TrafficModel.parse({"rps": 20, "seed": 8}), 50).step(30.0, 0.2)
    assert not np.array_equal(a.requests, other.requests)
    single = _gen(runs=1).step(30.0, 0.2)
    assert np.array_equal(single.requests[:, 0], a.requests[:, 0])
    assert np.array_equal(single.buckets[:, 0], a.buckets[:, 0])


def test_common_random_numbers_per_run() -> None:
    """A run holding the same weight sees the same requests whatever weights the other runs hold; more weight
    never gives the canary fewer requests from the same stream."""
    shares = np.full(200, 0.2)
    changed = shares.copy()
    changed[::2] = 0.5
    a, b = _gen(runs=200).step(60.0, shares), _gen(runs=200).step(60.0, changed)
    same = changed == shares
    assert np.array_equal(a.requests[CANARY][same], b.requests[CANARY][same])
    assert np.array_equal(a.errors[CANARY][same], b.errors[CANARY][same])
    assert np.array_equal(a.buckets[CANARY][same], b.buckets[CANARY][same])
    assert np.all(b.requests[CANARY][~same] >= a.requests[CANARY][~same])


def test_latency_buckets_follow_the_lognormal() -> None:
    """Median 80 ms, sigma 0.5: about 67% of requests within 100 ms, and p99 read by histogram_quantile near 279
    ms at high traffic (research section 7)."""
    gen = _gen(runs=200, rps=2000)
    sub = gen.step(0.0, 0.5)
    le100 = list(gen.bounds).index(100)
    within = sub.buckets[CANARY, :, le100].sum() / sub.requests[CANARY].sum()
    assert within == pytest.approx(0.672, abs=0.01)
    window = Window.of([sub], gen.bounds)
    assert np.median(window.quantile(0.99, CANARY)) == pytest.approx(279, rel=0.05)
    mean = window.latency_sum_ms[CANARY].sum() / window.requests[CANARY].sum()
    assert mean == pytest.approx(80 * math.exp(0.125), rel=0.03)


def test_tail_and_warmup_slow_requests_down() -> None:
    """A tail mixture adds slow requests; a warm-up multiplies latency only after a scale-up."""
    gen = _gen(runs=500, rps=200, canary={"latency": {"tail": {"fraction": 0.1, "add": "800ms"}}},
               warmup={"multiplier": 4, "duration": "1m"})
    le500 = list(gen.bounds).index(500)
    sub = gen.step(0.0, 0.5)
    slow = 1 - sub.buckets[:, :, le500].sum(axis=1) / sub.requests.sum(axis=1)
    assert slow[CANARY] == pytest.approx(0.1, abs=0.01)
    assert slow[PRIMARY] < 0.002
    warm = gen.step(0.0, 0.5, primary_started=0.0)
    cold = gen.step(60.0, 0.5, primary_started=0.0)
    assert np.median(Window.of([warm], gen.bounds).quantile(0.5, PRIMARY)) > 250
    assert np.median(Window.of([cold], gen.bounds).quantile(0.5, PRIMARY)) < 100


def test_changes_apply_from_at_until_until() -> None:
    """A change overrides one version, or both with `shared`, from `at` until `until`."""
    model = TrafficModel.parse({"rps": 1, "primary": {"errorRate": 0.001}, "changes": [
        {"at": "6m", "canary": {"errorRate": 0.005}},
        {"at": "10m", "until": "13m", "shared": {"errorRate": 0.05, "latency": {"median": "200ms"}}}]})
    rates = {t: tuple(v.error_rate for v in model.versions_at(t)) for t in (0, 360, 600, 779, 780)}
    assert rates == {0: (0.001, 0.001), 360: (0.001, 0.005), 600: (0.05, 0.05), 779: (0.05, 0.05),
                     780: (0.001, 0.005)}
    assert model.versions_at(700)[1].latency.median_ms == 200


def test_shared_noise_is_shared_and_overdispersion_is_not() -> None:
    """sharedSigma multiplies both versions' error rates by the same factor (mean 1); overdispersion by each its
    own."""
    shared = _gen(sharedSigma=0.5).noise(0.0)
    assert np.array_equal(shared[PRIMARY], shared[CANARY])
    assert shared.mean() == pytest.approx(1, abs=0.05)
    own = _gen(overdispersion=0.5).noise(0.0)
    assert not np.array_equal(own[PRIMARY], own[CANARY])
    blips = _gen(blips={"probability": 0.1, "multiplier": 15}).noise(0.0)
    assert np.mean(blips[CANARY] == 15) == pytest.approx(0.1, abs=0.02)


def test_sample_ratio_fault_and_telemetry_faults() -> None:
    """srm: the canary gets k times its weight; gaps make windows missing, provider errors flag the window."""
    gen = _gen(rps=200, srm=2, gaps=[{"at": "1m", "until": "70s"}], providerErrors=[{"at": "2m", "until": "3m"}])
    sub = gen.step(0.0, 0.2)
    assert sub.requests[CANARY].sum() / sub.requests.sum() == pytest.approx(0.4, abs=0.01)
    history = History(gen)
    for i in range(18):
        history.add(gen.step(10.0 * i, 0.2))
    first, second, third = (history.window(t, 60) for t in (60, 120, 180))
    assert first is not None
    assert second is not None
    assert third is not None
    assert (first.missing, second.missing, third.missing) == (False, True, False)
    assert (first.provider_error, second.provider_error, third.provider_error) == (False, False, True)


def test_histogram_quantile_is_prometheus() -> None:
    """Linear interpolation inside the bucket, from 0 in the first; the highest finite bound in +Inf; NaN empty."""
    bounds = np.array([100.0, 200.0, math.inf])
    assert histogram_quantile(0.5, bounds, [50, 100, 100]) == pytest.approx(100)
    assert histogram_quantile(0.75, bounds, [50, 100, 100]) == pytest.approx(150)
    assert histogram_quantile(0.99, bounds, [50, 90, 100]) == pytest.approx(200)
    assert math.isnan(float(histogram_quantile(0.99, bounds, [0, 0, 0])))
    both = histogram_quantile(0.5, bounds, [[50, 100, 100], [0, 0, 0]])
    assert both[0] == 100
    assert math.isnan(both[1])


@pytest.mark.parametrize(("lam", "n", "p"), [(0.3, 40, 0.01), (8, 300, 0.3), (40, 2000, 0.05), (900, 30, 0.9)])
def test_inversion_samplers_have_the_right_moments(lam: float, n: int, p: float) -> None:
    """Poisson and binomial by inversion, exact and Cornish-Fisher alike: mean and variance right."""
    u = np.random.default_rng(1).random(100_000)
    x = poisson_ppf(u, np.full(u.shape, lam))
    assert x.mean() == pytest.approx(lam, rel=0.02, abs=0.01)
    assert x.var() == pytest.approx(lam, rel=0.05, abs=0.01)
    y = binomial_ppf(u, np.full(u.shape, n), np.full(u.shape, p))
    assert y.mean() == pytest.approx(n * p, rel=0.02)
    assert y.var() == pytest.approx(n * p * (1 - p), rel=0.05)
    assert y.min() >= 0
    assert y.max() <= n


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "traffic: missing 'rps'"),
    ({"rps": -1}, "traffic.rps: -1 must be at least 0"),
    ({"rps": "lots"}, "traffic.rps: 'lots' is not a number"),
    ({"rps": 1, "seed": 1.5}, "traffic.seed: 1.5 is not a whole number"),
    ({"rps": 1, "colour": 1}, "traffic: unknown field 'colour'"),
    ({"rps": 1, "canary": {"errorRate": 2}}, "traffic.canary.errorRate: 2 must be at most 1"),
    ({"rps": 1, "primary": {"latency": {"median": "fast"}}}, "traffic.primary.latency.median: 'fast' is not a lat"),
    ({"rps": 1, "primary": {"latency": {"tail": {"add": "1x"}}}}, "traffic.primary.latency.tail.add"),
    ({"rps": 1, "changes": [{"canary": {"errorRate": 0.1}}]}, "traffic.changes[0]: missing 'at'"),
    ({"rps": 1, "changes": [{"at": "2m", "until": "1m", "shared": {}}]}, "traffic.changes[0].until: must be after"),
    ({"rps": 1, "changes": [{"at": "2m", "both": {}}]}, "traffic.changes[0]: unknown field 'both'"),
    ({"rps": 1, "changes": [{"at": "soon", "canary": {}}]}, "traffic.changes[0].at: 'soon' is not a time"),
    ({"rps": 1, "buckets": [5, 1]}, "traffic.buckets: bounds must increase"),
    ({"rps": 1, "gaps": [{"at": "1m"}]}, "traffic.gaps[0]: missing 'until'"),
    ({"rps": 1, "diurnal": {"amplitude": 3}}, "traffic.diurnal.amplitude: 3 must be at most 1"),
    ({"rps": 1, "blips": {"probability": -0.1}}, "traffic.blips.probability"),
    ({"rps": 1, "srm": 0}, "traffic.srm: 0 must be above 0"),
    ({"rps": 1, "warmup": {"duration": "x"}}, "traffic.warmup.duration: 'x' is not a time"),
])
def test_bad_traffic_blocks_name_the_field(raw: object, message: str) -> None:
    """Each mistake is reported with the path of the field at fault."""
    with pytest.raises(ScenarioError) as err:
        TrafficModel.parse(raw)
    assert str(err.value).startswith(message)


def test_canary_defaults_to_the_primary() -> None:
    """Fields the canary leaves out are the primary's."""
    model = TrafficModel.parse({"rps": 1, "primary": {"errorRate": 0.02, "latency": {"median": 120, "sigma": 0.3}},
                                "canary": {"latency": {"sigma": 0.8}}})
    assert model.canary.error_rate == 0.02
    assert (model.canary.latency.median_ms, model.canary.latency.sigma) == (120, 0.8)
