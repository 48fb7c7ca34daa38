"""One metric at one tick: update its tests with the interval's counts and say what they show (docs/judge.md, How
the tests work).

`Evaluator.metric` takes a metric's settings, its `MetricState` (updated in place: the tick works on its own copy)
and the interval's observation, and returns an `Outcome`: whether a FAIL test crossed, what PASS still needs, the
metric's ledger line and Flagger's own check of the interval. The statistics themselves (e-processes, confidence
sequences, histograms) are in `evidence`; the sentences in `wording`; the verdict of the tick in `tick`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from serinus.api.analysis import REQUEST_SUCCESS_RATE
from serinus.api.judge import Baseline, Gate, MetricKind
from serinus.engine.judge import evidence as ev
from serinus.engine.judge import wording as say
from serinus.engine.judge.config import JudgeConfig, MetricConfig
from serinus.engine.judge.state import AbsoluteTest, MetricState, RelativeTest, SignTest
from serinus.engine.judge.types import LedgerLine, Observation, Tick, Verdict, VersionCounts
from serinus.engine.thresholds import MetricKind as FlaggerKind
from serinus.engine.thresholds import within

#: primary requests needed before the automatic latency bound is chosen
AUTO_BOUND_MIN_REQUESTS = 200.0
#: the ledger's ratio CI is capped here (an unbounded upper end is shown as this)
CI_CAP = 1e6
#: latency tests leave out the canary's first interval(s) with traffic: new pods are slow for a while and are
#: compared with a warm primary (docs/judge.md, How the tests work: Warm-up)
WARMUP_INTERVALS = 1


@lru_cache(maxsize=64)
def _fail_grid(m_fail: float) -> tuple[float, ...]:
    return tuple(m_fail * g for g in ev.FAIL_GRID)


@lru_cache(maxsize=64)
def _pass_alternatives(m_pass: float) -> tuple[float, ...]:
    return (1.0, math.sqrt(m_pass))


def delta_floor(m_pass: float, delta_pass: float) -> float | None:
    """The smallest bad share a canary beyond a relative PASS tolerance can have. Its null "r ≥ m_pass and
    p_c − p_p ≥ δ_pass" needs p_c ≥ max(m_pass·p_p, p_p + δ_pass), which grows with p_p, so whatever the primary
    does p_c ≥ δ_pass (reached at p_p = 0): a binomial PASS test of the canary's own share against δ_pass is valid
    for the relative null. None when δ_pass is not a usable share (or m_pass ≤ 1)."""
    if not m_pass > 1.0 or not 0.0 < delta_pass < 1.0:
        return None
    return delta_pass


@lru_cache(maxsize=64)
def _delta_coefficients(floor: float) -> tuple[tuple[float, float], ...]:
    return ev.binomial_coefficients(floor, ev.DELTA_PASS_GRID)


@lru_cache(maxsize=64)
def _abs_coefficients(p_max: float) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    return ev.binomial_coefficients(p_max, ev.ABS_FAIL_GRID), ev.binomial_coefficients(p_max, ev.ABS_PASS_GRID)


@dataclass(slots=True)
class Need:
    """A PASS requirement not met yet: what it certifies and how much more it needs."""

    what: str
    requests: float | None
    seconds: float | None
    #: the primary breaches the same bound this interval (shared incident): the test is paused until the primary
    #: recovers, so no amount of canary traffic is a prediction
    shared: bool = False


@dataclass(slots=True)
class Outcome:
    """What one metric says this tick."""

    failed: bool = False
    fail_words: str = ""  # the sentence of the test that crossed
    needs: list[Need] = field(default_factory=list)
    line: LedgerLine | None = None
    served: float | None = None  # canary requests this interval (count-based kinds)
    flagger: bool | None = None  # Flagger's own check of this interval: True failed, None no data


@dataclass(frozen=True, slots=True)
class _Evidence:
    """A relative test's numbers this tick, for the metric's ledger line."""

    estimate: float | None
    ci: tuple[float, float]
    e_fail: float
    e_pass: float
    phi: float
    canary: dict[str, float]
    primary: dict[str, float]


def metric_state(metric: MetricConfig, obs_kind: str) -> MetricState:
    """The tests a metric gets at its first observation, with no evidence yet."""
    if obs_kind == "scalar" or metric.kind is MetricKind.SCALAR:
        return MetricState(sign=SignTest(0.0, 0.0, 0, 0))
    state = MetricState()
    if metric.relative:
        if metric.kind is MetricKind.HISTOGRAM:
            state.relative = [RelativeTest.fresh(exceedance=True, bound=b) for b in (metric.bounds or (None,))]
        else:
            state.relative = [RelativeTest.fresh()]
    if metric.p_max is not None:
        state.absolute = AbsoluteTest.fresh()
    if metric.kind is MetricKind.HISTOGRAM or obs_kind == "histogram":
        state.warmup = WARMUP_INTERVALS
    return state


def reset_pass(state: MetricState) -> None:
    """gate everyStep: PASS evidence restarts at each weight change."""
    for test in state.relative or ():
        test.passing = [0.0] * len(test.passing)
        test.floor = [0.0] * len(ev.DELTA_PASS_GRID)
        test.step_counts = [0.0, 0.0, 0.0, 0.0]
        test.last_pass = None
    if state.absolute is not None:
        state.absolute.passing = [0.0] * len(state.absolute.passing)
    if state.sign is not None:
        sign = state.sign
        state.sign = SignTest(sign.log_fail, 0.0, sign.used, sign.worse)


def gap(metric: MetricConfig, obs: Observation | None, baseline: bool) -> str | None:
    """Why this observation cannot be used (FREEZE), or None."""
    if obs is None:
        return say.no_observation(metric.name)
    if obs.error:
        return say.provider_error(metric.name, obs.error)
    if obs.kind == "scalar":
        return None
    if requests(obs.canary) is None:
        return say.scrape_gap(metric.name, "canary")
    if baseline and metric.relative and (obs.primary is None or requests(obs.primary) is None):
        return say.scrape_gap(metric.name, "primary")
    return None


def requests(counts: VersionCounts) -> float | None:
    """One version's requests over the interval: the histogram's count, or the request count."""
    if counts.buckets:
        return ev.histogram_total(counts.buckets)
    return counts.requests


def _merge_buckets(into: list[list[float]], buckets: Sequence[tuple[float, float]]) -> list[list[float]]:
    """Add `buckets` to the pooled primary buckets. The +Inf bucket is kept under the key -1 (bounds are never
    negative), so the state stays strict JSON."""
    merged = {le: count for le, count in into}
    for le, count in buckets:
        key = -1.0 if math.isinf(le) else le
        merged[key] = merged.get(key, 0.0) + count
    return [[le, merged[le]] for le in sorted(merged, key=lambda le: math.inf if le < 0 else le)]


def _flagger_value(metric: MetricConfig, counts: VersionCounts | None) -> float | None:
    """The value Flagger's built-in query gives for one version over the interval; None without data."""
    if counts is None:
        return None
    flagger = metric.flagger
    value: float | None = None
    if flagger.kind is FlaggerKind.SUCCESS_RATE and counts.requests is not None:
        if counts.requests > 0:
            value = 100.0 * (counts.requests - (counts.bad or 0.0)) / counts.requests
    elif flagger.kind is FlaggerKind.DURATION_MS and counts.buckets:
        value = ev.histogram_quantile(0.99, counts.buckets)
    else:
        value = counts.value
    if value is None or math.isnan(value):
        return None
    return value


def _flagger_check(metric: MetricConfig, obs: Observation) -> bool | None:
    """Flagger's own check of this interval's canary value: True when it fails, None when there is no value
    (intervals without data are not failures here, unlike Flagger) or when the primary's own value over the same
    interval fails the same bound (a shared incident: the outage is not the canary's)."""
    flagger = metric.flagger
    value = _flagger_value(metric, obs.canary)
    if value is None:
        return None
    if within(flagger.kind, value, flagger.threshold_range, flagger.threshold):
        return False
    primary = _flagger_value(metric, obs.primary)
    if primary is not None and not within(flagger.kind, primary, flagger.threshold_range, flagger.threshold):
        return None
    return True


class Evaluator:
    """One tick's thresholds and window, shared by the metrics' evaluations (kept on an object so the helpers
    share them cheaply)."""

    def __init__(self, config: JudgeConfig, tick: Tick) -> None:
        self.config = config
        self.tick = tick
        self.baseline = config.baseline is Baseline.PRIMARY
        self.alpha_i = config.alpha_i()
        self.log_fail = math.log(1.0 / self.alpha_i)
        self.fail_threshold = 1.0 / self.alpha_i
        # a relative test's PASS evidence is the mean of its two routes' e-values, against 1/β
        self.pass_threshold = 1.0 / config.beta
        self.ci_log = math.log(4.0 / config.alpha)
        self.abs_pass_threshold = 1.0 / config.beta
        self.window = tick.window_s if tick.window_s > 0 else 0.0

    def seconds(self, requests: float | None, served: float | None) -> float | None:
        """Canary requests still needed, as seconds at this interval's canary request rate."""
        if requests is None or math.isinf(requests) or not served or served <= 0 or self.window <= 0:
            return None
        return requests * self.window / served

    # --- relative count tests (ratio, exceedance) ---

    def relative(
        self,
        metric: MetricConfig,
        test: RelativeTest,
        n_c: float,
        b_c: float,
        n_p: float,
        b_p: float,
        label: str,
        out: Outcome,
    ) -> tuple[str, _Evidence]:
        """Update one relative test (ratio, or exceedance of a latency bound) and return its ledger sentence and
        numbers.

        FAIL: the conditional-binomial mixture over r in m_fail·{1,2,4,8} against r ≤ 1, counted only when the run's
        estimated difference p̂_c − p̂_p is at least δ_fail (the effect gate). PASS: the mean of two e-processes
        reaches 1/β: the likelihood ratio of r in {1, √m_pass} against r ≥ m_pass, and the canary's own bad share
        against δ_pass (`delta_floor`), both products of capped, tempered per-interval factors whose loss is bounded
        (`evidence.LOSS_CAP`), so evidence from
        minutes when the canary was good cannot certify minutes when it is bad (a confidence sequence on the pooled
        counts, the earlier second route, certified a changing canary's average). The ledger's CI of the ratio is
        the simple conservative one, [L(p_c)/U(p_p), U(p_c)/L(p_p)] from four one-sided beta-mixture confidence
        sequences at α/4 each, so it covers the ratio at every tick with probability ≥ 1 − α (when the rates are
        steady; it does not cancel shared drift as the tests do, which is why it only explains and never decides).
        An unbounded upper end is shown as 1e6."""
        total_n = n_c + n_p
        events = b_c + b_p
        phi = ev.interval_phi(events, test.overdispersion)
        if total_n > 0 and n_c > 0 and n_p > 0 and events > 0:
            rho = n_c / total_n
            ev.ratio_fail_update(test.fail, _fail_grid(metric.m_fail), b_c, events, rho, phi)
            ev.ratio_pass_update(test.passing, _pass_alternatives(metric.m_pass), metric.m_pass, b_c, events, rho, phi)
            ev.push_split(test.splits, b_c, events, rho)
        floor = delta_floor(metric.m_pass, metric.delta_pass)
        if n_c > 0 and floor is not None:
            # the canary-only PASS route: binomial mixture of the canary's bad share at floor·{0.5, 0.2} against
            # the floor, tempered by the φ of the floor's events (fixed before the interval's bad count is seen)
            if test.floor is None:
                test.floor = [0.0] * len(ev.DELTA_PASS_GRID)
            ev.binomial_update(
                test.floor,
                _delta_coefficients(floor),
                n_c,
                b_c,
                ev.interval_phi(n_c * floor, test.overdispersion),
            )
        for counts in (test.counts, test.step_counts):
            counts[0] += n_c
            counts[1] += b_c
            counts[2] += n_p
            counts[3] += b_p
        cn_c, cb_c, cn_p, cb_p = test.counts
        if total_n > 0 and n_c > 0 and n_p > 0 and events > 0:
            pooled = (cb_c / cn_c) / (cb_p / cn_p) if cb_p > 0 else 1e3
            test.overdispersion = ev.overdispersion(test.splits, pooled)
        e_fail = ev.mixture(test.fail)
        p_c = cb_c / cn_c if cn_c > 0 else 0.0
        p_p = cb_p / cn_p if cn_p > 0 else 0.0
        diff = p_c - p_p
        gate = cn_c > 0 and cn_p > 0 and diff >= metric.delta_fail
        failed = e_fail >= self.fail_threshold and gate
        estimate = p_c / p_p if p_p > 0 else None
        lo_c, hi_c = ev.beta_cs(cb_c, cn_c, self.ci_log, metric.prior_rate)
        lo_p, hi_p = ev.beta_cs(cb_p, cn_p, self.ci_log, metric.prior_rate)
        ci = (lo_c / hi_p if hi_p > 0 else 0.0, min(CI_CAP, hi_c / lo_p) if lo_p > 0 else CI_CAP)
        # PASS: the mean of the two routes' e-values, the likelihood ratio (r < m_pass) and the canary's own share
        # below the tolerance's floor; both are e-processes under the PASS null, so their mean is one too
        e_pass = ev.mixture(test.passing)
        if floor is not None and test.floor is not None:
            e_pass = (e_pass + ev.mixture(test.floor)) / 2.0
        passed = e_pass >= self.pass_threshold
        # no promotion on an interval that took promotion evidence away: each interval takes away at most
        # LOSS_CAP, so after good minutes one bad minute (a regression that starts late, seen through per-version
        # noise) can leave the evidence above the threshold; the next interval decides. Only ever holds longer, so
        # the test stays valid
        fell = passed and e_pass < (test.last_pass if test.last_pass is not None else 0.0)
        test.last_pass = e_pass
        if fell:
            passed = False
            out.needs.append(Need(say.after_worse_interval(label), None, self.window or None))
        elif not passed:
            out.needs.append(self.relative_need(metric, test, label, phi))
        words = say.relative_sentence(
            label, (cn_c, cb_c, cn_p, cb_p), estimate, e_fail, metric.m_fail, self.fail_threshold
        )
        if e_fail >= self.fail_threshold and not gate:
            words += say.below_effect_gate(diff, metric.delta_fail)
        if fell:
            words += say.pass_fell(e_pass, self.pass_threshold)
        if failed and not out.failed:
            out.failed = True
            out.fail_words = words
        return words, _Evidence(
            estimate=estimate,
            ci=ci,
            e_fail=e_fail,
            e_pass=e_pass,
            phi=phi,
            canary={"requests": cn_c, "bad": cb_c, "requestsTick": n_c, "badTick": b_c},
            primary={"requests": cn_p, "bad": cb_p, "requestsTick": n_p, "badTick": b_p},
        )

    def relative_need(self, metric: MetricConfig, test: RelativeTest, label: str, phi: float) -> Need:
        """How many more canary requests the faster PASS route needs at the current traffic: the evidence still
        missing over its expected gain per request, as in Wald's average sample number. It assumes the canary is
        as good as the primary (the only case in which certification can come): both versions at the pooled bad
        share so far, at this run's canary share of requests."""
        sn_c, sb_c, sn_p, sb_p = test.step_counts
        what = say.relative_tolerance(label, metric.m_pass, metric.delta_pass)
        best = math.inf
        if sn_c > 0 and sn_p > 0:
            pooled = (sb_c + sb_p) / (sn_c + sn_p)
            rho = sn_c / (sn_c + sn_p)
            if pooled > 0:
                # likelihood-ratio route at r = 1: each canary request brings pooled/ρ bad events (both versions)
                null = math.log(rho * metric.m_pass + 1.0 - rho)
                log_m = math.log(metric.m_pass)
                alternatives = _pass_alternatives(metric.m_pass)
                drift = max(rho * (math.log(r) - log_m) - (math.log(rho * r + 1.0 - rho) - null) for r in alternatives)
                drift *= pooled / rho / phi
                missing = math.log(2.0 * self.pass_threshold * len(alternatives)) - max(test.passing)
                if drift > 0:
                    best = max(missing, 0.0) / drift
            floor = delta_floor(metric.m_pass, metric.delta_pass)
            if floor is not None and test.floor is not None:
                # the canary-only route: each canary request at the pooled share adds its expected log ratio
                coefficients = _delta_coefficients(floor)
                drift = max(pooled * lb + (1.0 - pooled) * lg for lb, lg in coefficients) / phi
                missing = math.log(2.0 * self.pass_threshold * len(coefficients)) - max(test.floor)
                if drift > 0:
                    best = min(best, max(missing, 0.0) / drift)
        return Need(what, best, None)

    # --- absolute test on the canary's own counts ---

    def absolute(
        self,
        metric: MetricConfig,
        test: AbsoluteTest,
        n: float,
        bad_fail: float,
        bad_pass: float,
        primary: tuple[float, float],
        primary_breach: bool,
        phi: float,
        what: str,
        out: Outcome,
    ) -> str:
        """Update the absolute test (FAIL: P(bad) > p_max; PASS: P(bad) < p_max) with the canary's counts;
        `primary` (requests, bad at the same bound) only feeds the prediction. Returns its ledger phrase."""
        p_max = metric.p_max if metric.p_max is not None else 0.0
        fail_coef, pass_coef = _abs_coefficients(p_max)
        counts = test.counts
        if n > 0 and not primary_breach:
            # tempered by the relative tests' φ or by the canary's own rate dispersion between intervals, whichever
            # is larger: per-version noise makes a test of one version's share overconfident, and the split
            # between the versions, which gives the relative tests their φ, shows only part of it
            if test.own is None:
                test.own = []
            phi = max(phi, ev.rate_phi(n, test.own))
            ev.push_counts(test.own, n, bad_pass)
            # FAIL and PASS: each interval adds at most STEP_CAP nats (FAIL: unless extreme) and takes away at most
            # LOSS_CAP; PASS mixes the grid of alternatives below p_max
            ev.binomial_update(test.fail, fail_coef, n, bad_fail, phi, min(1.0, ev.EXTREME_RATIO * p_max))
            ev.binomial_update(test.passing, pass_coef, n, bad_pass, phi)
            counts[0] += n
            counts[1] += bad_fail
            counts[2] += primary[0]
            counts[3] += primary[1]
        e_fail = ev.mixture(test.fail) if fail_coef else 0.0
        e_pass = ev.mixture(test.passing) if pass_coef else 0.0
        words = say.absolute_sentence(what, counts[1], counts[0], e_fail)
        if e_fail >= self.fail_threshold and not out.failed:
            out.failed = True
            out.fail_words = say.with_threshold(words, self.fail_threshold)
        if primary_breach:
            words += say.PRIMARY_BREACH
        if e_pass < self.abs_pass_threshold and primary_breach:
            out.needs.append(Need(what, None, None, shared=True))
            words += say.absolute_pass_needed(e_pass, self.abs_pass_threshold)
        elif e_pass < self.abs_pass_threshold:
            need = math.inf
            if pass_coef:
                # as for the relative tests: at the pooled bad share of both versions so far
                p_hat = (counts[1] + counts[3]) / (counts[0] + counts[2]) if counts[0] + counts[2] > 0 else 0.0
                drift = max(p_hat * lb + (1.0 - p_hat) * lg for lb, lg in pass_coef) / phi
                missing = math.log(self.abs_pass_threshold * len(pass_coef)) - max(test.passing)
                if drift > 0:
                    need = max(missing, 0.0) / drift
            out.needs.append(Need(what, need, None))
            words += say.absolute_pass_needed(e_pass, self.abs_pass_threshold)
        else:
            words += say.absolute_certified(e_pass)
        test.last = (e_fail, e_pass)
        return words

    # --- one metric ---

    def metric(self, metric: MetricConfig, state: MetricState, obs: Observation) -> Outcome:
        """Update every test of one metric with the interval's observation; its outcome and ledger line."""
        out = Outcome()
        out.flagger = _flagger_check(metric, obs)
        if state.sign is not None:
            return self.scalar(metric, state, obs, out)
        canary, primary = obs.canary, obs.primary
        phrases: list[str] = []
        info: _Evidence | None = None
        e_fail_best = (1.0, self.fail_threshold)
        test_name = "absolute"
        # the absolute tests are tempered like the interval's relative tests (the largest φ among them)
        phi = 1.0
        if canary.buckets or metric.kind is MetricKind.HISTOGRAM:
            n_c = ev.histogram_total(canary.buckets)
            n_p = ev.histogram_total(primary.buckets) if primary is not None else 0.0
            out.served = n_c
            for test in state.relative or ():
                if test.bound is None and primary is not None and primary.buckets:
                    # the bound comes from the primary's data only, so it cannot depend on the canary's
                    test.pooled = _merge_buckets(test.pooled or [], primary.buckets)
                    pooled = [(math.inf if le < 0 else le, count) for le, count in test.pooled]
                    if ev.histogram_total(pooled) >= AUTO_BOUND_MIN_REQUESTS:
                        chosen = ev.quantile_bound(pooled, 0.99)
                        if chosen is not None:
                            test.choose_bound(chosen)
            warm = (state.warmup or 0) > 0 and n_c > 0
            if warm:
                state.warmup = (state.warmup or 0) - 1
                phrases.append(say.WARM_UP)
                out.needs.append(Need(say.WARM_UP_NEED, None, self.window or None))
                if any(test.bound is None for test in state.relative or ()):
                    phrases.append(say.AUTO_BOUND_WAIT)
            for test in state.relative or () if not warm else ():
                bound = test.bound
                if bound is None:
                    phrases.append(say.AUTO_BOUND_WAIT)
                    continue
                b_c = ev.slower_than(canary.buckets, bound) if canary.buckets else 0.0
                b_p = ev.slower_than(primary.buckets, bound) if primary is not None and primary.buckets else 0.0
                words, got = self.relative(metric, test, n_c, b_c, n_p, b_p, say.exceedance_label(bound), out)
                phrases.append(words)
                phi = max(phi, got.phi)
                if info is None or got.e_fail > info.e_fail:
                    info, test_name = got, say.exceedance_test(bound)
            if state.absolute is not None and metric.latency_max is not None and not warm:
                # "p99 ≤ max" as P(latency > max) ≤ 1 %: PASS counts requests above the largest bucket bound ≤ max
                # (it can only overcount), FAIL those above the smallest bound ≥ max (it can only undercount), so
                # neither side claims more than the buckets show; both are the same bound when max is one
                up = ev.bound_at_or_above(canary.buckets, metric.latency_max) if canary.buckets else None
                down = ev.bound_at_or_below(canary.buckets, metric.latency_max) if canary.buckets else None
                bad_fail = ev.slower_than(canary.buckets, up) if up is not None else 0.0
                bad_pass = ev.slower_than(canary.buckets, down) if down is not None else n_c
                breach = False
                slow_p = 0.0
                if primary is not None and primary.buckets and n_p > 0 and down is not None:
                    slow_p = ev.slower_than(primary.buckets, down)
                    breach = slow_p / n_p > (metric.p_max or 0.0)
                phrases.append(
                    self.absolute(
                        metric,
                        state.absolute,
                        n_c,
                        bad_fail,
                        bad_pass,
                        (n_p, slow_p),
                        breach,
                        phi,
                        say.latency_bound(metric.latency_max),
                        out,
                    )
                )
        else:
            n_c = canary.requests or 0.0
            b_c = min(canary.bad or 0.0, n_c)
            n_p = (primary.requests or 0.0) if primary is not None else 0.0
            b_p = min(primary.bad or 0.0, n_p) if primary is not None else 0.0
            out.served = n_c
            success_rate = metric.name == REQUEST_SUCCESS_RATE
            label = say.errors_label(metric.name, success_rate)
            for test in state.relative or ():
                words, info = self.relative(metric, test, n_c, b_c, n_p, b_p, label, out)
                phrases.append(words)
                phi = max(phi, info.phi)
                test_name = "ratio"
            if state.absolute is not None and metric.p_max is not None:
                breach = n_p > 0 and b_p / n_p > metric.p_max
                what = say.bad_share_bound(label, metric.p_max, success_rate)
                phrases.append(self.absolute(metric, state.absolute, n_c, b_c, b_c, (n_p, b_p), breach, phi, what, out))
        if info is not None:
            e_fail_best = (info.e_fail, self.fail_threshold)
        elif state.absolute is not None and state.absolute.last is not None:
            e_fail_best = (state.absolute.last[0], self.fail_threshold)
        e_pass, pass_thr = self._pass_view(state, info)
        verdict = self._metric_verdict(out)
        if not phrases:
            phrases.append(say.no_test(metric.name))
        out.line = LedgerLine(
            at=self.tick.at,
            metric=metric.name,
            verdict=verdict,
            reason=say.metric_reason(phrases, say.verdict_word(verdict, metric.advisory)),
            test=test_name,
            canary=info.canary if info else {"requests": n_c, "requestsTick": n_c},
            primary=info.primary if info else {"requests": n_p, "requestsTick": n_p},
            estimate=info.estimate if info else None,
            ci=info.ci if info else None,
            e_fail=e_fail_best[0],
            fail_threshold=e_fail_best[1],
            e_pass=e_pass,
            pass_threshold=pass_thr,
            phi=phi,
            queries=obs.queries,
        )
        return out

    def _pass_view(self, state: MetricState, info: _Evidence | None) -> tuple[float, float]:
        """The weakest PASS requirement's evidence and threshold, for the ledger."""
        views: list[tuple[float, float]] = []
        if info is not None:
            views.append((info.e_pass, self.pass_threshold))
        if state.absolute is not None and state.absolute.last is not None:
            views.append((state.absolute.last[1], self.abs_pass_threshold))
        if not views:
            return 1.0, 0.0
        return min(views, key=lambda view: view[0] / view[1])

    def _metric_verdict(self, out: Outcome) -> Verdict:
        if out.failed:
            return Verdict.ROLLBACK
        if not out.needs:
            return Verdict.PROMOTE if self.tick.at_gate else Verdict.ADVANCE
        if not self.tick.at_gate and self.config.gate is not Gate.EVERY_STEP:
            return Verdict.ADVANCE
        return Verdict.HOLD

    # --- scalar ---

    def scalar(self, metric: MetricConfig, state: MetricState, obs: Observation, out: Outcome) -> Outcome:
        """Update a scalar's sign tests with the interval's canary/primary values."""
        assert state.sign is not None
        canary = obs.canary.value
        primary = obs.primary.value if obs.primary is not None else None
        step = ev.sign_step(canary, primary, metric.direction, metric.scalar_fail_ratio, metric.scalar_pass_ratio)
        sign = state.sign
        if step is not None:
            sign = SignTest(
                sign.log_fail + step[0], sign.log_pass + step[1], sign.used + 1, sign.worse + int(step[0] > 0)
            )
            state.sign = sign
        e_fail, e_pass = ev.odds(sign.log_fail), ev.odds(sign.log_pass)
        pass_threshold = 1.0 / self.config.beta
        failed = sign.log_fail >= self.log_fail
        if sign.log_pass < math.log(pass_threshold):
            intervals = (math.log(pass_threshold) - sign.log_pass) / ev.SIGN_UP
            out.needs.append(
                Need(
                    say.scalar_tolerance(metric.name, metric.scalar_pass_ratio),
                    None,
                    math.ceil(intervals) * self.window if self.window > 0 else None,
                )
            )
        ratio = canary / primary if step is not None and canary is not None and primary else None
        out.failed = failed
        verdict = self._metric_verdict(out)
        values = (canary, primary) if step is not None and canary is not None and primary is not None else None
        core = say.scalar_sentence(
            metric.name,
            values,
            sign.worse,
            sign.used,
            metric.direction,
            e_fail,
            e_pass,
            (metric.scalar_fail_ratio, metric.scalar_pass_ratio),
            (self.fail_threshold, pass_threshold),
        )
        if failed:
            out.fail_words = core
        out.line = LedgerLine(
            at=self.tick.at,
            metric=metric.name,
            verdict=verdict,
            reason=say.metric_reason([core], say.verdict_word(verdict, metric.advisory)),
            test="sign",
            canary={"value": canary} if canary is not None and math.isfinite(canary) else {},
            primary={"value": primary} if primary is not None and math.isfinite(primary) else {},
            estimate=ratio,
            e_fail=e_fail,
            fail_threshold=self.fail_threshold,
            e_pass=e_pass,
            pass_threshold=pass_threshold,
            queries=obs.queries,
        )
        return out
