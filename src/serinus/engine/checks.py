"""Gates, hooks and metric checks of one step, with Flagger's semantics and texts (pkg/controller/scheduler_hooks.go,
webhook.go and scheduler_metrics.go)."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from dataclasses import replace

from serinus.api import Canary, CanaryMetric, CanaryPhase, CanaryWebhook
from serinus.api import HookType as H
from serinus.api.analysis import BUILTIN_METRICS, REQUEST_DURATION, REQUEST_SUCCESS_RATE
from serinus.engine.context import Context
from serinus.engine.faults import describe
from serinus.engine.gofmt import fits_ms, go_ms, go_value
from serinus.engine.ledger import Record
from serinus.engine.ports import HookResult, Measurement, MetricFailure, Reason

log = logging.getLogger("serinus.engine")
#: failures that are not the provider's ordinary errors: counted in serinus_analysis_errors_total
_COUNTED = frozenset({MetricFailure.MALFORMED, MetricFailure.ERROR})


async def _call(
    ctx: Context, hook_type: H, phase: str, canary: Canary | None = None
) -> AsyncIterator[tuple[CanaryWebhook, HookResult]]:
    """Yield (hook, result) for each hook of a type, in spec order."""
    analysis = (canary or ctx.canary).analysis_or_default()
    for hook in analysis.webhooks_of(hook_type):
        result = await ctx.services.hooks.call(hook, ctx.payload(phase, hook.metadata))
        verdict = "accepted" if result.ok else "refused"
        ctx.keep(Record("webhook", name=hook.name, type=str(hook_type), verdict=verdict, message=result.error))
        yield hook, result


async def confirm_rollout(ctx: Context) -> bool:
    """confirm-rollout: a refusal moves the Canary to Waiting (once) and holds; every hook must accept."""
    phase = ctx.canary.status.phase
    async for hook, result in _call(ctx, H.CONFIRM_ROLLOUT, phase):
        if not result.ok:
            if phase is not CanaryPhase.WAITING:
                await ctx.set_phase(CanaryPhase.WAITING, report=False)
                await ctx.warn(f"Halt {ctx.subject} advancement waiting for approval {hook.name}")
                if not hook.mute_alert:
                    await ctx.alert("Canary is waiting for approval.", "warn")
            return False
        await ctx.info(f"Confirm-rollout check {hook.name} passed")
    return True


async def confirm_traffic_increase(ctx: Context) -> bool:
    """confirm-traffic-increase: a refusal holds the weight where it is (no phase change)."""
    async for hook, result in _call(ctx, H.CONFIRM_TRAFFIC_INCREASE, CanaryPhase.PROGRESSING):
        if not result.ok:
            await ctx.warn(f"Halt {ctx.subject} advancement waiting for traffic increase approval {hook.name}")
            if not hook.mute_alert:
                await ctx.alert("Canary traffic increase is waiting for approval.", "warn")
            return False
        await ctx.info(f"Confirm-traffic-increase check {hook.name} passed")
    return True


async def confirm_promotion(ctx: Context) -> bool:
    """confirm-promotion: a refusal moves the Canary to WaitingPromotion (once), where the analysis goes on."""
    async for hook, result in _call(ctx, H.CONFIRM_PROMOTION, CanaryPhase.PROGRESSING):
        if not result.ok:
            if ctx.canary.status.phase is not CanaryPhase.WAITING_PROMOTION:
                await ctx.set_phase(CanaryPhase.WAITING_PROMOTION, report=False)
                await ctx.warn(f"Halt {ctx.subject} advancement waiting for promotion approval {hook.name}")
                if not hook.mute_alert:
                    await ctx.alert("Canary promotion is waiting for approval.", "warn")
            else:
                await ctx.set_iterations(ctx.analysis.iterations - 1)
            return False
        await ctx.info(f"Confirm-promotion check {hook.name} passed")
    return True


async def pre_rollout(ctx: Context) -> bool:
    """pre-rollout: every hook must accept before any traffic reaches the canary."""
    async for hook, result in _call(ctx, H.PRE_ROLLOUT, CanaryPhase.PROGRESSING):
        if not result.ok:
            await ctx.warn(f"Halt {ctx.subject} advancement pre-rollout check {hook.name} failed {result.error}")
            return False
        await ctx.info(f"Pre-rollout check {hook.name} passed")
    return True


async def post_rollout(ctx: Context, phase: CanaryPhase, canary: Canary | None = None) -> None:
    """post-rollout: told the outcome; a failure is reported and stops the remaining post-rollout hooks."""
    on = canary or ctx.canary
    async for hook, result in _call(ctx, H.POST_ROLLOUT, phase, on):
        if not result.ok:
            await ctx.warn(f"Post-rollout hook {hook.name} failed {result.error}", on=on)
            return
        await ctx.info(f"Post-rollout check {hook.name} passed", on=on)


async def rollback_requested(ctx: Context) -> bool:
    """rollback hooks: the first that accepts asks for a manual rollback."""
    async for hook, result in _call(ctx, H.ROLLBACK, ctx.canary.status.phase):
        if result.ok:
            await ctx.warn(f"Rollback check {hook.name} passed")
            return True
        await ctx.info(f"Rollback hook {hook.name} not signaling a rollback")
    return False


async def rollout_hooks(ctx: Context) -> bool:
    """rollout hooks (Flagger's external checks): the first refusal halts the step."""
    async for hook, result in _call(ctx, H.ROLLOUT, CanaryPhase.PROGRESSING):
        if not result.ok:
            await ctx.warn(f"Halt {ctx.subject} advancement external check {hook.name} failed {result.error}")
            return False
    return True


async def analysis(ctx: Context) -> bool:
    """runAnalysis: rollout hooks, then built-in and inline-query metrics, then MetricTemplate metrics; the
    first failure ends the step."""
    if not await rollout_hooks(ctx):
        return False
    metrics = ctx.analysis.metrics
    first = [m for m in metrics if m.template_ref is None and (m.name in BUILTIN_METRICS or m.query)]
    for metric in first:
        if not await _judge(ctx, metric, await measure(ctx, metric)):
            return False
    for metric in metrics:
        if metric.template_ref is not None:
            if not await _judge(ctx, metric, await measure(ctx, metric)):
                return False
        elif metric.name not in BUILTIN_METRICS and not metric.query:
            await ctx.warn("Metric query failed for no usable metrics template and query were configured")
            return False
    return True


async def measure(ctx: Context, metric: CanaryMetric) -> Measurement:
    """One metric's measurement. Whatever the port does, the result is a value or a failure: an exception
    becomes a failed check that names it, and a value that is not a finite number is a malformed answer (the
    thresholds could not judge it: +Inf passes a `min` bound)."""
    # Flagger's texts for the built-ins do not name the metric: these failures say which one it was
    named = f"{metric.name}: " if _builtin(metric) else ""
    try:
        got = await ctx.world.metrics.measure(metric)
    except Exception as err:  # the port's own bug must fail this check, not stall the release
        log.exception("%s: measuring %s failed", ctx.subject, metric.name)
        return Measurement(failure=MetricFailure.ERROR, error=f"{named}unexpected {describe(err)}")
    value = got.value
    if got.failure is not None or value is None:
        return got
    if not isinstance(value, int | float) or isinstance(value, bool):
        return replace(got, value=None, failure=MetricFailure.MALFORMED, error=f"{named}{value!r} is not a number")
    if math.isnan(value):  # NaN is "no values found" everywhere (Prometheus' answer without traffic)
        return replace(got, value=None, failure=MetricFailure.NO_DATA, error="no values found (NaN)")
    if math.isinf(value):
        return replace(
            got,
            value=None,
            failure=MetricFailure.MALFORMED,
            error=f"{named}{go_value(value)} is not a finite number",
        )
    if named and metric.name == REQUEST_DURATION and not fits_ms(value):
        return replace(
            got,
            value=None,
            failure=MetricFailure.MALFORMED,
            error=f"{named}{go_value(value)} ms is out of range (Go's time.Duration)",
        )
    return got


def builtin_name(metric: CanaryMetric) -> str:
    """The built-in metric's name (request-success-rate, request-duration) when `metric` is one, else ""."""
    return _builtin(metric)


def _builtin(metric: CanaryMetric) -> str:
    if metric.name in BUILTIN_METRICS and not metric.query:
        return metric.name
    return ""


async def _judge(ctx: Context, metric: CanaryMetric, got: Measurement) -> bool:
    """Report a measurement that failed or is out of bounds, in Flagger's words; True when it passes."""
    builtin = _builtin(metric)
    low, high = metric_bounds(metric, builtin)
    if got.failure is not None or got.value is None:
        if got.failure in _COUNTED:
            reason = Reason.MALFORMED_ANSWER if got.failure is MetricFailure.MALFORMED else Reason.METRIC_ERROR
            ctx.services.telemetry.count_error(ctx.canary, reason, metric.name)
        text = _failure_text(ctx, metric, got)
        ctx.keep(Record("check", name=metric.name, verdict="error", min=low, max=high, message=text))
        await ctx.warn(text)
        return False
    value = got.value
    problem = _verdict(ctx, metric, builtin, value)
    ctx.keep(
        Record(
            "check",
            name=metric.name,
            verdict="pass" if problem is None else "fail",
            value=float(value),
            min=low,
            max=high,
            message=problem or "",
        )
    )
    recorded = value / 1000 if builtin == REQUEST_DURATION else value  # Flagger records durations in seconds
    ctx.services.telemetry.set_analysis(ctx.canary, metric.name, recorded, problem is None)
    if problem is not None:
        await ctx.warn(problem)
        return False
    return True


def metric_bounds(metric: CanaryMetric, builtin: str) -> tuple[float | None, float | None]:
    """The (min, max) a metric's value must stay within: thresholdRange, else the legacy threshold (a minimum for
    the success rate, a maximum for everything else)."""
    bounds = metric.threshold_range
    low = bounds.min if bounds is not None else None
    high = bounds.max if bounds is not None else None
    if bounds is None:
        if builtin == REQUEST_SUCCESS_RATE:
            low = metric.threshold
        else:
            high = metric.threshold
    return low, high


def _verdict(ctx: Context, metric: CanaryMetric, builtin: str, value: float) -> str | None:
    """None when the value is acceptable, else Flagger's Halt text."""
    low, high = metric_bounds(metric, builtin)
    if builtin == REQUEST_DURATION:
        # Flagger compares whole-millisecond durations
        if low is not None and value < int(low):
            return f"Halt {ctx.subject} advancement request duration {go_ms(value)} < {go_ms(low)}"
        if high is not None and value > int(high):
            return f"Halt {ctx.subject} advancement request duration {go_ms(value)} > {go_ms(high)}"
        return None
    if low is not None and value < low:
        return _bound_text(ctx, metric, builtin, value, "<", low)
    if high is not None and value > high:
        return _bound_text(ctx, metric, builtin, value, ">", high)
    return None


def _bound_text(ctx: Context, metric: CanaryMetric, builtin: str, value: float, op: str, bound: float) -> str:
    if builtin == REQUEST_SUCCESS_RATE:
        return f"Halt {ctx.subject} advancement success rate {value:.2f}% {op} {go_value(bound)}%"
    return f"Halt {ctx.subject} advancement {metric.name} {value:.2f} {op} {go_value(bound)}"


def _failure_text(ctx: Context, metric: CanaryMetric, got: Measurement) -> str:
    failure, error = got.failure, got.error
    builtin = _builtin(metric)
    if builtin:
        if failure is MetricFailure.NO_DATA:
            text = (
                f"Halt advancement no values found for {got.observer} metric {metric.name} probably "
                f"{ctx.canary.spec.target_ref.name}.{ctx.namespace} is not receiving traffic"
            )
            return f"{text}: {error}" if builtin == REQUEST_SUCCESS_RATE else text
        return f"Prometheus query failed: {error}"
    if metric.template_ref is None:
        if failure is MetricFailure.NO_DATA:
            return f"Halt advancement no values found for metric: {metric.name}"
        return f"Prometheus query failed for {metric.name}: {error}"
    template = got.template or f"{metric.template_ref.name}.{metric.template_ref.namespace_or(ctx.namespace)}"
    if failure is MetricFailure.TEMPLATE:
        return f"Metric template {template} error: {error}"
    if failure is MetricFailure.SECRET:
        return f"Metric template {template} secret {error}"
    if failure is MetricFailure.PROVIDER:
        return f"Metric template {template} provider {got.provider_type} error: {error}"
    if failure is MetricFailure.RENDER:
        return f"Metric template {template} query render error: {error}"
    if failure is MetricFailure.NO_DATA:
        return f"Halt advancement no values found for custom metric: {metric.name}: {error}"
    return f"Metric query failed for {metric.name}: {error}"
