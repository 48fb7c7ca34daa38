"""judge_tick as the engine sees it: verdicts, reasons, predictions and state over whole runs."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from typing import Any

import pytest

from serinus.api.judge import Gate, MetricKind, OnInconclusive
from serinus.engine.judge.config import MetricConfig, judge_config
from serinus.engine.judge.state import JudgeState, decode_state, encode_state
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import Observation, Verdict, VersionCounts

from .kit import DUR, SLOW, SR, config, counts, duration, latency, poisson, run, success_rate, tick, wilson_upper
from .test_evidence import WORKED


def test_worked_example_rolls_back_at_minute_5_with_the_ledger_sentence() -> None:
    """The worked 3x regression (WORKED): ADVANCE for four minutes, ROLLBACK at minute 5 with the ledger line
    "errors: canary 28/1800 vs primary 21/4200; ratio 3.1; evidence 248:1 that canary ≥ 2× primary; threshold
    80:1 → rollback" (the plain mixture's 257:1, less the 1 % a minute that bounding each interval's loss costs)."""
    cfg = config()
    ticks = [
        (tick(i + 1, round(100 * rho)), [counts(SR, (n_c, b_c), (n_p, b_p)), latency(n_c, n_p)])
        for i, (rho, b_c, n_c, b_p, n_p) in enumerate(WORKED)
    ]
    results = run(cfg, ticks)
    assert [r.verdict for r in results] == ["ADVANCE"] * 4 + ["ROLLBACK"]
    assert results[-1].reason == (
        "errors: canary 28/1800 vs primary 21/4200; ratio 3.1; evidence 248:1 that "
        "canary ≥ 2× primary; threshold 80:1 → rollback"
    )
    line = results[-1].lines[0]
    assert (line.metric, line.verdict, line.test) == (SR, Verdict.ROLLBACK, "ratio")
    assert line.e_fail == pytest.approx(248.3, abs=0.1)
    assert line.fail_threshold == pytest.approx(80)
    assert line.canary["requests"] == 1800
    assert line.canary["bad"] == 28
    assert line.canary["badTick"] == 9
    assert line.estimate == pytest.approx((28 / 1800) / (21 / 4200))
    assert line.ci is not None
    assert line.estimate is not None
    assert line.ci[0] < line.estimate < line.ci[1]
    assert [round(r.lines[0].e_fail, 1) for r in results[:4]] == [1.6, 4.5, 12.8, 59.8]


def test_zero_errors_everywhere_is_no_rollback_and_no_false_certainty() -> None:
    """0/60 vs 0/540 for ten minutes below the gate: every tick ADVANCEs, e_fail stays 1:1."""
    results = run(config(success_rate()), [(tick(i, 10), [counts(SR, (60, 0), (540, 0))]) for i in range(1, 11)])
    assert {r.verdict for r in results} == {Verdict.ADVANCE}
    assert results[-1].lines[0].e_fail == 1.0


def test_a_shared_incident_does_not_roll_back_a_good_canary() -> None:
    """A dependency blip multiplies both versions' errors by 15 (0.1 % -> 1.5 %, above the 1 % bound): no
    rollback, and the absolute test skips the interval because the primary breaches the bound too."""
    cfg = config(success_rate())
    ticks = [
        (tick(1, 10), [counts(SR, (1200, 1), (10800, 11))]),
        (tick(2, 10), [counts(SR, (1200, 18), (10800, 162))]),  # x15 on both
        (tick(3, 10), [counts(SR, (1200, 1), (10800, 11))]),
    ]
    results = run(cfg, ticks)
    assert [r.verdict for r in results] == [Verdict.ADVANCE] * 3
    assert results[1].lines[0].e_fail < 1.0
    assert "primary breaches the bound too" in results[1].lines[0].reason
    assert results[1].lines[0].canary["bad"] == 19


def test_good_canaries_are_rarely_rolled_back_under_peeking_every_interval() -> None:
    """2000 good runs (r = 1, 0.5 % errors, 20 RPS, weights 10 % up to 50 %) judged every minute for 20 minutes,
    never promoted so every look counts, with no effect gate: false rollbacks stay within α = 5 % (upper Wilson
    bound <= 6 %), where a z-test repeated every minute rolls back about 20 % of good canaries at 20 RPS (`peek-z`
    on G0 in bench/README.md's judge matrix)."""
    rng = random.Random(20261129)
    cfg = config(success_rate(delta_fail=0.0, p_max=None))
    rollbacks = 0
    paths = 2000
    for _ in range(paths):
        state: JudgeState | None = None
        for minute in range(1, 21):
            weight = min(10 * minute, 50)
            n_c = 1200 * weight / 100
            n_p = 1200 - n_c
            obs = [counts(SR, (n_c, poisson(rng, n_c * 0.005)), (n_p, poisson(rng, n_p * 0.005)))]
            result = judge_tick(cfg, state, tick(minute, weight), obs)
            state = result.state
            if result.verdict is Verdict.ROLLBACK:
                rollbacks += 1
                break
    assert wilson_upper(rollbacks, paths) <= cfg.alpha + 0.01


def test_a_5x_regression_is_rolled_back_within_minutes_at_200_rps() -> None:
    """Primary 0.1 % errors, canary 0.5 %, 200 RPS, 10 % weight (about 6 canary errors a minute): half of 200 runs
    roll back by minute 2, 95 % by minute 4, all of them (Flagger with threshold 5 would need 6 minutes)."""
    rng = random.Random(5)
    cfg = config(success_rate())
    minutes = []
    for _ in range(200):
        state: JudgeState | None = None
        for minute in range(1, 11):
            n_c, n_p = 1200.0, 10800.0
            obs = [counts(SR, (n_c, poisson(rng, n_c * 0.005)), (n_p, poisson(rng, n_p * 0.001)))]
            result = judge_tick(cfg, state, tick(minute, 10), obs)
            state = result.state
            if result.verdict is Verdict.ROLLBACK:
                minutes.append(minute)
                break
    assert len(minutes) == 200
    assert sorted(minutes)[99] <= 2
    assert sorted(minutes)[189] <= 4


def test_provider_error_and_scrape_gap_freeze_and_count_nothing() -> None:
    """A provider error, or requests None (a scrape gap), is FREEZE: the state remembers since when, and the
    counts do not move; the next good interval carries on from where the run was."""
    cfg = config(success_rate())
    first = judge_tick(cfg, None, tick(1, 10), [counts(SR, (100, 0), (900, 1))])
    error = Observation(SR, error="prometheus: connection refused")
    frozen = judge_tick(cfg, first.state, tick(2, 10), [error])
    assert frozen.verdict is Verdict.FREEZE
    assert "connection refused" in frozen.reason
    assert encode_state(frozen.state)["fz"] == 120.0
    assert encode_state(frozen.state)["m"] == encode_state(first.state)["m"]
    gap = Observation(SR, canary=VersionCounts(requests=None), primary=VersionCounts(requests=900, bad=1))
    still = judge_tick(cfg, frozen.state, tick(3, 10), [gap])
    assert still.verdict is Verdict.FREEZE
    assert encode_state(still.state)["fz"] == 120.0
    assert "scrape gap" in still.reason
    missing = judge_tick(cfg, still.state, tick(4, 10), [])
    assert missing.verdict is Verdict.FREEZE
    back = judge_tick(cfg, missing.state, tick(5, 10), [counts(SR, (100, 0), (900, 1))])
    assert back.verdict is Verdict.ADVANCE
    assert encode_state(back.state)["fz"] is None
    assert back.lines[0].canary["requests"] == 200


def test_canary_starved_of_traffic_freezes_but_extra_traffic_is_only_noted() -> None:
    """At weight 50 % a canary with 100 of 2100 requests is a sample-ratio mismatch (FREEZE); one with 80 % of the
    requests at weight 10 % (load testers hitting it directly) is judged, with a note."""
    cfg = config(success_rate())
    starved = judge_tick(cfg, None, tick(1, 50), [counts(SR, (100, 0), (2000, 2))])
    assert starved.verdict is Verdict.FREEZE
    assert "sample-ratio mismatch" in starved.reason
    assert encode_state(starved.state)["m"] == {}
    busy = judge_tick(cfg, None, tick(1, 10), [counts(SR, (800, 0), (200, 0))])
    assert busy.verdict is Verdict.ADVANCE
    assert "direct load" in busy.reason
    assert "direct load" in busy.lines[0].reason
    mirrored = judge_tick(cfg, None, tick(1, 50, mirrored=True), [counts(SR, (100, 0), (2000, 2))])
    assert mirrored.verdict is Verdict.ADVANCE


def test_low_traffic_holds_at_the_gate_with_a_prediction() -> None:
    """0.5 RPS at 50 %: 15 clean canary requests a minute. At the gate the judge HOLDs and says how many more
    canary requests (and minutes at this traffic) certification takes: success rate >= 99 % needs about 500 clean
    requests, "no worse than the primary by 0.5 pp" about 1,100 (the canary's own share certified below 0.5 %)."""
    cfg = config(success_rate())
    state = None
    result = None
    for minute in range(1, 4):
        result = judge_tick(cfg, state, tick(minute, 50, at_gate=True), [counts(SR, (15, 0), (15, 0))])
        state = result.state
    assert result is not None
    assert result.verdict is Verdict.HOLD
    assert result.predicted_s is not None
    assert 20 * 60 < result.predicted_s < 90 * 60
    assert result.reason.startswith("≈ ")
    assert "more canary requests" in result.reason
    assert "min at current traffic) to certify errors below 5× the primary's" in result.reason
    assert "success rate ≥ 99%" in result.lines[0].reason
    assert result.lines[0].verdict is Verdict.HOLD


def test_hold_during_a_shared_incident_waits_for_the_primary_without_a_prediction() -> None:
    """At the gate, the primary breaches `min: 99` too (3 % errors in both versions): the absolute test is paused,
    so the HOLD says the certification of that bound waits until the primary recovers, and predicts no time for it
    (not "≈ N more canary requests" at a rate the canary cannot show while the incident lasts)."""
    cfg = config(success_rate())
    state = None
    for minute in range(1, 3):
        state = judge_tick(cfg, state, tick(minute, 50, at_gate=True), [counts(SR, (100, 0), (100, 0))]).state
    result = judge_tick(cfg, state, tick(3, 50, at_gate=True), [counts(SR, (100, 3), (100, 3))])
    assert result.verdict is Verdict.HOLD
    assert result.reason.startswith(
        "the primary breaches the bound too (success rate ≥ 99%): a shared incident, "
        "so certifying it waits until the primary recovers"
    )
    assert "to certify success rate" not in result.reason
    assert result.predicted_s is None
    assert "primary breaches the bound too: interval not counted" in result.lines[0].reason
    # once the primary is back within the bound, the prediction returns
    after = judge_tick(cfg, result.state, tick(4, 50, at_gate=True), [counts(SR, (100, 0), (100, 0))])
    assert after.verdict is Verdict.HOLD
    assert after.reason.startswith("≈ ")
    assert after.predicted_s is not None


def test_good_canary_at_high_traffic_is_promoted_at_the_gate() -> None:
    """200 RPS, 0.1 % errors on both, fast latency: PROMOTE at the first tick at the gate after a few steps."""
    cfg = config()
    ticks = []
    for minute, weight in enumerate((10, 20, 30, 40, 50, 50, 50), start=1):
        n_c = 12000 * weight / 100
        n_p = 12000 - n_c
        obs = [counts(SR, (n_c, n_c * 0.001), (n_p, n_p * 0.001)), latency(n_c, n_p)]
        ticks.append((tick(minute, weight, at_gate=weight == 50), obs))
    results = run(cfg, ticks)
    assert results[-1].verdict is Verdict.PROMOTE
    assert len(results) <= 6
    assert {line.verdict for line in results[-1].lines} == {Verdict.PROMOTE}


def test_latency_regression_in_the_tail_is_rolled_back_on_the_exceedance_test() -> None:
    """The bound is the primary's p99 bucket (250 ms); the canary's share above it goes from 1 % to 4 %: ROLLBACK
    on exceedance>250ms while Flagger's p99 <= 500 ms check would pass."""
    cfg = config(duration())
    ticks = [(tick(m, 20), [latency(2400, 9600, canary=SLOW)]) for m in range(1, 10)]
    results = run(cfg, ticks)
    assert results[-1].verdict is Verdict.ROLLBACK
    assert results[-1].lines[0].test == "exceedance>250ms"
    assert "slower than 250 ms" in results[-1].reason
    assert len(results) <= 3


def test_warm_up_minute_is_not_a_latency_rollback() -> None:
    """New pods are slow for their first minute (the warm-up): that interval is left out of the latency tests, so
    a canary slow only then advances, while one that stays slow is still rolled back, one interval later."""
    cfg = config(duration())
    warm = [(tick(1, 20), [latency(2400, 9600, canary=SLOW)])] + [
        (tick(m, 20), [latency(2400, 9600)]) for m in range(2, 8)
    ]
    results = run(cfg, warm)
    assert {r.verdict for r in results} == {Verdict.ADVANCE}
    assert "warm-up" in results[0].lines[0].reason
    slow = run(cfg, [(tick(m, 20), [latency(2400, 9600, canary=SLOW)]) for m in range(1, 10)])
    assert slow[-1].verdict is Verdict.ROLLBACK
    assert len(slow) <= 4


def test_auto_bound_waits_for_200_primary_requests() -> None:
    """The latency bound is chosen from the primary only, once it has served 200 requests; until then the
    exceedance test gathers nothing."""
    cfg = config(duration(latency_max=None, p_max=None))
    first = judge_tick(cfg, None, tick(1, 10), [latency(10, 90, canary=SLOW)])
    assert encode_state(first.state)["m"][DUR]["r"][0]["le"] is None
    assert "waiting for 200 primary requests" in first.lines[0].reason
    json.dumps(encode_state(first.state), allow_nan=False)  # the pooled +Inf bucket is stored as strict JSON
    second = judge_tick(cfg, first.state, tick(2, 10), [latency(20, 180, canary=SLOW)])
    assert encode_state(second.state)["m"][DUR]["r"][0]["le"] == 250


@pytest.mark.parametrize(
    ("policy", "verdict"),
    [
        (OnInconclusive.ROLLBACK, Verdict.ROLLBACK),
        (OnInconclusive.PROMOTE, Verdict.PROMOTE),
        (OnInconclusive.PAUSE, Verdict.HOLD),
    ],
)
def test_max_hold_applies_the_on_inconclusive_policy(policy: OnInconclusive, verdict: Verdict) -> None:
    """Too little traffic to certify anything: after maxHold (10 min) at the gate the policy decides, and the
    result names it; pause keeps holding and says a person is needed."""
    cfg = config(success_rate(), max_hold_s=600, on_inconclusive=policy)
    ticks = [(tick(m, 50, at_gate=True), [counts(SR, (5, 0), (5, 0))]) for m in range(1, 20)]
    results = run(cfg, ticks)
    decided = next(r for r in results if r.policy)
    assert decided.verdict is verdict
    assert decided.policy == str(policy)
    assert results.index(decided) == 10  # first hold at minute 1, maxHold reached at minute 11
    assert all(r.verdict is Verdict.HOLD for r in results[:10])
    if policy is OnInconclusive.PAUSE:
        assert "waiting for a person" in decided.reason
        assert results[-1].verdict is Verdict.HOLD
        assert "paused" in results[-1].reason


@pytest.mark.parametrize(("bad", "verdict"), [(0, Verdict.PROMOTE), (1, Verdict.ROLLBACK)])
def test_max_hold_with_flagger_policy_gives_flaggers_verdict(bad: int, verdict: Verdict) -> None:
    """onInconclusive flagger: at maxHold, Flagger's rule over the run: intervals whose success rate was below 99 %
    count as failed checks (threshold 2), intervals without requests do not."""
    cfg = config(success_rate(), max_hold_s=600, flagger_threshold=2)
    ticks = []
    for m in range(1, 20):
        canary = (0, 0) if m % 3 == 0 else (5, bad if m in (2, 4) else 0)  # 1 error in 5 = 80 %
        ticks.append((tick(m, 50, at_gate=True), [counts(SR, canary, (5, 0))]))
    results = run(cfg, ticks)
    decided = results[-1]
    assert decided.policy == "flagger"
    assert decided.verdict is verdict
    assert f"{2 * bad} of 8 intervals with data failed their thresholds (threshold 2)" in decided.reason


def test_flagger_policy_follows_flaggers_own_schedule() -> None:
    """A good canary at low traffic fails Flagger's 99 % check now and then (1 error in 30 requests). Flagger itself
    would have promoted after its 5 passing checks, long before the 5th failure, so at maxHold the flagger policy
    promotes, although 6 of 30 intervals failed over the whole hold."""
    cfg = config(success_rate(), max_hold_s=1800, flagger_threshold=5, flagger_passes=5)
    ticks = [(tick(m, 50, at_gate=True), [counts(SR, (30, 1 if m % 5 == 0 else 0), (30, 0))]) for m in range(1, 40)]
    results = run(cfg, ticks)
    decided = results[-1]
    assert decided.policy == "flagger"
    assert decided.verdict is Verdict.PROMOTE
    assert "would have promoted after 5 passing checks" in decided.reason
    assert "6 of 31 intervals with data failed" in decided.reason
    early = run(
        cfg, [(tick(m, 50, at_gate=True), [counts(SR, (30, 1 if m <= 5 else 0), (30, 0))]) for m in range(1, 40)]
    )
    assert early[-1].verdict is Verdict.ROLLBACK
    assert "would have rolled back after 5 failed checks" in early[-1].reason


def test_flagger_policy_does_not_count_a_shared_incident_as_a_failed_check() -> None:
    """An outage is not the canary's fault: the same early failures as above, but the primary fails the same
    99 % bound over the same intervals (1 error in 30 too), so the replay counts none of them as failed checks:
    Flagger's schedule promotes after its 5 passing checks and the policy promotes. A canary failing alone still
    counts (the same intervals with a clean primary roll back, above)."""
    cfg = config(success_rate(), max_hold_s=1800, flagger_threshold=5, flagger_passes=5)
    shared = run(
        cfg,
        [
            (tick(m, 50, at_gate=True), [counts(SR, (30, 1 if m <= 5 else 0), (30, 1 if m <= 5 else 0))])
            for m in range(1, 40)
        ],
    )
    decided = shared[-1]
    assert decided.policy == "flagger"
    assert decided.verdict is Verdict.PROMOTE
    assert "would have promoted after 5 passing checks" in decided.reason
    assert "0 of 26 intervals with data failed" in decided.reason
    # the primary within its bound while the canary fails it: still a failed check
    alone = run(
        cfg, [(tick(m, 50, at_gate=True), [counts(SR, (30, 1 if m <= 5 else 0), (30, 0))]) for m in range(1, 40)]
    )
    assert alone[-1].verdict is Verdict.ROLLBACK
    assert "would have rolled back after 5 failed checks" in alone[-1].reason


def test_flagger_policy_reads_p99_like_histogram_quantile() -> None:
    """Flagger's p99 check on request-duration uses Prometheus' interpolation: a canary p99 above 500 ms in three
    intervals is three failed checks (threshold 3) -> ROLLBACK at maxHold."""
    tail = (0, 0, 0, 0, 0, 0, 0.5, 0.9, 0.95, 0.98, 1, 1, 1, 1)  # p99 ≈ 1750 ms
    cfg = config(duration(), max_hold_s=300, flagger_threshold=3)
    ticks = [(tick(m, 50, at_gate=True), [latency(3 if m <= 3 else 0, 3, canary=tail)]) for m in range(1, 12)]
    results = run(cfg, ticks)
    assert results[-1].policy == "flagger"
    assert results[-1].verdict is Verdict.ROLLBACK
    assert "3 of 3 intervals" in results[-1].reason


def test_every_step_needs_pass_evidence_before_advancing_and_restarts_at_each_weight() -> None:
    """gate everyStep: below maxWeight the judge HOLDs until the step has its own PASS evidence, then ADVANCEs; the
    PASS evidence starts again at the next weight."""
    cfg = config(success_rate(), gate=Gate.EVERY_STEP)
    state = None
    verdicts = []
    for minute in range(1, 30):
        result = judge_tick(cfg, state, tick(minute, 10), [counts(SR, (60, 0), (540, 0))])
        verdicts.append(result.verdict)
        state = result.state
        if result.verdict is Verdict.ADVANCE:
            break
    assert verdicts[0] is Verdict.HOLD
    assert verdicts[-1] is Verdict.ADVANCE
    assert len(verdicts) > 3
    moved = judge_tick(cfg, state, tick(40, 20), [counts(SR, (60, 0), (240, 0))])
    assert moved.verdict is Verdict.HOLD
    before, after = result.lines[0], moved.lines[0]
    assert after.e_pass / after.pass_threshold < 1.0 <= before.e_pass / before.pass_threshold


def test_advisory_metric_is_shown_but_never_decides() -> None:
    """An advisory metric 10x worse than the primary is in the ledger with its evidence, yet the run advances; its
    provider failing does not freeze the run either."""
    cfg = config(success_rate(), success_rate(name="errors-advisory", advisory=True, p_max=None))
    bad = counts("errors-advisory", (1200, 60), (10800, 54))
    good = counts(SR, (1200, 1), (10800, 10))
    results = run(cfg, [(tick(m, 10), [good, bad]) for m in range(1, 6)])
    assert {r.verdict for r in results} == {Verdict.ADVANCE}
    advisory = results[-1].lines[1]
    assert advisory.verdict is Verdict.ROLLBACK
    assert advisory.e_fail > 100 * advisory.fail_threshold
    assert "(advisory)" in advisory.reason
    failing = judge_tick(cfg, results[-1].state, tick(7, 10), [good, Observation("errors-advisory", error="boom")])
    assert failing.verdict is Verdict.ADVANCE


def test_scalar_metric_rolls_back_on_a_steady_increase() -> None:
    """A custom scalar (say CPU) steadily 30 % above the primary's: ROLLBACK once enough intervals agree; a value
    that must not drop (direction -1) is judged the other way."""
    cpu = MetricConfig(name="cpu", kind=MetricKind.SCALAR)
    cfg = config(cpu)
    scalar = Observation("cpu", kind="scalar", canary=VersionCounts(value=1.3), primary=VersionCounts(value=1.0))
    results = run(cfg, [(tick(m, 10), [scalar]) for m in range(1, 30)])
    assert results[-1].verdict is Verdict.ROLLBACK
    assert 8 <= len(results) <= 10  # α 0.05 over one test: 1.5^8 ≥ 20
    assert results[-1].reason.startswith("cpu: canary 1.3 vs primary 1; ")
    assert results[-1].reason.endswith(
        "8 of 8 intervals ≥ 1.2× higher; evidence 25.6:1 that canary is worse "
        "(threshold 20:1), 25.6:1 that it is within 1.5× (needs 20:1) → rollback"
    )
    throughput = MetricConfig(name="cpu", kind=MetricKind.SCALAR, direction=-1)
    results = run(config(throughput), [(tick(m, 10), [scalar]) for m in range(1, 30)])
    assert results[-1].verdict is Verdict.ADVANCE


def test_state_round_trips_through_json_without_changing_the_verdicts() -> None:
    """The state is stored in Kubernetes status between ticks: JSON in, JSON out, same verdicts and evidence; it
    stays well under 8 KB for three metrics after 100 ticks, and the input state is never modified."""
    rng = random.Random(3)
    cfg = config(success_rate(), duration(), success_rate(name="errors", p_max=None), max_hold_s=1e9)
    direct: JudgeState | None = None
    stored: str | None = None

    def text(state: JudgeState | None) -> str:
        return json.dumps(encode_state(state) if state is not None else None, allow_nan=False)

    for minute in range(1, 101):
        weight = min(10 * minute, 50)
        n_c, n_p = 120.0 * weight / 10, 6000.0 - 120.0 * weight / 10
        obs = [
            counts(SR, (n_c, poisson(rng, n_c * 0.01)), (n_p, poisson(rng, n_p * 0.01))),
            latency(n_c, n_p),
            counts("errors", (n_c, poisson(rng, n_c * 0.02)), (n_p, poisson(rng, n_p * 0.02))),
        ]
        when = tick(minute, weight, at_gate=False)
        before = text(direct)
        a = judge_tick(cfg, direct, when, obs)
        assert text(direct) == before
        b = judge_tick(cfg, decode_state(json.loads(stored)) if stored else None, when, obs)
        assert (a.verdict, a.reason, a.lines) == (b.verdict, b.reason, b.lines)
        assert text(a.state) == text(b.state)
        direct, stored = a.state, text(b.state)
    assert stored is not None
    assert len(stored) < 8000
    assert all(math.isfinite(line.e_fail) for line in a.lines)


def test_ledger_lines_serialise_for_status() -> None:
    """Every ledger line's JSON form is strict JSON (no NaN or infinity), with counts and evidence."""
    result = judge_tick(config(), None, tick(1, 10), [counts(SR, (120, 0), (1080, 0)), latency(120, 1080)])
    for line in result.lines:
        text = json.dumps(line.to_json(), allow_nan=False)
        assert "eFail" in text


def test_the_max_hold_clock_stops_while_frozen() -> None:
    """Held at the gate for 5 minutes, then Prometheus is down for 8: maxHold (10 min) is not used up by the
    outage, so the policy decides 5 minutes of holding after the data return, not at once."""
    cfg = config(success_rate(), max_hold_s=600, on_inconclusive=OnInconclusive.ROLLBACK)
    error = Observation(SR, error="prometheus: connection refused")
    ticks = (
        [(tick(m, 50, at_gate=True), [counts(SR, (5, 0), (5, 0))]) for m in range(1, 6)]
        + [(tick(m, 50, at_gate=True), [error]) for m in range(6, 14)]
        + [(tick(m, 50, at_gate=True), [counts(SR, (5, 0), (5, 0))]) for m in range(14, 30)]
    )
    results = run(cfg, ticks)
    assert [r.verdict for r in results[5:13]] == [Verdict.FREEZE] * 8
    decided = next(r for r in results if r.policy)
    assert decided.verdict is Verdict.ROLLBACK
    # held minutes 1-5 and 14-19: the sixth minute after the outage completes 10 minutes of holding
    assert results.index(decided) == 18
    assert all(r.verdict is Verdict.HOLD for r in results[13:18])


def test_a_custom_error_metric_is_held_to_its_max_bad_share() -> None:
    """A custom error ratio at 1.3 % against a primary at 0.95 % is within the relative tolerance (under 2×), so
    the comparison alone promotes it; with maxBadShare 1 % the absolute test rolls it back and says which bound,
    beside the comparison or (kind absolute) alone."""
    from .test_config import canary as manifest

    def judged(**extra: Any) -> list[Any]:
        metric = {
            "name": "checkout-errors",
            "templateRef": {"name": "t"},
            "thresholdRange": {"max": 1},
            "judge": {"requestsQuery": "sum(r)", "badQuery": "sum(b)", **extra},
        }
        cfg = judge_config(manifest({"metrics": [metric], "judge": {"mode": "statistical"}}))
        assert cfg is not None
        ticks = []
        for minute, weight in enumerate((10, 20, 30, 40) + (50,) * 11, start=1):
            n_c = 12000 * weight / 100
            n_p = 12000 - n_c
            ticks.append(
                (
                    tick(minute, weight, at_gate=weight == 50),
                    [
                        replace(
                            counts("checkout-errors", (n_c, n_c * 0.013), (n_p, n_p * 0.0095)),
                            kind=extra.get("kind", "ratio"),
                        )
                    ],
                )
            )
        return run(cfg, ticks)

    assert judged()[-1].verdict is Verdict.PROMOTE
    for held in (judged(maxBadShare="1%"), judged(kind="absolute", maxBadShare="1%")):
        assert held[-1].verdict is Verdict.ROLLBACK
        assert "checkout-errors: bad share ≤ 1%" in held[-1].lines[0].reason
