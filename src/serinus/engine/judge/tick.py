"""One tick of the statistical judge (docs/judge.md, Verdicts): counts of one interval in, a verdict out.

`judge_tick` is pure and cheap. It takes the settings (`judge_config`), the state the previous tick returned (None
at the start of a run), where the release stands, and the observations of the interval, and it returns the verdict,
one ledger line per metric, and the new state (`state.JudgeState`, which the engine keeps in `status.judge` between
ticks); the input state is never modified. This module owns the decision rule; each metric's tests are updated by
`evaluate`, and every sentence comes from `wording`.

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
from collections.abc import Sequence
from dataclasses import replace

from serinus.api.judge import Baseline, Gate, OnInconclusive
from serinus.engine.judge import evidence as ev
from serinus.engine.judge import wording as say
from serinus.engine.judge.config import JudgeConfig, MetricConfig
from serinus.engine.judge.evaluate import Evaluator, Need, Outcome, gap, metric_state, requests, reset_pass
from serinus.engine.judge.state import FlaggerReplay, JudgeState
from serinus.engine.judge.types import LedgerLine, Observation, Tick, TickResult, Verdict

#: sample-ratio mismatch: the canary's share below this fraction of its weight, with this binomial tail
SRM_SHARE = 0.5
SRM_P = 1e-4


def judge_tick(
    config: JudgeConfig, state: JudgeState | None, tick: Tick, observations: Sequence[Observation]
) -> TickResult:
    """Judge one interval: update the evidence with `observations` and decide (see the module docstring).

    `state` is what the previous tick returned (None at the start of a run, or after the canary revision
    changed); it is not modified. Advisory metrics are updated and shown but never decide."""
    st = JudgeState() if state is None else state.copy()
    by_name = {obs.metric: obs for obs in observations}
    decisive = [m for m in config.metrics if not m.advisory]
    baseline = config.baseline is Baseline.PRIMARY
    problems = [found for found in (gap(m, by_name.get(m.name), baseline) for m in decisive) if found is not None]
    if problems:
        return _frozen(config, st, tick, problems, by_name)
    srm, note = _srm(config, tick, by_name)
    if srm is not None:
        return _frozen(config, st, tick, [srm], by_name)
    if st.frozen_since is not None and st.hold_since is not None:
        # the hold clock stops while frozen: time without data is no time to gather evidence in, so an outage
        # cannot use up maxHold and hand the decision to onInconclusive
        st.hold_since += tick.at - st.frozen_since
    st.frozen_since = None
    evaluator = Evaluator(config, tick)
    step_changed = st.weight is not None and st.weight != tick.weight
    if step_changed and config.gate is Gate.EVERY_STEP:
        for metric_tests in st.metrics.values():
            reset_pass(metric_tests)
        st.hold_since = None
    st.weight = tick.weight
    outcomes: list[tuple[MetricConfig, Outcome]] = []
    lines: list[LedgerLine] = []
    flagger_failed = flagger_checked = False
    for metric in config.metrics:
        obs = by_name.get(metric.name)
        if obs is None or obs.error or gap(metric, obs, baseline) is not None:
            reason = say.advisory_gap(metric.name, obs.error if obs is not None else None)
            lines.append(LedgerLine(at=tick.at, metric=metric.name, verdict=Verdict.FREEZE, reason=reason))
            continue
        tests = st.metrics.get(metric.name)
        if tests is None:
            tests = st.metrics[metric.name] = metric_state(metric, obs.kind)
        outcome = evaluator.metric(metric, tests, obs)
        assert outcome.line is not None
        lines.append(outcome.line)
        if not metric.advisory:
            outcomes.append((metric, outcome))
            if outcome.flagger is not None:
                flagger_checked = True
                flagger_failed = flagger_failed or outcome.flagger
    st.flagger = _flagger_shadow(config, st.flagger, flagger_failed, flagger_checked)
    if note and lines:
        lines[0] = replace(lines[0], reason=say.with_note(lines[0].reason, note))
    return _Decision(config, st, tick, evaluator, tuple(lines), note).decide(outcomes)


def _frozen(
    config: JudgeConfig, state: JudgeState, tick: Tick, problems: list[str], observations: dict[str, Observation]
) -> TickResult:
    if state.frozen_since is None:
        state.frozen_since = tick.at
    reason = say.freeze_reason(problems)
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
        n_c, n_p = requests(obs.canary), requests(obs.primary)
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
        return say.sample_ratio_mismatch(observed, total, tick.weight), ""
    if observed > min(1.0, 2.0 * expected) and total >= 20:
        return None, say.direct_load(observed, tick.weight)
    return None, ""


def _flagger_shadow(config: JudgeConfig, replay: FlaggerReplay, failed: bool, checked: bool) -> FlaggerReplay:
    """Flagger's own run replayed on the same intervals: its verdict is 0 while Flagger would still be running, -1
    once its failed checks reach the threshold, +1 once it has had as many passing checks as its schedule needs
    (intervals without data are neither, unlike in Flagger)."""
    n_failed, n_checked = replay.failed + int(failed), replay.checked + int(checked)
    passes = replay.passes if replay.passes is not None else 0
    verdict = replay.verdict if replay.verdict is not None else 0
    if checked and verdict == 0:
        if failed:
            if n_failed >= config.flagger_threshold:
                verdict = -1
        else:
            passes += 1
            if config.flagger_passes and passes >= config.flagger_passes:
                verdict = 1
    return FlaggerReplay(n_failed, n_checked, passes, verdict)


def _leaning_worse(config: JudgeConfig, state: JudgeState) -> str | None:
    """The first decisive test whose FAIL evidence is above 1:1, i.e. whose data favour "worse" over "not worse"
    (its likelihood ratio, not a decision), as "metric (odds)"; None when every test leans "not worse"."""
    for metric in config.metrics:
        tests = state.metrics.get(metric.name)
        if metric.advisory or tests is None:
            continue
        odds = [ev.mixture(test.fail) for test in tests.relative or () if test.fail]
        if tests.absolute is not None:
            odds.append(ev.mixture(tests.absolute.fail))
        if tests.sign is not None:
            odds.append(ev.odds(tests.sign.log_fail))
        worst = max(odds, default=0.0)
        if worst > 1.0:
            return say.leaning(metric.name, worst)
    return None


def _policy(config: JudgeConfig, state: JudgeState, held: float) -> tuple[Verdict, str]:
    """The onInconclusive policy's verdict once the hold has lasted maxHold."""
    policy = config.on_inconclusive
    if policy is OnInconclusive.ROLLBACK:
        return Verdict.ROLLBACK, say.policy_rollback(held)
    if policy is OnInconclusive.PROMOTE:
        return Verdict.PROMOTE, say.policy_promote(held)
    if policy is OnInconclusive.PAUSE:
        state.paused = True
        return Verdict.HOLD, say.policy_pause(held)
    replay = state.flagger
    shadow = replay.verdict or 0
    counted = say.flagger_counted(replay.failed, replay.checked, config.flagger_threshold)
    # Flagger's verdict rolls back only when the judge's own evidence leans that way too: the replay sees the
    # judge's weights, not Flagger's (the judge advances where Flagger would have halted), so at low traffic its
    # per-interval checks fail more often than Flagger's own; a canary whose every FAIL likelihood ratio favours
    # "not worse" is not rolled back on that noise
    if shadow:
        text = say.flagger_schedule(held, shadow > 0, config.flagger_passes, config.flagger_threshold, counted)
        if shadow > 0:
            return Verdict.PROMOTE, say.flagger_promote(text)
    else:
        text = say.flagger_over_run(held, counted)
        if replay.failed < config.flagger_threshold:
            return Verdict.PROMOTE, say.flagger_promote(text)
    leaning = _leaning_worse(config, state)
    if leaning is None:
        return Verdict.PROMOTE, say.flagger_overruled(text)
    return Verdict.ROLLBACK, say.flagger_rollback(text, leaning)


class _Decision:
    """Steps 3 to 8 of the rule, once every metric is evaluated: the verdict, its reason and the state's hold."""

    def __init__(
        self,
        config: JudgeConfig,
        state: JudgeState,
        tick: Tick,
        evaluator: Evaluator,
        lines: tuple[LedgerLine, ...],
        note: str,
    ) -> None:
        self.config = config
        self.state = state
        self.tick = tick
        self.evaluator = evaluator
        self.lines = lines
        self.note = note

    def result(self, verdict: Verdict, reason: str, predicted: float | None = None, policy: str = "") -> TickResult:
        """The tick's result: the hold ends with any verdict but HOLD; the interval's note goes with the reason."""
        if verdict is not Verdict.HOLD:
            self.state.hold_since = None
        if self.note and verdict is not Verdict.ROLLBACK:
            reason = say.with_note(reason, self.note)
        return TickResult(
            verdict=verdict,
            reason=reason,
            lines=self.lines,
            state=self.state,
            predicted_s=predicted,
            policy=policy,
        )

    def decide(self, outcomes: list[tuple[MetricConfig, Outcome]]) -> TickResult:
        """ROLLBACK, HOLD without traffic, ADVANCE, PROMOTE, or HOLD (and the policy at maxHold)."""
        config, tick = self.config, self.tick
        for _metric, outcome in outcomes:
            if outcome.failed:
                return self.result(Verdict.ROLLBACK, say.rollback(outcome.fail_words))
        served = [o.served for _m, o in outcomes if o.served is not None]
        gated = tick.at_gate or config.gate is Gate.EVERY_STEP
        needs = [(need, o.served) for _m, o in outcomes for need in o.needs]
        if served and max(served) <= 0:
            if gated and config.gate is not Gate.NONE:
                return self.hold(say.NO_REQUESTS, None)
            return self.result(Verdict.HOLD, say.NO_REQUESTS)
        if not tick.at_gate and (config.gate is not Gate.EVERY_STEP or not needs):
            return self.result(Verdict.ADVANCE, say.advance(max(served) if served else None))
        if config.gate is Gate.NONE or not needs:
            names = [m.name for m, _o in outcomes]
            return self.result(Verdict.PROMOTE, say.promote(names, config.gate is Gate.NONE))
        # a test paused by a shared incident waits for the primary to recover: no prediction while it lasts
        paused = [need.what for need, _served in needs if need.shared]
        if paused:
            text = say.shared_incident(list(dict.fromkeys(paused)))
            others = [(need, served) for need, served in needs if not need.shared]
            if others:
                text = say.and_then(text, self.prediction(others)[0])
            return self.hold(text, None)
        text, seconds = self.prediction(needs)
        return self.hold(text, seconds)

    def prediction(self, needs: list[tuple[Need, float | None]]) -> tuple[str, float | None]:
        """The HOLD sentence for the slowest requirement at the current canary traffic, and its seconds (or None)."""
        worst: tuple[float, Need] | None = None
        unknown: Need | None = None
        for need, metric_served in needs:
            seconds = need.seconds if need.seconds is not None else self.evaluator.seconds(need.requests, metric_served)
            if seconds is None:
                unknown = unknown or need
            elif worst is None or seconds > worst[0]:
                worst = (seconds, need)
        if unknown is not None:
            if unknown.requests is not None and not math.isinf(unknown.requests):
                return say.requests_without_traffic(unknown.requests, unknown.what), None
            return say.cannot_certify(unknown.what), None
        assert worst is not None
        seconds, need = worst
        if need.requests is not None:
            return say.requests_needed(need.requests, seconds, need.what), seconds
        return say.time_needed(seconds, need.what), seconds

    def hold(self, text: str, predicted: float | None) -> TickResult:
        """HOLD, or the onInconclusive policy once the hold has lasted maxHold."""
        state, tick = self.state, self.tick
        if state.paused:
            return self.result(Verdict.HOLD, say.paused(text), predicted, str(OnInconclusive.PAUSE))
        if state.hold_since is None:
            state.hold_since = tick.at
        held = tick.at - state.hold_since
        if held >= self.config.max_hold_s:
            verdict, reason = _policy(self.config, state, held)
            return self.result(
                verdict, reason, predicted if verdict is Verdict.HOLD else None, str(self.config.on_inconclusive)
            )
        return self.result(Verdict.HOLD, text, predicted)
