"""One tick of the statistical judge (docs/judge.md, Verdicts): counts of one interval in, a verdict out.

`judge_tick` is pure and cheap. It takes the settings (`judge_config`), the state the previous tick returned (None
at the start of a run), where the release stands, and the observations of the interval, and it returns the verdict,
one ledger line per metric, and the new state. The state is a compact JSON-safe dict the engine keeps in
`status.judge` between ticks; the input state is never modified.

The order of the rule:

1. a provider error, or no data for a decisive metric (a scrape gap)  -> FREEZE (nothing counted)
2. the canary clearly below its routed share of requests (sample-ratio mismatch)  -> FREEZE (nothing counted)
3. update every test; a FAIL e-process at 1/α_i with its effect gate  -> ROLLBACK
4. the canary served no requests this interval  -> HOLD
5. below the gate  -> ADVANCE (with `gate: everyStep`: only once the step has PASS evidence)
6. at the gate: PASS evidence for every decisive metric (or `gate: none`)  -> PROMOTE
7. held at the gate for maxHold  -> the onInconclusive policy (flagger, rollback, promote, pause)
8. otherwise  -> HOLD, with the predicted time to a decision at the current traffic
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from serinus.api.analysis import REQUEST_SUCCESS_RATE
from serinus.api.judge import Baseline, Gate, MetricKind, OnInconclusive
from serinus.engine.judge import evidence as ev
from serinus.engine.judge.config import JudgeConfig, MetricConfig
from serinus.engine.judge.types import LedgerLine, Observation, Tick, TickResult, Verdict, VersionCounts
from serinus.engine.thresholds import MetricKind as FlaggerKind
from serinus.engine.thresholds import within

STATE_VERSION = 1
#: primary requests needed before the automatic latency bound is chosen
AUTO_BOUND_MIN_REQUESTS = 200.0
#: sample-ratio mismatch: the canary's share below this fraction of its weight, with this binomial tail
SRM_SHARE = 0.5
SRM_P = 1e-4
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


def _copy_entry(entry: dict[str, Any]) -> dict[str, Any]:
    out = {key: (list(value) if isinstance(value, list) else value) for key, value in entry.items()}
    if "pb" in out:
        out["pb"] = [list(pair) for pair in out["pb"]]
    return out


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough that updating it leaves `state` as it was (the layout is known, so no generic deepcopy)."""
    out = dict(state)
    out["fl"] = list(state["fl"])
    metrics: dict[str, Any] = {}
    for name, mstate in state["m"].items():
        copied: dict[str, Any] = {}
        for key, value in mstate.items():
            if key == "r":
                copied[key] = [_copy_entry(entry) for entry in value]
            elif key == "a":
                copied[key] = _copy_entry(value)
            else:
                copied[key] = list(value) if isinstance(value, list) else value
        metrics[name] = copied
    out["m"] = metrics
    return out


def _num(x: float) -> str:
    """A count as people read it: whole numbers without decimals (increase() gives fractions)."""
    if abs(x - round(x)) < 1e-6:
        return str(round(x))
    return f"{x:.1f}"


def _odds(x: float) -> str:
    """Odds as people read them: 257, 13.1, 1.6, 0.068, 3.2e+08."""
    if x >= 1e6:
        return f"{x:.2g}"
    if x >= 100 or (x >= 10 and abs(x - round(x)) < 0.05):
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2g}"


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Need:
    """A PASS requirement not met yet: what it certifies and how much more it needs."""

    __slots__ = ("requests", "seconds", "shared", "what")

    def __init__(self, what: str, requests: float | None, seconds: float | None, shared: bool = False) -> None:
        self.what = what
        self.requests = requests
        self.seconds = seconds
        # the primary breaches the same bound this interval (shared incident): the test is paused until the primary
        # recovers, so no amount of canary traffic is a prediction
        self.shared = shared


class _Outcome:
    """What one metric says this tick."""

    __slots__ = ("fail_words", "failed", "flagger", "line", "needs", "requests", "served")

    def __init__(self) -> None:
        self.failed = False
        self.fail_words = ""  # the sentence of the test that crossed
        self.needs: list[_Need] = []
        self.line: LedgerLine | None = None
        self.served: float | None = None  # canary requests this interval (count-based kinds)
        self.requests: float | None = None
        self.flagger: bool | None = None  # Flagger's own check of this interval: True failed, None no data


def _new_state() -> dict[str, Any]:
    return {"v": STATE_VERSION, "w": None, "hs": None, "fz": None, "fl": [0, 0, 0, 0], "m": {}}


def _relative_entry(bound: float | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "c": [0.0, 0.0, 0.0, 0.0],
        "s": [0.0, 0.0, 0.0, 0.0],
        "f": [0.0] * 4,
        "p": [0.0, 0.0],
        "d": [0.0] * len(ev.DELTA_PASS_GRID),
        "x": [],
        "oc": ev.OVERDISPERSION_PRIOR,
    }
    if bound is not None:
        entry["le"] = bound
    return entry


def _absolute_entry() -> dict[str, Any]:
    return {"c": [0.0, 0.0, 0.0, 0.0], "f": [0.0] * len(ev.ABS_FAIL_GRID), "p": [0.0] * len(ev.ABS_PASS_GRID)}


def _metric_state(metric: MetricConfig, obs_kind: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if obs_kind == "scalar" or metric.kind is MetricKind.SCALAR:
        state["z"] = [0.0, 0.0, 0, 0]  # log e_fail, log e_pass, intervals used, intervals worse than fail ratio
        return state
    if metric.relative:
        if metric.kind is MetricKind.HISTOGRAM:
            state["r"] = [
                _relative_entry(b) if b is not None else {**_relative_entry(), "le": None, "pb": []}
                for b in (metric.bounds or (None,))
            ]
        else:
            state["r"] = [_relative_entry()]
    if metric.p_max is not None:
        state["a"] = _absolute_entry()
    if metric.kind is MetricKind.HISTOGRAM or obs_kind == "histogram":
        state["wu"] = WARMUP_INTERVALS
    return state


def _reset_pass(mstate: dict[str, Any]) -> None:
    """gate everyStep: PASS evidence restarts at each weight change."""
    for entry in mstate.get("r", ()):
        entry["p"] = [0.0] * len(entry["p"])
        entry["d"] = [0.0] * len(ev.DELTA_PASS_GRID)
        entry["s"] = [0.0, 0.0, 0.0, 0.0]
        entry.pop("ep", None)
    if "a" in mstate:
        entry = mstate["a"]
        entry["p"] = [0.0] * len(entry["p"])
    if "z" in mstate:
        mstate["z"][1] = 0.0


def _gap(metric: MetricConfig, obs: Observation | None, baseline: bool) -> str | None:
    """Why this observation cannot be used (FREEZE), or None."""
    if obs is None:
        return f"{metric.name}: no observation"
    if obs.error:
        return f"{metric.name}: {obs.error}"
    if obs.kind == "scalar":
        return None
    if _requests(obs.canary) is None:
        return f"{metric.name}: no canary data (scrape gap)"
    if baseline and metric.relative and (obs.primary is None or _requests(obs.primary) is None):
        return f"{metric.name}: no primary data (scrape gap)"
    return None


def _requests(counts: VersionCounts) -> float | None:
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


class _Judge:
    """One tick's working set (kept on an object so the helpers share it cheaply)."""

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
        entry: dict[str, Any],
        n_c: float,
        b_c: float,
        n_p: float,
        b_p: float,
        label: str,
        out: _Outcome,
    ) -> tuple[str, dict[str, Any]]:
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
        phi = ev.interval_phi(events, entry["oc"])
        if total_n > 0 and n_c > 0 and n_p > 0 and events > 0:
            rho = n_c / total_n
            ev.ratio_fail_update(entry["f"], _fail_grid(metric.m_fail), b_c, events, rho, phi)
            ev.ratio_pass_update(entry["p"], _pass_alternatives(metric.m_pass), metric.m_pass, b_c, events, rho, phi)
            ev.push_split(entry["x"], b_c, events, rho)
        floor = delta_floor(metric.m_pass, metric.delta_pass)
        if n_c > 0 and floor is not None:
            # the canary-only PASS route: binomial mixture of the canary's bad share at floor·{0.5, 0.2} against
            # the floor, tempered by the φ of the floor's events (fixed before the interval's bad count is seen)
            ev.binomial_update(
                entry.setdefault("d", [0.0] * len(ev.DELTA_PASS_GRID)),
                _delta_coefficients(floor),
                n_c,
                b_c,
                ev.interval_phi(n_c * floor, entry["oc"]),
            )
        for counts in (entry["c"], entry["s"]):
            counts[0] += n_c
            counts[1] += b_c
            counts[2] += n_p
            counts[3] += b_p
        cn_c, cb_c, cn_p, cb_p = entry["c"]
        if total_n > 0 and n_c > 0 and n_p > 0 and events > 0:
            pooled = (cb_c / cn_c) / (cb_p / cn_p) if cb_p > 0 else 1e3
            entry["oc"] = ev.overdispersion(entry["x"], pooled)
        e_fail = ev.mixture(entry["f"])
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
        e_pass = ev.mixture(entry["p"])
        if floor is not None and "d" in entry:
            e_pass = (e_pass + ev.mixture(entry["d"])) / 2.0
        passed = e_pass >= self.pass_threshold
        # no promotion on an interval that took promotion evidence away: each interval takes away at most
        # LOSS_CAP, so after good minutes one bad minute (a regression that starts late, seen through per-version
        # noise) can leave the evidence above the threshold; the next interval decides. Only ever holds longer, so
        # the test stays valid
        fell = passed and e_pass < entry.get("ep", 0.0)
        entry["ep"] = e_pass
        if fell:
            passed = False
            out.needs.append(_Need(f"{label} after an interval that leaned worse", None, self.window or None))
        elif not passed:
            out.needs.append(self.relative_need(metric, entry, label, phi))
        words = (
            f"{label}: canary {_num(cb_c)}/{_num(cn_c)} vs primary {_num(cb_p)}/{_num(cn_p)}; "
            f"ratio {f'{estimate:.2g}' if estimate is not None else '-'}; "
            f"evidence {_odds(e_fail)}:1 that canary ≥ {metric.m_fail:g}× primary; "
            f"threshold {_odds(self.fail_threshold)}:1"
        )
        if e_fail >= self.fail_threshold and not gate:
            words += f" but the difference {_pct(diff)} is below {_pct(metric.delta_fail)}"
        if fell:
            words += (
                f"; promotion evidence fell this interval ({_odds(e_pass)}:1, needs "
                f"{_odds(self.pass_threshold)}:1): one more interval before promoting"
            )
        if failed and not out.failed:
            out.failed = True
            out.fail_words = words
        info = {
            "estimate": estimate,
            "ci": ci,
            "e_fail": e_fail,
            "e_pass": e_pass,
            "passed": passed,
            "failed": failed,
            "phi": phi,
            "canary": {"requests": cn_c, "bad": cb_c, "requestsTick": n_c, "badTick": b_c},
            "primary": {"requests": cn_p, "bad": cb_p, "requestsTick": n_p, "badTick": b_p},
        }
        return words, info

    def relative_need(self, metric: MetricConfig, entry: dict[str, Any], label: str, phi: float) -> _Need:
        """How many more canary requests the faster PASS route needs at the current traffic: the evidence still
        missing over its expected gain per request, as in Wald's average sample number. It assumes the canary is
        as good as the primary (the only case in which certification can come): both versions at the pooled bad
        share so far, at this run's canary share of requests."""
        sn_c, sb_c, sn_p, sb_p = entry["s"]
        what = f"{label} below {metric.m_pass:g}× the primary's (or +{_pct(metric.delta_pass)})"
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
                missing = math.log(2.0 * self.pass_threshold * len(alternatives)) - max(entry["p"])
                if drift > 0:
                    best = max(missing, 0.0) / drift
            floor = delta_floor(metric.m_pass, metric.delta_pass)
            if floor is not None and "d" in entry:
                # the canary-only route: each canary request at the pooled share adds its expected log ratio
                coefficients = _delta_coefficients(floor)
                drift = max(pooled * lb + (1.0 - pooled) * lg for lb, lg in coefficients) / phi
                missing = math.log(2.0 * self.pass_threshold * len(coefficients)) - max(entry["d"])
                if drift > 0:
                    best = min(best, max(missing, 0.0) / drift)
        return _Need(what, best, None)

    # --- absolute test on the canary's own counts ---

    def absolute(
        self,
        metric: MetricConfig,
        entry: dict[str, Any],
        n: float,
        bad_fail: float,
        bad_pass: float,
        primary: tuple[float, float],
        primary_breach: bool,
        phi: float,
        what: str,
        out: _Outcome,
    ) -> str:
        """Update the absolute test (FAIL: P(bad) > p_max; PASS: P(bad) < p_max) with the canary's counts;
        `primary` (requests, bad at the same bound) only feeds the prediction. Returns its ledger phrase."""
        p_max = metric.p_max if metric.p_max is not None else 0.0
        fail_coef, pass_coef = _abs_coefficients(p_max)
        counts = entry["c"]
        if n > 0 and not primary_breach:
            # tempered by the relative tests' φ or by the canary's own rate dispersion between intervals, whichever
            # is larger: per-version noise makes a test of one version's share overconfident, and the split
            # between the versions, which gives the relative tests their φ, shows only part of it
            own = entry.setdefault("xa", [])
            phi = max(phi, ev.rate_phi(n, own))
            ev.push_counts(own, n, bad_pass)
            # FAIL and PASS: each interval adds at most STEP_CAP nats (FAIL: unless extreme) and takes away at most
            # LOSS_CAP; PASS mixes the grid of alternatives below p_max
            ev.binomial_update(entry["f"], fail_coef, n, bad_fail, phi, min(1.0, ev.EXTREME_RATIO * p_max))
            ev.binomial_update(entry["p"], pass_coef, n, bad_pass, phi)
            counts[0] += n
            counts[1] += bad_fail
            counts[2] += primary[0]
            counts[3] += primary[1]
        e_fail = ev.mixture(entry["f"]) if fail_coef else 0.0
        e_pass = ev.mixture(entry["p"]) if pass_coef else 0.0
        words = f"{what}: canary {_num(counts[1])}/{_num(counts[0])} bad, evidence {_odds(e_fail)}:1 against"
        if e_fail >= self.fail_threshold and not out.failed:
            out.failed = True
            out.fail_words = f"{words} (threshold {_odds(self.fail_threshold)}:1)"
        if primary_breach:
            words += " (primary breaches the bound too: interval not counted)"
        if e_pass < self.abs_pass_threshold and primary_breach:
            out.needs.append(_Need(what, None, None, shared=True))
            words += f", {_odds(e_pass)}:1 for (needs {_odds(self.abs_pass_threshold)}:1)"
        elif e_pass < self.abs_pass_threshold:
            need = math.inf
            if pass_coef:
                # as for the relative tests: at the pooled bad share of both versions so far
                p_hat = (counts[1] + counts[3]) / (counts[0] + counts[2]) if counts[0] + counts[2] > 0 else 0.0
                drift = max(p_hat * lb + (1.0 - p_hat) * lg for lb, lg in pass_coef) / phi
                missing = math.log(self.abs_pass_threshold * len(pass_coef)) - max(entry["p"])
                if drift > 0:
                    need = max(missing, 0.0) / drift
            out.needs.append(_Need(what, need, None))
            words += f", {_odds(e_pass)}:1 for (needs {_odds(self.abs_pass_threshold)}:1)"
        else:
            words += f", certified at {_odds(e_pass)}:1"
        entry["e"] = [e_fail, e_pass]
        return words

    # --- one metric ---

    def metric(self, metric: MetricConfig, mstate: dict[str, Any], obs: Observation) -> _Outcome:
        out = _Outcome()
        out.flagger = _flagger_check(metric, obs)
        if "z" in mstate:
            return self.scalar(metric, mstate["z"], obs, out)
        canary, primary = obs.canary, obs.primary
        phrases: list[str] = []
        info: dict[str, Any] | None = None
        e_fail_best = (1.0, self.fail_threshold)
        test = "absolute"
        # the absolute tests are tempered like the interval's relative tests (the largest φ among them)
        phi = 1.0
        if canary.buckets or metric.kind is MetricKind.HISTOGRAM:
            n_c = ev.histogram_total(canary.buckets)
            n_p = ev.histogram_total(primary.buckets) if primary is not None else 0.0
            out.served = n_c
            for entry in mstate.get("r", ()):
                if entry.get("le") is None and primary is not None and primary.buckets:
                    # the bound comes from the primary's data only, so it cannot depend on the canary's
                    entry["pb"] = _merge_buckets(entry["pb"], primary.buckets)
                    pooled = [(math.inf if le < 0 else le, count) for le, count in entry["pb"]]
                    if ev.histogram_total(pooled) >= AUTO_BOUND_MIN_REQUESTS:
                        chosen = ev.quantile_bound(pooled, 0.99)
                        if chosen is not None:
                            entry["le"] = chosen
                            del entry["pb"]
            warm = mstate.get("wu", 0) > 0 and n_c > 0
            if warm:
                mstate["wu"] -= 1
                phrases.append("warm-up: the canary's first interval with traffic is left out of the latency tests")
                out.needs.append(_Need("latency after the warm-up interval", None, self.window or None))
                if any(entry.get("le") is None for entry in mstate.get("r", ())):
                    phrases.append("latency bound: waiting for 200 primary requests to pick the primary's p99 bucket")
            for entry in mstate.get("r", ()) if not warm else ():
                bound = entry.get("le")
                if bound is None:
                    phrases.append("latency bound: waiting for 200 primary requests to pick the primary's p99 bucket")
                    continue
                b_c = ev.slower_than(canary.buckets, bound) if canary.buckets else 0.0
                b_p = ev.slower_than(primary.buckets, bound) if primary is not None and primary.buckets else 0.0
                words, got = self.relative(metric, entry, n_c, b_c, n_p, b_p, f"slower than {bound:g} ms", out)
                phrases.append(words)
                phi = max(phi, got["phi"])
                if info is None or got["e_fail"] > info["e_fail"]:
                    info, test = got, f"exceedance>{bound:g}ms"
            if "a" in mstate and metric.latency_max is not None and not warm:
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
                        mstate["a"],
                        n_c,
                        bad_fail,
                        bad_pass,
                        (n_p, slow_p),
                        breach,
                        phi,
                        f"p99 ≤ {metric.latency_max:g} ms",
                        out,
                    )
                )
        else:
            n_c = canary.requests or 0.0
            b_c = min(canary.bad or 0.0, n_c)
            n_p = (primary.requests or 0.0) if primary is not None else 0.0
            b_p = min(primary.bad or 0.0, n_p) if primary is not None else 0.0
            out.served = n_c
            label = "errors" if metric.name == REQUEST_SUCCESS_RATE else metric.name
            for entry in mstate.get("r", ()):
                words, info = self.relative(metric, entry, n_c, b_c, n_p, b_p, label, out)
                phrases.append(words)
                phi = max(phi, info["phi"])
                test = "ratio"
            if "a" in mstate and metric.p_max is not None:
                breach = n_p > 0 and b_p / n_p > metric.p_max
                bound = (
                    f"success rate ≥ {100 * (1 - metric.p_max):.4g}%"
                    if metric.name == REQUEST_SUCCESS_RATE
                    else f"{label}: bad share ≤ {100 * metric.p_max:.4g}%"
                )
                phrases.append(self.absolute(metric, mstate["a"], n_c, b_c, b_c, (n_p, b_p), breach, phi, bound, out))
        if info is not None:
            e_fail_best = (info["e_fail"], self.fail_threshold)
        elif "a" in mstate and "e" in mstate["a"]:
            e_fail_best = (mstate["a"]["e"][0], self.fail_threshold)
        e_pass, pass_thr = self._pass_view(mstate, info)
        verdict = self._metric_verdict(out)
        if not phrases:
            phrases.append(f"{metric.name}: no test applies (no baseline and no absolute bound): not judged")
        reason = "; ".join(phrases) + f" → {self._word(verdict, metric)}"
        out.line = LedgerLine(
            at=self.tick.at,
            metric=metric.name,
            verdict=verdict,
            reason=reason,
            test=test,
            canary=info["canary"] if info else {"requests": n_c, "requestsTick": n_c},
            primary=info["primary"] if info else {"requests": n_p, "requestsTick": n_p},
            estimate=info["estimate"] if info else None,
            ci=info["ci"] if info else None,
            e_fail=e_fail_best[0],
            fail_threshold=e_fail_best[1],
            e_pass=e_pass,
            pass_threshold=pass_thr,
            phi=phi,
            queries=obs.queries,
        )
        return out

    def _pass_view(self, mstate: dict[str, Any], info: dict[str, Any] | None) -> tuple[float, float]:
        """The weakest PASS requirement's evidence and threshold, for the ledger."""
        views: list[tuple[float, float]] = []
        if info is not None:
            views.append((info["e_pass"], self.pass_threshold))
        if "a" in mstate and "e" in mstate["a"]:
            views.append((mstate["a"]["e"][1], self.abs_pass_threshold))
        if not views:
            return 1.0, 0.0
        return min(views, key=lambda view: view[0] / view[1])

    def _metric_verdict(self, out: _Outcome) -> Verdict:
        if out.failed:
            return Verdict.ROLLBACK
        if not out.needs:
            return Verdict.PROMOTE if self.tick.at_gate else Verdict.ADVANCE
        if not self.tick.at_gate and self.config.gate is not Gate.EVERY_STEP:
            return Verdict.ADVANCE
        return Verdict.HOLD

    def _word(self, verdict: Verdict, metric: MetricConfig) -> str:
        word = {
            Verdict.ROLLBACK: "rollback",
            Verdict.PROMOTE: "certified",
            Verdict.ADVANCE: "no rollback evidence",
            Verdict.HOLD: "hold",
        }.get(verdict, str(verdict).lower())
        return f"{word} (advisory)" if metric.advisory else word

    # --- scalar ---

    def scalar(self, metric: MetricConfig, z: list[Any], obs: Observation, out: _Outcome) -> _Outcome:
        canary = obs.canary.value
        primary = obs.primary.value if obs.primary is not None else None
        step = ev.sign_step(canary, primary, metric.direction, metric.scalar_fail_ratio, metric.scalar_pass_ratio)
        if step is not None:
            z[0] += step[0]
            z[1] += step[1]
            z[2] += 1
            if step[0] > 0:
                z[3] += 1
        e_fail, e_pass = ev.odds(z[0]), ev.odds(z[1])
        pass_threshold = 1.0 / self.config.beta
        failed = z[0] >= self.log_fail
        worse = "higher" if metric.direction > 0 else "lower"
        if z[1] < math.log(pass_threshold):
            intervals = (math.log(pass_threshold) - z[1]) / ev.SIGN_UP
            out.needs.append(
                _Need(
                    f"{metric.name} within {metric.scalar_pass_ratio:g}× the primary's",
                    None,
                    math.ceil(intervals) * self.window if self.window > 0 else None,
                )
            )
        ratio = canary / primary if step is not None and canary is not None and primary else None
        out.failed = failed
        verdict = self._metric_verdict(out)
        values = (
            f"canary {canary:.4g} vs primary {primary:.4g}"
            if step is not None and canary is not None and primary is not None
            else "no usable value this interval"
        )
        core = (
            f"{metric.name}: {values}; {_num(z[3])} of {_num(z[2])} intervals ≥ {metric.scalar_fail_ratio:g}× "
            f"{worse}; evidence {_odds(e_fail)}:1 that canary is worse (threshold {_odds(self.fail_threshold)}"
            f":1), {_odds(e_pass)}:1 that it is within {metric.scalar_pass_ratio:g}× (needs "
            f"{_odds(pass_threshold)}:1)"
        )
        reason = f"{core} → {self._word(verdict, metric)}"
        if failed:
            out.fail_words = core
        out.line = LedgerLine(
            at=self.tick.at,
            metric=metric.name,
            verdict=verdict,
            reason=reason,
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


def _frozen(
    config: JudgeConfig, state: dict[str, Any], tick: Tick, problems: list[str], observations: dict[str, Observation]
) -> TickResult:
    state["fz"] = state["fz"] if state.get("fz") is not None else tick.at
    reason = "; ".join(problems)
    lines = tuple(
        LedgerLine(
            at=tick.at,
            metric=m.name,
            verdict=Verdict.FREEZE,
            reason=reason,
            queries=observations[m.name].queries if m.name in observations else (),
        )
        for m in config.metrics
    )
    return TickResult(verdict=Verdict.FREEZE, reason=reason, lines=lines, state=state)


def _traffic_share(config: JudgeConfig, observations: dict[str, Observation]) -> tuple[float, float] | None:
    """(canary, primary) requests of this interval from the first count-based metric that has both."""
    for metric in config.metrics:
        obs = observations.get(metric.name)
        if obs is None or obs.primary is None or obs.kind == "scalar":
            continue
        n_c, n_p = _requests(obs.canary), _requests(obs.primary)
        if n_c is not None and n_p is not None:
            return n_c, n_p
    return None


def _srm(config: JudgeConfig, tick: Tick, observations: dict[str, Observation]) -> tuple[str | None, str]:
    """(freeze reason, note): the canary clearly below its routed share freezes; above it is only noted."""
    if tick.mirrored or not 0 < tick.weight < 100 or config.baseline is not Baseline.PRIMARY:
        return None, ""
    share = _traffic_share(config, observations)
    if share is None:
        return None, ""
    n_c, n_p = share
    total = n_c + n_p
    if total <= 0:
        return None, ""
    expected = tick.weight / 100.0
    observed = n_c / total
    if observed < SRM_SHARE * expected and ev.lower_tail_bound(n_c, total, expected) < SRM_P:
        return (
            f"sample-ratio mismatch: the canary served {_pct(observed)} of {_num(total)} requests at weight "
            f"{tick.weight}%"
        ), ""
    if observed > min(1.0, 2.0 * expected) and total >= 20:
        return None, f"note: the canary served {_pct(observed)} of requests at weight {tick.weight}% (direct load?)"
    return None, ""


def _leaning_worse(config: JudgeConfig, state: dict[str, Any]) -> str | None:
    """The first decisive test whose FAIL evidence is above 1:1, i.e. whose data favour "worse" over "not worse"
    (its likelihood ratio, not a decision), as "metric (odds)"; None when every test leans "not worse"."""
    for metric in config.metrics:
        mstate = state["m"].get(metric.name)
        if metric.advisory or not mstate:
            continue
        odds = [ev.mixture(entry["f"]) for entry in mstate.get("r", ()) if entry.get("f")]
        if "a" in mstate:
            odds.append(ev.mixture(mstate["a"]["f"]))
        if "z" in mstate:
            odds.append(ev.odds(mstate["z"][0]))
        worst = max(odds, default=0.0)
        if worst > 1.0:
            return f"{metric.name} {_odds(worst)}:1"
    return None


def _policy(config: JudgeConfig, state: dict[str, Any], held: float) -> tuple[Verdict, str]:
    hold = _duration(held)
    policy = config.on_inconclusive
    if policy is OnInconclusive.ROLLBACK:
        return Verdict.ROLLBACK, f"no decision after holding {hold} (maxHold): onInconclusive rollback"
    if policy is OnInconclusive.PROMOTE:
        return Verdict.PROMOTE, f"no decision after holding {hold} (maxHold): onInconclusive promote"
    if policy is OnInconclusive.PAUSE:
        state["pz"] = True
        return Verdict.HOLD, (
            f"paused: no decision after holding {hold} (maxHold); waiting for a person to promote or roll back"
        )
    failed, checked = state["fl"][0], state["fl"][1]
    shadow = state["fl"][3] if len(state["fl"]) > 3 else 0
    counted = (
        f"{failed} of {checked} intervals with data failed their thresholds (threshold {config.flagger_threshold})"
    )
    # Flagger's verdict rolls back only when the judge's own evidence leans that way too: the replay sees the
    # judge's weights, not Flagger's (the judge advances where Flagger would have halted), so at low traffic its
    # per-interval checks fail more often than Flagger's own; a canary whose every FAIL likelihood ratio favours
    # "not worse" is not rolled back on that noise
    if shadow:
        how = (
            f"after {config.flagger_passes} passing checks"
            if shadow > 0
            else f"after {config.flagger_threshold} failed checks"
        )
        text = (
            f"no decision after holding {hold} (maxHold); Flagger's rule on its own schedule would have "
            f"{'promoted' if shadow > 0 else 'rolled back'} {how} ({counted})"
        )
        if shadow > 0:
            return Verdict.PROMOTE, f"{text} → promote"
    else:
        text = f"no decision after holding {hold} (maxHold); Flagger's rule over the run: {counted}"
        if failed < config.flagger_threshold:
            return Verdict.PROMOTE, f"{text} → promote"
    leaning = _leaning_worse(config, state)
    if leaning is None:
        return Verdict.PROMOTE, (
            f"{text}, but every FAIL test's evidence favours a canary no worse than the primary "
            "(all below 1:1) → promote"
        )
    return Verdict.ROLLBACK, f"{text}; the evidence leans the same way ({leaning}) → rollback"


def _flagger_shadow(config: JudgeConfig, fl: list[int], failed: bool, checked: bool) -> list[int]:
    """Flagger's own run replayed on the same intervals: [failed, checked, passes, verdict] where verdict is 0 while
    Flagger would still be running, -1 once its failed checks reach the threshold, +1 once it has had as many passing
    checks as its schedule needs (intervals without data are neither, unlike in Flagger)."""
    n_failed, n_checked = fl[0] + int(failed), fl[1] + int(checked)
    passes = fl[2] if len(fl) > 2 else 0
    verdict = fl[3] if len(fl) > 3 else 0
    if checked and verdict == 0:
        if failed:
            if n_failed >= config.flagger_threshold:
                verdict = -1
        else:
            passes += 1
            if config.flagger_passes and passes >= config.flagger_passes:
                verdict = 1
    return [n_failed, n_checked, passes, verdict]


def judge_tick(
    config: JudgeConfig, state: dict[str, Any] | None, tick: Tick, observations: Sequence[Observation]
) -> TickResult:
    """Judge one interval: update the evidence with `observations` and decide (see the module docstring).

    `state` is what the previous tick returned (None at the start of a run, or after the canary revision
    changed); it is not modified. Advisory metrics are updated and shown but never decide."""
    st = _new_state() if not state else _copy_state(state)
    by_name = {obs.metric: obs for obs in observations}
    decisive = [m for m in config.metrics if not m.advisory]
    baseline = config.baseline is Baseline.PRIMARY
    problems = [gap for gap in (_gap(m, by_name.get(m.name), baseline) for m in decisive) if gap is not None]
    if problems:
        return _frozen(config, st, tick, problems, by_name)
    srm, note = _srm(config, tick, by_name)
    if srm is not None:
        return _frozen(config, st, tick, [srm], by_name)
    if st.get("fz") is not None and st.get("hs") is not None:
        # the hold clock stops while frozen: time without data is no time to gather evidence in, so an outage
        # cannot use up maxHold and hand the decision to onInconclusive
        st["hs"] += tick.at - st["fz"]
    st["fz"] = None
    judge = _Judge(config, tick)
    metrics_state: dict[str, Any] = st["m"]
    step_changed = st["w"] is not None and st["w"] != tick.weight
    if step_changed and config.gate is Gate.EVERY_STEP:
        for mstate in metrics_state.values():
            _reset_pass(mstate)
        st["hs"] = None
    st["w"] = tick.weight
    outcomes: list[tuple[MetricConfig, _Outcome]] = []
    lines: list[LedgerLine] = []
    flagger_failed = flagger_checked = False
    for metric in config.metrics:
        obs = by_name.get(metric.name)
        if obs is None or obs.error or _gap(metric, obs, baseline) is not None:
            reason = f"{metric.name}: {obs.error if obs is not None and obs.error else 'no data'} (advisory)"
            lines.append(LedgerLine(at=tick.at, metric=metric.name, verdict=Verdict.FREEZE, reason=reason))
            continue
        mstate = metrics_state.get(metric.name)
        if mstate is None:
            mstate = metrics_state[metric.name] = _metric_state(metric, obs.kind)
        outcome = judge.metric(metric, mstate, obs)
        assert outcome.line is not None
        lines.append(outcome.line)
        if not metric.advisory:
            outcomes.append((metric, outcome))
            if outcome.flagger is not None:
                flagger_checked = True
                flagger_failed = flagger_failed or outcome.flagger
    st["fl"] = _flagger_shadow(config, st["fl"], flagger_failed, flagger_checked)
    if note and lines:
        lines[0] = replace(lines[0], reason=f"{lines[0].reason} ({note})")
    return _decide(config, st, tick, judge, outcomes, tuple(lines), note)


def _decide(
    config: JudgeConfig,
    st: dict[str, Any],
    tick: Tick,
    judge: _Judge,
    outcomes: list[tuple[MetricConfig, _Outcome]],
    lines: tuple[LedgerLine, ...],
    note: str,
) -> TickResult:
    def result(verdict: Verdict, reason: str, predicted: float | None = None, policy: str = "") -> TickResult:
        if verdict is not Verdict.HOLD:
            st["hs"] = None
        if note and verdict is not Verdict.ROLLBACK:
            reason = f"{reason} ({note})"
        return TickResult(verdict=verdict, reason=reason, lines=lines, state=st, predicted_s=predicted, policy=policy)

    for _metric, outcome in outcomes:
        if outcome.failed:
            return result(Verdict.ROLLBACK, f"{outcome.fail_words} → rollback")
    served = [o.served for _m, o in outcomes if o.served is not None]
    gated = tick.at_gate or config.gate is Gate.EVERY_STEP
    needs = [(need, o.served) for _m, o in outcomes for need in o.needs]
    if served and max(served) <= 0:
        if gated and config.gate is not Gate.NONE:
            return _hold(config, st, tick, result, "no evidence this interval: the canary served no requests", None)
        return result(Verdict.HOLD, "no evidence this interval: the canary served no requests")
    if not tick.at_gate and (config.gate is not Gate.EVERY_STEP or not needs):
        return result(Verdict.ADVANCE, _advance_reason(outcomes))
    if config.gate is Gate.NONE or not needs:
        names = ", ".join(m.name for m, _o in outcomes)
        if config.gate is Gate.NONE:
            text = f"no rollback evidence ({names or 'no decisive metric'}); gate none promotes without certifying"
        elif outcomes:
            text = f"promotion evidence for every metric ({names})"
        else:
            text = "no decisive metric: nothing to certify"
        return result(Verdict.PROMOTE, text)
    # a test paused by a shared incident waits for the primary to recover: no prediction while it lasts
    paused = [need.what for need, _served in needs if need.shared]
    if paused:
        unique = list(dict.fromkeys(paused))
        text = (
            f"the primary breaches the bound too ({', '.join(unique)}): a shared incident, so certifying "
            f"{'it' if len(unique) == 1 else 'them'} waits until the primary recovers"
        )
        others = [(need, served) for need, served in needs if not need.shared]
        if others:
            text += "; " + _prediction(judge, others)[0]
        return _hold(config, st, tick, result, text, None)
    text, seconds = _prediction(judge, needs)
    return _hold(config, st, tick, result, text, seconds)


def _prediction(judge: _Judge, needs: list[tuple[_Need, float | None]]) -> tuple[str, float | None]:
    """The HOLD sentence for the slowest requirement at the current canary traffic, and its seconds (or None)."""
    worst: tuple[float, _Need] | None = None
    unknown: _Need | None = None
    for need, metric_served in needs:
        seconds = need.seconds if need.seconds is not None else judge.seconds(need.requests, metric_served)
        if seconds is None:
            unknown = unknown or need
        elif worst is None or seconds > worst[0]:
            worst = (seconds, need)
    if unknown is not None:
        what = unknown.what
        if unknown.requests is not None and not math.isinf(unknown.requests):
            text = f"≈ {unknown.requests:.0f} more canary requests to certify {what} (no canary traffic now)"
        else:
            text = f"no decision yet: at the current rates the canary cannot certify {what}"
        return text, None
    assert worst is not None
    seconds, need = worst
    if need.requests is not None:
        text = (
            f"≈ {need.requests:.0f} more canary requests (≈ {_duration(seconds)} at current traffic) to "
            f"certify {need.what}"
        )
    else:
        text = f"≈ {_duration(seconds)} more to certify {need.what}"
    return text, seconds


def _advance_reason(outcomes: list[tuple[MetricConfig, _Outcome]]) -> str:
    served = [o.served for _m, o in outcomes if o.served is not None]
    if served:
        return f"no rollback evidence; the canary served {_num(max(served))} requests this interval"
    return "no rollback evidence"


def _hold(
    config: JudgeConfig,
    st: dict[str, Any],
    tick: Tick,
    result: Callable[..., TickResult],
    text: str,
    predicted: float | None,
) -> TickResult:
    """HOLD, or the onInconclusive policy once the hold has lasted maxHold."""
    if st.get("pz"):
        return result(Verdict.HOLD, f"paused, waiting for a person: {text}", predicted, str(OnInconclusive.PAUSE))
    if st["hs"] is None:
        st["hs"] = tick.at
    held = tick.at - st["hs"]
    if held >= config.max_hold_s:
        verdict, reason = _policy(config, st, held)
        return result(verdict, reason, predicted if verdict is Verdict.HOLD else None, str(config.on_inconclusive))
    return result(Verdict.HOLD, text, predicted)
