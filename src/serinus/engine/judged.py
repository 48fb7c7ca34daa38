"""One analysis step under the statistical judge (`spec.analysis.judge.mode: statistical`).

Flagger's step runs every metric check and counts a failed check on the first breach. Here the metrics feed the
judge (engine/judge) instead, and its verdict decides the step:

- FREEZE: the data cannot be trusted (provider error, scrape gap, the canary gets far less traffic than routed):
  weights stay, no failed check, a Warning event, and an alert once the freeze has lasted `FREEZE_ALERT_TICKS`;
- ROLLBACK: a `Judged` Warning event with the evidence in one sentence, failedChecks set to the threshold, then
  Flagger's own rollback path (its events, alerts and post-rollout webhooks);
- HOLD: Flagger's "Halt ... advancement" Warning with how much more traffic is needed; never a failed check;
- ADVANCE / PROMOTE: Flagger's strategy step (the next weight, or promotion at the gate).

The judge's state lives in `status.judge` between steps, so an operator restart loses no evidence. It restarts
with every new run: a new revision, or the first step of an analysis.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

from serinus.api import CanaryMetric, DeploymentStrategy
from serinus.api.analysis import REQUEST_DURATION, REQUEST_SUCCESS_RATE
from serinus.api.judge import Baseline, JudgeStatus, MetricJudgeStatus
from serinus.engine import checks, strategies
from serinus.engine.context import Context
from serinus.engine.faults import describe
from serinus.engine.gofmt import go_value
from serinus.engine.judge.config import JudgeConfig, judge_config
from serinus.engine.judge.evidence import histogram_quantile
from serinus.engine.judge.state import decode_state, encode_state
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import (
    MALFORMED,
    UNEXPECTED,
    LedgerLine,
    Observation,
    Tick,
    TickResult,
    Verdict,
    VersionCounts,
)
from serinus.engine.ledger import Record
from serinus.engine.ports import Reason
from serinus.engine.thresholds import MetricKind, within
from serinus.engine.weights import max_weight

log = logging.getLogger("serinus.engine")

#: consecutive frozen steps before an alert goes out
FREEZE_ALERT_TICKS = 3
#: ledger lines kept in status.judge (the newest)
LEDGER_LINES = 12
#: the longest window one step may cover (after an operator outage the judge reads this much, not more)
MAX_WINDOW_S = 1800.0


def config_of(ctx: Context) -> JudgeConfig | None:
    """The judge settings in effect, or None for Flagger's rule. A bad annotation is reported and leaves
    Flagger's rule in charge (the spec fields are checked by the API server and `serinus validate`)."""
    try:
        return judge_config(ctx.canary)
    except ValueError as err:
        log.warning("%s: %s", ctx.subject, err)
        return None


async def restart(ctx: Context) -> None:
    """A new analysis starts: the previous run's evidence (if any) is dropped from status.judge."""
    if ctx.canary.status.judge is not None:
        await ctx.set_judge(None)


def _extras(status: JudgeStatus | None) -> dict[str, Any]:
    return dict(status.model_extra or {}) if status is not None else {}


def _run_id(ctx: Context) -> str:
    """What identifies one run: the canary revision under analysis (its spec hash and tracked configs)."""
    status = ctx.canary.status
    tracked = ",".join(f"{k}={v}" for k, v in sorted((status.tracked_configs or {}).items()))
    return f"{status.last_applied_spec}/{tracked}"


def _at_gate(ctx: Context, canary_weight: int, mirrored: bool) -> bool:
    """Whether a passing step would promote now (Flagger's strategies): maxWeight reached, or the last iteration."""
    analysis = ctx.analysis
    strategy = ctx.canary.deployment_strategy()
    iterative = strategy in (DeploymentStrategy.AB_TESTING, DeploymentStrategy.BLUE_GREEN) or (
        ctx.provider == strategies.KUBERNETES and (bool(analysis.match) or analysis.iterations < 1)
    )
    if iterative:
        wanted = analysis.iterations if analysis.iterations >= 1 else strategies.KUBERNETES_ITERATIONS
        return ctx.canary.status.iterations >= wanted
    if analysis.mirror and canary_weight == 0:
        return False
    return canary_weight >= max_weight(analysis)


def _weight_for_ratio_check(ctx: Context, canary_weight: int) -> int:
    """The routed share the sample-ratio check compares with; 0 (no check) where the canary serves a segment
    (A/B matching) or only test traffic (blue/green)."""
    if ctx.canary.deployment_strategy() is not DeploymentStrategy.CANARY or ctx.provider == strategies.KUBERNETES:
        return 0
    return canary_weight


async def _observe(ctx: Context, config: JudgeConfig, window_s: float) -> list[Observation]:
    """Every metric's observation. A provider's error, a malformed count and an exception all freeze the judge
    with a Warning naming them (a provider error never counts as a failed check under the judge); the last two are
    counted in serinus_analysis_errors_total."""
    baseline = config.baseline is Baseline.PRIMARY
    out: list[Observation] = []
    for metric in ctx.analysis.metrics:
        try:
            obs = _checked(await ctx.world.metrics.observe(metric, window_s, baseline))
        except Exception as err:  # a port must not break the step: an unexpected failure freezes the judge
            log.exception("%s: observing %s failed", ctx.subject, metric.name)
            obs = Observation(metric.name, error=f"unexpected {describe(err)}", failure=UNEXPECTED)
        if obs.error and obs.failure:
            reason = Reason.MALFORMED_ANSWER if obs.failure == MALFORMED else Reason.METRIC_ERROR
            ctx.services.telemetry.count_error(ctx.canary, reason)
        out.append(obs)
    return out


def _checked(obs: Observation) -> Observation:
    """The observation, or (when a count is negative, infinite or NaN, a bucket bound is not a number, or the
    value is infinite) the same with `error` saying which: the judge must never reason on such numbers."""
    if obs.error:
        return obs
    for version, counts in (("canary", obs.canary), ("primary", obs.primary)):
        if counts is None:
            continue
        problem = _bad_counts(counts)
        if problem is not None:
            return replace(obs, error=f"the {version}'s {problem}", failure=MALFORMED)
    return obs


def _bad_counts(counts: VersionCounts) -> str | None:
    """What is wrong with one version's counts, or None."""
    for what, count in (("request count", counts.requests), ("bad-request count", counts.bad)):
        if count is not None and not _count_ok(count):
            return f"{what} is {go_number(count)}, not a finite non-negative number"
    for bound, count in counts.buckets:
        if not isinstance(bound, int | float) or math.isnan(bound) or bound < 0:
            return f"bucket bound {go_number(bound)} is not a non-negative number"
        if not _count_ok(count):
            return f"count of bucket le={go_number(bound)} is {go_number(count)}, not a finite non-negative number"
    value = counts.value
    if value is not None and (not isinstance(value, int | float) or math.isinf(value)):
        return f"value is {go_number(value)}, not a finite number"
    return None


def _count_ok(count: object) -> bool:
    return isinstance(count, int | float) and not isinstance(count, bool) and math.isfinite(count) and count >= 0


def go_number(value: object) -> str:
    """A number as Go prints it (+Inf, NaN, 1e+06), anything else as its repr."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return go_value(float(value))
    return repr(value)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


async def analysis(ctx: Context, config: JudgeConfig, primary: int, canary_weight: int, mirrored: bool) -> None:
    """The judged step: rollout hooks as Flagger runs them, then one judge tick and its verdict."""
    if not await checks.rollout_hooks(ctx):
        await ctx.count_failed_check()
        return
    status = ctx.canary.status.judge
    extras = _extras(status)
    run = _run_id(ctx)
    stored = extras.get("state") if extras.get("run") == run else None
    # an unreadable state raises JudgeStateError naming the field: the step fails as for any other fault
    state = decode_state(stored) if stored else None
    frozen = int(extras.get("frozenTicks", 0)) if stored is not None else 0
    ledger: list[dict[str, Any]] = list(extras.get("ledger") or []) if stored is not None else []
    now = ctx.services.clock.now().timestamp()
    interval = ctx.analysis.interval_seconds()
    last = extras.get("lastAt") if stored is not None else None
    window = interval if not isinstance(last, int | float) else min(max(now - last, interval / 2), MAX_WINDOW_S)
    window = float(math.ceil(window))

    observations = await _observe(ctx, config, window)
    tick = Tick(
        at=now,
        window_s=window,
        weight=_weight_for_ratio_check(ctx, canary_weight),
        at_gate=_at_gate(ctx, canary_weight, mirrored),
        mirrored=mirrored,
    )
    result = judge_tick(config, state, tick, observations)
    ctx.services.telemetry.set_judge(ctx.canary, result)
    _record_values(ctx, observations)
    _keep_lines(ctx, result)
    frozen = frozen + 1 if result.verdict is Verdict.FREEZE else 0
    ledger = [*ledger, *(line.to_json() for line in result.lines)][-LEDGER_LINES:]
    decided_before = str(extras.get("policy", "")) if stored is not None else ""
    # a frozen tick used no data: the next window reaches back to the last judged one, so the requests served
    # while the metrics could not be read are still judged once they can
    judged_at = now if result.verdict is not Verdict.FREEZE or not isinstance(last, int | float) else last
    await _save(ctx, result, run=run, now=judged_at, frozen=frozen, ledger=ledger)
    await _act(ctx, result, frozen, tick, primary, canary_weight, newly_decided=result.policy != decided_before)


def _canary_value(metric: CanaryMetric, obs: Observation) -> tuple[float, MetricKind] | None:
    """What Flagger's own query would have returned for the canary over this window (built-ins from the counts,
    scalars as read), so flagger_canary_metric_analysis keeps its meaning under the judge."""
    counts = obs.canary
    if metric.name == REQUEST_SUCCESS_RATE and not metric.query and counts.requests and counts.bad is not None:
        return 100 * (counts.requests - counts.bad) / counts.requests, MetricKind.SUCCESS_RATE
    if metric.name == REQUEST_DURATION and not metric.query:
        value = histogram_quantile(0.99, counts.buckets) if counts.buckets else counts.value
        return (value, MetricKind.DURATION_MS) if value is not None and not math.isnan(value) else None
    if obs.kind == "scalar" and counts.value is not None and not math.isnan(counts.value):
        return counts.value, MetricKind.CUSTOM
    return None


def _record_values(ctx: Context, observations: list[Observation]) -> None:
    """flagger_canary_metric_analysis: the canary's own value and whether Flagger's bound holds (durations in
    seconds, as Flagger records them)."""
    for metric, obs in zip(ctx.analysis.metrics, observations, strict=True):
        got = None if obs.error else _canary_value(metric, obs)
        if got is None:
            continue
        value, kind = got
        passed = within(kind, value, metric.threshold_range, metric.threshold)
        recorded = value / 1000 if kind is MetricKind.DURATION_MS else value
        ctx.services.telemetry.set_analysis(ctx.canary, metric.name, recorded, passed)


def _keep_lines(ctx: Context, result: TickResult) -> None:
    """The run ledger's check records of a judged step: each metric's verdict, estimate, the canary's request
    count so far as the sample size, and Flagger's bound for reference."""
    metrics = {m.name: m for m in ctx.analysis.metrics}
    for line in result.lines:
        metric = metrics.get(line.metric)
        low, high = checks.metric_bounds(metric, checks.builtin_name(metric)) if metric else (None, None)
        requests = line.canary.get("requests")
        ctx.keep(
            Record(
                "check",
                name=line.metric,
                verdict=str(line.verdict),
                value=line.estimate if line.estimate is not None and math.isfinite(line.estimate) else None,
                min=low,
                max=high,
                samples=int(requests) if isinstance(requests, int | float) and math.isfinite(requests) else None,
                test=line.test or "judge",
                message=line.reason,
            )
        )


def _metric_status(line: LedgerLine) -> MetricJudgeStatus:
    data = line.to_json()
    data.pop("at", None)
    data.pop("queries", None)
    return MetricJudgeStatus.model_validate(data)


async def _save(
    ctx: Context, result: TickResult, *, run: str, now: float, frozen: int, ledger: list[dict[str, Any]]
) -> None:
    """status.judge: the verdict, the evidence per metric, a bounded ledger, and the state for the next step."""
    judged = JudgeStatus.model_validate(
        {
            "verdict": str(result.verdict),
            "reason": result.reason,
            "metrics": [_metric_status(line).model_dump(by_alias=True, exclude_none=True) for line in result.lines],
            "run": run,
            "lastAt": now,
            "frozenTicks": frozen,
            "state": encode_state(result.state),
            "ledger": ledger,
            **({"predictedSeconds": round(result.predicted_s)} if result.predicted_s is not None else {}),
            **({"policy": result.policy} if result.policy else {}),
        }
    )

    await ctx.set_judge(judged)


async def _act(
    ctx: Context, result: TickResult, frozen: int, tick: Tick, primary: int, canary_weight: int, *, newly_decided: bool
) -> None:
    verdict, reason = result.verdict, result.reason
    if result.policy and newly_decided:
        await ctx.info(
            f"Judge reached maxHold without a decision for {ctx.subject}: onInconclusive "
            f"{result.policy} gives {verdict}"
        )
    if verdict is Verdict.FREEZE:
        await ctx.warn(f"Halt {ctx.subject} advancement, judge frozen: {reason}")
        if frozen == FREEZE_ALERT_TICKS:
            await ctx.alert(f"Canary analysis frozen for {frozen} intervals: {_sentence(reason)}", "warn")
        return
    if verdict is Verdict.ROLLBACK:
        await ctx.warn(f"Judged {ctx.subject}: {reason}")
        await ctx.set_failed_checks(ctx.canary.analysis_threshold())
        await strategies.rollback(ctx)
        return
    if verdict is Verdict.HOLD or (verdict is Verdict.ADVANCE and tick.at_gate):
        await ctx.warn(f"Halt {ctx.subject} advancement, waiting for evidence: {reason}")
        if result.policy == "pause" and newly_decided:
            await ctx.alert(f"Canary analysis paused, waiting for a person: {_sentence(reason)}", "warn")
        return
    await strategies.run(ctx, primary, canary_weight, tick.mirrored)
