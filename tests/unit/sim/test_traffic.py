"""The traffic generator: its counts follow the model, the routing share and the seed, and bad blocks name the
field at fault."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pytest

from serinus.sim.base import ScenarioError
from serinus.sim.traffic import (
    CANARY,
    PRIMARY,
    Generator,
    History,
    Latency,
    SubInterval,
    TrafficModel,
    Window,
    binomial_ppf,
    bucket_model,
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
    ms at high traffic (a true p99 of 256 ms, interpolated linearly inside Istio's 250-500 ms bucket)."""
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
    gen = _gen(
        runs=500,
        rps=200,
        canary={"latency": {"tail": {"fraction": 0.1, "add": "800ms"}}},
        warmup={"multiplier": 4, "duration": "1m"},
    )
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
    model = TrafficModel.parse(
        {
            "rps": 1,
            "primary": {"errorRate": 0.001},
            "changes": [
                {"at": "6m", "canary": {"errorRate": 0.005}},
                {"at": "10m", "until": "13m", "shared": {"errorRate": 0.05, "latency": {"median": "200ms"}}},
            ],
        }
    )
    rates = {t: tuple(v.error_rate for v in model.versions_at(t)) for t in (0, 360, 600, 779, 780)}
    assert rates == {0: (0.001, 0.001), 360: (0.001, 0.005), 600: (0.05, 0.05), 779: (0.05, 0.05), 780: (0.001, 0.005)}
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


@pytest.mark.parametrize(
    ("raw", "message"),
    [
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
        ({"rps": 1, "bursts": {"probability": 2}}, "traffic.bursts.probability: 2 must be at most 1"),
        ({"rps": 1, "bursts": {"multiplier": 0}}, "traffic.bursts.multiplier: 0 must be above 0"),
        ({"rps": 1, "bursts": {"size": 3}}, "traffic.bursts: unknown field 'size'"),
        ({"rps": 1, "canary": {"sticky": {"fraction": 0.5}}}, "traffic.canary.sticky: missing 'size'"),
        ({"rps": 1, "canary": {"sticky": {"size": 3}}}, "traffic.canary.sticky: missing 'fraction'"),
        (
            {"rps": 1, "primary": {"sticky": {"fraction": 1.5, "size": 3}}},
            "traffic.primary.sticky.fraction: 1.5 must be at most 1",
        ),
        (
            {"rps": 1, "canary": {"sticky": {"fraction": 0.5, "size": 0}}},
            "traffic.canary.sticky.size: 0 is not a whole number >= 1",
        ),
        (
            {"rps": 1, "canary": {"sticky": {"fraction": 0.5, "size": 2.5}}},
            "traffic.canary.sticky.size: 2.5 is not a whole number >= 1",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "shared": {"sticky": {"fraction": 0.5, "size": -1}}}]},
            "traffic.changes[0].shared.sticky.size: -1 is not a whole number",
        ),
        ({"rps": 1, "primary": {"errorDrift": "fast"}}, "traffic.primary.errorDrift: 'fast' is not a number"),
        (
            {"rps": 1, "changes": [{"at": "1m", "canary": {"errorDrift": True}}]},
            "traffic.changes[0].canary.errorDrift: True is not a number",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "ramp": "slowly", "canary": {"errorRate": 0.1}}]},
            "traffic.changes[0].ramp: 'slowly' is not a time",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "ramp": -5, "canary": {"errorRate": 0.1}}]},
            "traffic.changes[0].ramp: -5 is negative",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "aboveWeight": 0, "canary": {"errorRate": 0.1}}]},
            "traffic.changes[0].aboveWeight: 0 must be above 0",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "aboveWeight": 1.5, "canary": {"errorRate": 0.1}}]},
            "traffic.changes[0].aboveWeight: 1.5 must be at most 1",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "aboveWeight": "half", "canary": {"errorRate": 0.1}}]},
            "traffic.changes[0].aboveWeight: 'half' is not a number",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "aboveWeight": 0.5, "primary": {"errorRate": 0.1}}]},
            "traffic.changes[0].aboveWeight: needs a canary override",
        ),
        (
            {
                "rps": 1,
                "changes": [
                    {"at": "1m", "aboveWeight": 0.5, "shared": {"errorRate": 0.1}, "canary": {"errorRate": 0.1}}
                ],
            },
            "traffic.changes[0].aboveWeight: applies to the canary only; move 'shared'",
        ),
    ],
)
def test_bad_traffic_blocks_name_the_field(raw: object, message: str) -> None:
    """Each mistake is reported with the path of the field at fault."""
    with pytest.raises(ScenarioError) as err:
        TrafficModel.parse(raw)
    assert str(err.value).startswith(message)


def test_canary_defaults_to_the_primary() -> None:
    """Fields the canary leaves out are the primary's."""
    model = TrafficModel.parse(
        {
            "rps": 1,
            "primary": {"errorRate": 0.02, "latency": {"median": 120, "sigma": 0.3}},
            "canary": {"latency": {"sigma": 0.8}},
        }
    )
    assert model.canary.error_rate == 0.02
    assert (model.canary.latency.median_ms, model.canary.latency.sigma) == (120, 0.8)


# ----- bursts, sticky clients, drift, ramps and load-dependent changes (docs/simulate.md, Traffic) -----

#: sha256 of requests, errors and buckets of a few sub-intervals, computed with the generator as it was before
#: bursts, sticky clients, drift, ramps and aboveWeight existed (git eac97c5): models that use none of them must
#: draw exactly the same counts, or the judge benchmark's published numbers would move
_UNCHANGED = {
    2.0: "decaaa78eabadf5a04933dd8891924fa7cbd7bbe93fff491215f4db9a1f53fea",
    20.0: "368708231d855b58b1e2d6a17ef97906b9bc4afb1d279eb5805f60569edc1ff6",
    2000.0: "0e2823fa344ab8471791d4ad2879758bfbd7faca2f107b8fb0dd65111643e9a4",
}
_UNCHANGED_MODEL: dict[str, Any] = {
    "seed": 11,
    "sharedSigma": 0.3,
    "blips": {"probability": 0.2, "multiplier": 15},
    "overdispersion": 0.5,
    "diurnal": {"amplitude": 0.3, "period": "1h", "phase": "5m"},
    "primary": {
        "errorRate": 0.01,
        "latency": {"median": "80ms", "sigma": 0.5, "tail": {"fraction": 0.02, "add": "800ms"}},
    },
    "canary": {"errorRate": 0.03},
    "warmup": {"multiplier": 3, "duration": "1m"},
    "changes": [
        {"at": "2m", "canary": {"errorRate": 0.1, "latency": {"median": "120ms"}}},
        {"at": "3m", "until": "5m", "shared": {"errorRate": 0.05, "latency": {"sigma": 0.8}}},
    ],
}


@pytest.mark.parametrize("rps", sorted(_UNCHANGED))
def test_models_without_the_new_fields_draw_what_they_drew_before(rps: float) -> None:
    """Common random numbers across versions of the generator: with shared noise, blips, over-dispersion,
    diurnal traffic, changes and warm-up (but no bursts, sticky clients, drift, ramps or aboveWeight), 7 runs give
    bit for bit the counts the generator gave before those features were added."""
    gen = Generator(TrafficModel.parse({**_UNCHANGED_MODEL, "rps": rps}), 7)
    shares = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0])
    started = np.array([0.0, 0.0, 30.0, 60.0, 120.0, 180.0, 0.0])
    digest = hashlib.sha256()
    for t0 in (0.0, 10.0, 50.0, 60.0, 130.0, 190.0, 250.0, 310.0, 600.0):
        sub = gen.step(t0, shares, canary_started=started)
        for arr in (sub.requests, sub.errors, sub.buckets):
            digest.update(np.ascontiguousarray(arr, dtype="<i8").tobytes())
    assert digest.hexdigest() == _UNCHANGED[rps]


def test_the_new_features_leave_the_existing_streams_alone() -> None:
    """Bursts and sticky clients draw from streams of their own: a run's latencies (and with bursts off, its
    requests) are those of the same model without them."""
    plain = _gen(runs=300, canary={"errorRate": 0.02}).step(40.0, 0.3)
    sticky = _gen(runs=300, canary={"errorRate": 0.02, "sticky": {"fraction": 0.0, "size": 5}}).step(40.0, 0.3)
    assert np.array_equal(plain.errors, sticky.errors)
    clustered = _gen(runs=300, canary={"errorRate": 0.02, "sticky": {"fraction": 0.5, "size": 5}}).step(40.0, 0.3)
    assert np.array_equal(plain.requests, clustered.requests)
    assert np.array_equal(plain.buckets, clustered.buckets)
    assert np.array_equal(plain.errors[PRIMARY], clustered.errors[PRIMARY])
    never = _gen(runs=300, canary={"errorRate": 0.02}, bursts={"probability": 0, "multiplier": 5}).step(40.0, 0.3)
    assert np.array_equal(plain.requests, never.requests)
    assert np.array_equal(plain.errors, never.errors)


def test_bursts_multiply_the_traffic_of_both_versions() -> None:
    """In a burst the traffic of both versions is `multiplier` times the usual for the whole noise interval; bursts
    come with their probability and independently of the error blips."""
    gen = _gen(runs=4000, bursts={"probability": 0.2, "multiplier": 3}, blips={"probability": 0.2, "multiplier": 15})
    burst = gen.bursts(0.0) == 3
    assert burst.mean() == pytest.approx(0.2, abs=0.02)
    subs = [gen.step(10.0 * i, 0.3) for i in range(6)]  # one noise interval (1m)
    for v, share in ((PRIMARY, 0.7), (CANARY, 0.3)):
        requests = np.mean([s.requests[v] for s in subs], axis=0)
        assert requests[burst].mean() == pytest.approx(3 * 20 * share * 10, rel=0.02)
        assert requests[~burst].mean() == pytest.approx(20 * share * 10, rel=0.02)
    blip = gen.noise(0.0)[CANARY] == 15
    assert np.mean(burst & blip) == pytest.approx(0.04, abs=0.01)
    later = gen.bursts(60.0) == 3
    assert later.mean() == pytest.approx(0.2, abs=0.02)
    assert not np.array_equal(burst, later)


def test_sticky_clients_keep_the_mean_and_raise_the_variance() -> None:
    """fraction 0.5 in clusters of 5: the mean error count is unchanged, its variance about 1 + 0.5 · 4 = 3 times
    the plain one (exactly λp((1 - F) + K·F + 2pF(1 - F)) with λ = 100 requests, p = 0.05)."""
    raw: dict[str, Any] = {"canary": {"errorRate": 0.05}}
    plain = _gen(runs=20000, **raw)
    sticky = _gen(runs=20000, canary={"errorRate": 0.05, "sticky": {"fraction": 0.5, "size": 5}})
    base = np.concatenate([plain.step(10.0 * i, 0.5).errors[CANARY] for i in range(3)])
    subs = [sticky.step(10.0 * i, 0.5) for i in range(3)]
    clustered = np.concatenate([s.errors[CANARY] for s in subs])
    assert clustered.mean() == pytest.approx(base.mean(), rel=0.02)
    assert clustered.mean() == pytest.approx(5.0, rel=0.02)
    assert base.var() == pytest.approx(5.0, rel=0.05)
    assert clustered.var() == pytest.approx(100 * 0.05 * (0.5 + 2.5 + 2 * 0.05 * 0.25), rel=0.06)
    assert np.all(
        np.concatenate([s.errors for s in subs], axis=1) <= np.concatenate([s.requests for s in subs], axis=1)
    )


def test_sticky_errors_never_exceed_the_requests() -> None:
    """Clusters are capped at the requests of the sub-interval."""
    gen = _gen(runs=2000, rps=2, canary={"errorRate": 0.5, "sticky": {"fraction": 1.0, "size": 50}})
    sub = gen.step(0.0, 1.0)
    assert np.all(sub.errors <= sub.requests)
    capped = (sub.errors[CANARY] == sub.requests[CANARY]) & (sub.requests[CANARY] > 0)
    # clusters come at p·F/K = 1 % a request, and 20 requests a step: at least one in 1 - e^-0.2 of the runs
    assert capped.mean() == pytest.approx(1 - math.exp(-0.2), abs=0.025)
    assert np.all(sub.errors[CANARY][~capped] == 0)  # all errors come in clusters, and a cluster fills the step


def test_drift_raises_the_error_rate_linearly() -> None:
    """errorDrift 0.001 a minute from 1 %: 2 % at 10 minutes, 3 % at 20, in the model and in the generated errors;
    a change's drift counts from its `at`, a negative one stops at 0."""
    raw: dict[str, Any] = {"primary": {"errorRate": 0.01, "errorDrift": 0.001}}
    gen = _gen(runs=2000, rps=200, **raw)
    for minute, rate in ((10, 0.02), (20, 0.03)):
        primary, canary = gen.model.versions_at(60.0 * minute)
        assert (primary.error_rate, canary.error_rate) == pytest.approx((rate, rate))
        sub = gen.step(60.0 * minute, 0.5)
        assert sub.errors.sum(axis=1) / sub.requests.sum(axis=1) == pytest.approx([rate, rate], rel=0.03)
    model = TrafficModel.parse(
        {
            "rps": 1,
            "primary": {"errorRate": 0.01},
            "changes": [
                {"at": "10m", "canary": {"errorDrift": 0.002}},
                {"at": "20m", "primary": {"errorRate": 0.005, "errorDrift": -0.001}},
            ],
        }
    )
    rates = {m: tuple(v.error_rate for v in model.versions_at(60.0 * m)) for m in (5, 10, 15, 20, 22, 30)}
    assert rates == {
        5: (0.01, 0.01),
        10: (0.01, 0.01),
        15: (0.01, pytest.approx(0.02)),
        20: (0.005, pytest.approx(0.03)),
        22: (pytest.approx(0.003), pytest.approx(0.034)),
        30: (0.0, pytest.approx(0.05)),
    }


def test_a_ramp_is_half_way_at_its_midpoint() -> None:
    """A change with ramp 4m at minute 4 moves the canary from 1 % errors and 80 ms to 5 % and 200 ms: 3 % and
    140 ms at minute 6 (also in the generated errors), the old values before minute 4 and the new from minute 8."""
    raw: dict[str, Any] = {
        "primary": {"errorRate": 0.01},
        "changes": [{"at": "4m", "ramp": "4m", "canary": {"errorRate": 0.05, "latency": {"median": "200ms"}}}],
    }
    gen = _gen(runs=2000, rps=200, **raw)

    def canary(minute: float) -> tuple[float, float]:
        version = gen.model.versions_at(60.0 * minute)[CANARY]
        return version.error_rate, version.latency.median_ms

    assert canary(3.9) == (0.01, 80)
    assert canary(4) == (0.01, 80)
    assert canary(6) == pytest.approx((0.03, 140))
    assert canary(8) == (0.05, 200)
    assert gen.model.versions_at(360.0)[PRIMARY].error_rate == 0.01
    sub = gen.step(360.0, 0.5)
    assert sub.errors[CANARY].sum() / sub.requests[CANARY].sum() == pytest.approx(0.03, rel=0.03)
    assert _within_100ms(gen, sub) == pytest.approx(_within_100ms_model(gen, 140), abs=0.01)


def test_a_ramp_starts_from_the_value_in_effect() -> None:
    """A ramp starts from where an earlier ramp or drift has brought the field, not from the base value."""
    model = TrafficModel.parse(
        {
            "rps": 1,
            "primary": {"errorRate": 0.01, "errorDrift": 0.001},
            "changes": [
                {"at": "0s", "ramp": "10m", "canary": {"latency": {"median": "180ms"}}},
                {"at": "5m", "ramp": "2m", "canary": {"errorRate": 0.1, "latency": {"median": "80ms"}}},
            ],
        }
    )
    canary = model.versions_at(360.0)[CANARY]  # half-way through the second ramp
    assert canary.latency.median_ms == pytest.approx((130 + 80) / 2)
    assert canary.error_rate == pytest.approx((0.015 + 0.101) / 2)  # the drift goes on after the new rate


def test_above_weight_applies_only_under_load() -> None:
    """aboveWeight 0.5: the canary at 20 % of the traffic keeps the base error rate (and exactly the counts of the
    model without the change), at 50 % it shows the regression."""
    change: dict[str, Any] = {"at": "0s", "aboveWeight": 0.5, "canary": {"errorRate": 0.05}}
    gen = _gen(runs=4000, rps=200, primary={"errorRate": 0.01}, changes=[change])
    shares = np.where(np.arange(4000) % 2 == 0, 0.2, 0.5)
    low, high = shares == 0.2, shares == 0.5
    subs = [gen.step(10.0 * i, shares) for i in range(3)]
    errors = np.sum([s.errors[CANARY] for s in subs], axis=0)
    requests = np.sum([s.requests[CANARY] for s in subs], axis=0)
    assert errors[low].sum() / requests[low].sum() == pytest.approx(0.01, rel=0.05)
    assert errors[high].sum() / requests[high].sum() == pytest.approx(0.05, rel=0.03)
    plain = _gen(runs=4000, rps=200, primary={"errorRate": 0.01}).step(0.0, shares)
    assert np.array_equal(subs[0].errors[:, low], plain.errors[:, low])
    assert np.array_equal(subs[0].requests, plain.requests)
    model = gen.model
    assert [model.versions_at(60.0, canary_share=s)[CANARY].error_rate for s in (None, 0.2, 0.49, 0.5, 1.0)] == [
        0.01,
        0.01,
        0.01,
        0.05,
        0.05,
    ]
    assert model.versions_at(60.0, canary_share=0.9)[PRIMARY].error_rate == 0.01


def test_above_weight_with_several_thresholds() -> None:
    """Each run gets the changes whose weight its share reaches; latency follows too."""
    gen = _gen(
        runs=3000,
        rps=200,
        primary={"errorRate": 0.01},
        changes=[
            {"at": "0s", "aboveWeight": 0.3, "canary": {"latency": {"median": "160ms"}}},
            {"at": "0s", "aboveWeight": 0.6, "canary": {"errorRate": 0.2}},
        ],
    )
    shares = np.array([0.1, 0.3, 0.6] * 1000)
    sub = gen.step(0.0, shares)
    for share, median, rate in ((0.1, 80, 0.01), (0.3, 160, 0.01), (0.6, 160, 0.2)):
        runs = shares == share
        assert _within_100ms(gen, sub, runs) == pytest.approx(_within_100ms_model(gen, median), abs=0.01)
        assert sub.errors[CANARY][runs].sum() / sub.requests[CANARY][runs].sum() == pytest.approx(rate, rel=0.1)


def _within_100ms(gen: Generator, sub: SubInterval, runs: Any = slice(None)) -> float:
    """The canary's share of requests within 100 ms in `runs`."""
    le100 = list(gen.bounds).index(100)
    return float(sub.buckets[CANARY, runs, le100].sum() / sub.requests[CANARY, runs].sum())


def _within_100ms_model(gen: Generator, median_ms: float) -> float:
    """The share of requests within 100 ms at this median (sigma 0.5, no tail)."""
    probs, _ = bucket_model(gen.model.bounds_ms, Latency(median_ms, 0.5))
    return float(probs[: list(gen.bounds).index(100) + 1].sum())
