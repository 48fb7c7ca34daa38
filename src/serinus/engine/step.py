"""One analysis step of one Canary, in the exact order of Flagger's pkg/controller/scheduler.go advanceCanary.

`Engine.advance(name, namespace)` is called once per analysis interval. It reads the Canary, makes sure the
primary and services exist, detects a new revision, checks readiness, runs gates, hooks and metrics, moves
traffic, and promotes or rolls back, reporting every decision as Flagger's events, alerts and status.
Strategies live in strategies.py, hooks and metrics in checks.py; this module owns the sequence.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from serinus.api import Canary, CanaryPhase
from serinus.engine import checks, intake, judged, runlog, strategies
from serinus.engine.actions import Verb
from serinus.engine.changes import has_config_changed, has_spec_changed
from serinus.engine.context import Context, Services
from serinus.engine.faults import fault_text
from serinus.engine.finalize import finalize
from serinus.engine.overrides import FORCE_ROLLBACK, effective, rollback_forced
from serinus.engine.ports import EventType, Next, PortError, Reason, SerinusReason, World
from serinus.engine.status import with_failed_checks
from serinus.engine.weights import TOTAL_WEIGHT

WorldFactory = Callable[[Canary, str], Awaitable[World]]
log = logging.getLogger("serinus.engine")

_INIT = frozenset({CanaryPhase.UNSET, CanaryPhase.INITIALIZING})
_ADVANCING = frozenset(
    {
        CanaryPhase.PROGRESSING,
        CanaryPhase.WAITING,
        CanaryPhase.WAITING_PROMOTION,
        CanaryPhase.PROMOTING,
        CanaryPhase.FINALISING,
    }
)
_CONTINUING = frozenset(
    {CanaryPhase.PROGRESSING, CanaryPhase.WAITING_PROMOTION, CanaryPhase.PROMOTING, CanaryPhase.FINALISING}
)
_REVISABLE = frozenset({CanaryPhase.PROGRESSING, CanaryPhase.WAITING_PROMOTION})
#: the primary rolls out the promoted spec: a primary that cannot is a failed promotion, not a failed canary
_PROMOTING = frozenset({CanaryPhase.PROMOTING, CanaryPhase.FINALISING})


@dataclass
class EngineOptions:
    """Operator-wide settings the analysis depends on."""

    mesh_provider: str = "istio"
    cluster_name: str = ""


class Engine:
    """Flagger's scheduler for one operator: advances Canaries one analysis step at a time."""

    def __init__(self, services: Services, make_world: WorldFactory, options: EngineOptions | None = None) -> None:
        self.services = services
        self.make_world = make_world
        self.options = options or EngineOptions()

    async def advance(self, name: str, namespace: str) -> Next:
        """Run one analysis step of the Canary `name` in `namespace`; say when the next one is due. Reading the
        Canary may raise (the caller reports that); nothing after it does: see fault()."""
        canary = await self.services.store.get(name, namespace)
        if canary is None:
            return Next.INTERVAL
        ctx = Context(canary, self.services, self.options.cluster_name, "")
        before = canary.status.phase
        try:
            ctx.canary = canary = effective(canary)
            if canary.spec.suspend:
                await self.services.recorder.event(
                    canary, EventType.NORMAL, "skipping canary run as object is suspended"
                )
                return Next.INTERVAL
            ctx.provider = canary.provider_or(self.options.mesh_provider)
            if not await self._open(ctx):
                return Next.INTERVAL
            await intake.open_queue(ctx)
            await _advance(ctx)
        except Exception as err:  # never silent: a Warning, a counted error and (while analysing) a failed check
            await fault(ctx, err)
        await runlog.flush(ctx, before)
        return ctx.next

    async def terminate(self, name: str, namespace: str) -> tuple[bool, Next]:
        """One step of revertOnDeletion's finalization: (done, when the next step is due)."""
        canary = await self.services.store.get(name, namespace)
        if canary is None:
            return True, Next.INTERVAL
        provider = canary.provider_or(self.options.mesh_provider)
        ctx = Context(canary, self.services, self.options.cluster_name, provider)
        try:
            if not await self._open(ctx):
                return False, Next.INTERVAL
            done = await finalize(ctx)
        except Exception as err:
            await fault(ctx, err)
            return False, Next.INTERVAL
        return done, ctx.next

    async def _open(self, ctx: Context) -> bool:
        """Build the step's World; a PortError (a port that cannot be built) is a Warning and False."""
        try:
            ctx.world = await self.make_world(ctx.canary, ctx.provider)
        except PortError as err:
            await ctx.warn(str(err))
            return False
        return True


async def fault(ctx: Context, err: Exception) -> None:
    """An exception escaped the step: log it with its traceback, count it (serinus_analysis_errors_total
    {reason="step_error"}), count a failed check when the stored Canary is analysing (Progressing or
    WaitingPromotion, where Flagger's threshold rolls it back) and this step has not counted one yet, and record
    a Warning event naming what raised. Each of these is tried on its own: one failing never stops the others."""
    log.error("%s: analysis step failed", ctx.subject, exc_info=err)
    ctx.next = Next.INTERVAL  # never retry a failing step in a tight loop
    try:
        ctx.services.telemetry.count_error(ctx.canary, Reason.STEP_ERROR)
    except Exception:
        log.exception("%s: counting the error failed", ctx.subject)
    if not ctx.failed_check_counted:
        try:
            stored = await ctx.services.store.get(ctx.name, ctx.namespace)
            if stored is not None and stored.status.phase in _REVISABLE:
                now = ctx.services.clock.now()
                await ctx.services.store.update_status(
                    ctx.name, ctx.namespace, lambda c: with_failed_checks(c, c.status.failed_checks + 1, now)
                )
                ctx.failed_check_counted = True
        except Exception:
            log.exception("%s: counting the failed check failed", ctx.subject)
    try:
        await ctx.warn(fault_text(ctx.subject, err))
    except Exception:
        log.exception("%s: recording the Warning event failed", ctx.subject)


async def _advance(ctx: Context) -> None:
    canary, world = ctx.canary, ctx.world
    phase = canary.status.phase
    skip = canary.skip_analysis()
    if not await ctx.attempt(world.services.initialize()):
        return
    if not skip and phase in _INIT:
        problem = await world.metrics.providers_online()
        if problem is None:
            await ctx.info("all the metrics providers are available!")
        else:
            await ctx.warn(f"Error checking metric providers: {problem}")
    appmesh = ctx.provider.startswith("appmesh")
    if appmesh and not await ctx.attempt(world.router.reconcile()):
        return
    try:
        await world.target.initialize()
        if phase in _INIT and not skip:
            ready = await world.target.primary_readiness()
            if not ready.ready:
                ctx.next = Next.PRIMARY_READY
                raise PortError(ready.message, retriable=True)
    except PortError as err:
        await ctx.warn(str(err))
        if not err.retriable:
            await strategies.rollback(ctx)
        return
    if world.scaler is not None:
        if not await ctx.attempt(world.scaler.reconcile_primary(init=True)):
            return
        if phase in _INIT and not await ctx.attempt(world.scaler.pause_target()):
            return
    if not await ctx.attempt(world.services.reconcile()):
        return
    if phase in _INIT:
        ref = canary.spec.target_ref
        try:
            await world.target.scale_to_zero()
        except PortError as err:
            await ctx.warn(f"scaling down canary {ref.kind} {ref.name}.{ctx.namespace} failed: {err}")
            return
    if not appmesh and not await ctx.attempt(world.router.reconcile()):
        return
    if phase in _INIT and not await _initialized(ctx):
        return

    advance = await _should_advance(ctx)
    if advance is None:
        return
    if not advance:
        ctx.services.telemetry.set_status(canary, canary.status.phase)
        return

    if not skip:
        primary = await ctx.readiness(world.target.primary_readiness())
        if primary is None:
            return
        if not primary.ready:
            await ctx.warn(primary.message)
            ctx.next = Next.PRIMARY_READY
            if canary.status.phase in _PROMOTING:
                # Flagger waits here forever; Serinus gives the primary's rollout the Canary's progress deadline
                if not primary.retriable or _promotion_overdue(ctx):
                    ctx.next = Next.INTERVAL
                    await strategies.failed_promotion(ctx, primary.message)
            elif not primary.retriable:
                ctx.next = Next.INTERVAL
                await strategies.rollback(ctx)
            return
        if canary.status.phase in _PROMOTING:
            try:
                restored = await world.target.primary_restored()
            except PortError as err:
                await ctx.warn(str(err))
                return
            if restored:
                # an earlier step restored the primary and could not finish the rollback: finish it, never promote
                await strategies.restored_rollback(ctx)
                return

    try:
        routes = await world.router.get_routes()
    except PortError as err:
        await ctx.warn(str(err))
        return
    ctx.services.telemetry.set_weight(canary, routes.primary, routes.canary)

    # CanaryActions: abort rolls back, pause and resume hold the analysis (Serinus only; see engine/intake.py)
    if await intake.steer(ctx):
        return

    if not await _check_canary_status(ctx):
        return

    if canary.status.phase in _REVISABLE and await _revision_changed(ctx):
        await ctx.info(f"New revision detected! Restarting analysis for {canary.spec.target_ref.name}.{ctx.namespace}")
        if not await ctx.set_routes(TOTAL_WEIGHT, 0, False):
            return
        await ctx.sync(CanaryPhase.PROGRESSING)
        return

    canary_ready = await ctx.readiness(world.target.canary_readiness())
    if canary_ready is None:
        return
    if not canary_ready.ready:
        await ctx.warn(canary_ready.message)
        if canary_ready.cause:
            # Flagger's message says only how many replicas are available; the kubelet's reason (an image that is
            # not there, a crash loop) is what the user needs, in an event of its own so Flagger's stay as they are
            ref = canary.spec.target_ref
            await ctx.warn(
                f"canary {ref.kind.lower()} {ref.name}.{ctx.namespace} cannot become ready: {canary_ready.cause}",
                reason=SerinusReason.CANARY_PODS_FAILING,
            )
        ctx.next = Next.CANARY_READY
        if not canary_ready.retriable:
            ctx.next = Next.INTERVAL
            await strategies.rollback(ctx)
            return
        # Serinus never routes traffic to a version that is not ready (Flagger keeps the weight until the deadline)
        await strategies.withdraw(ctx, routes)
        return

    if skip:
        await strategies.skip_analysis(ctx)
        return

    if canary.status.phase in (
        CanaryPhase.PROGRESSING,
        CanaryPhase.WAITING,
        CanaryPhase.WAITING_PROMOTION,
    ) and rollback_forced(canary):
        await ctx.warn(f"Rolling back {ctx.subject} forced by annotation {FORCE_ROLLBACK}")
        await ctx.alert(f"Rolling back forced by annotation {FORCE_ROLLBACK}", "warn")
        await strategies.rollback(ctx)
        return

    if canary.status.phase in (
        CanaryPhase.PROGRESSING,
        CanaryPhase.WAITING,
        CanaryPhase.WAITING_PROMOTION,
    ) and await checks.rollback_requested(ctx):
        await ctx.warn(f"Rolling back {ctx.subject} manual webhook invoked")
        await ctx.alert("Rolling back manual webhook invoked", "warn")
        await strategies.rollback(ctx)
        return

    if canary.status.phase is CanaryPhase.PROMOTING:
        if world.scaler is not None and not await ctx.attempt(world.scaler.reconcile_primary(init=False)):
            return
        await strategies.promotion_traffic_shift(ctx, routes.primary, routes.canary)
        return

    if canary.status.phase is CanaryPhase.FINALISING:
        await strategies.finalise(ctx)
        return

    # traffic withdrawn from an unready canary goes back to it before anything reads the routes again
    held = await strategies.restore(ctx, routes)
    if held is None:
        return
    routes = held

    if canary.status.phase in intake.HOLDABLE and await intake.promote(ctx):
        return
    if canary.status.phase in intake.HOLDABLE and ctx.paused:
        return  # paused by a CanaryAction: no check, no failed check, no traffic step until resumed

    if canary.status.phase in _REVISABLE and canary.status.failed_checks >= canary.analysis_threshold():
        await strategies.rollback(ctx)
        return

    began = ctx.services.clock.monotonic()
    try:
        await _checks_and_strategy(ctx, routes.primary, routes.canary, routes.mirrored)
    finally:
        ctx.services.telemetry.set_duration(canary, ctx.services.clock.monotonic() - began)


async def _checks_and_strategy(ctx: Context, primary: int, canary_weight: int, mirrored: bool) -> None:
    canary = ctx.canary
    analysis = ctx.analysis
    if canary_weight == 0 and canary.status.iterations == 0 and not (analysis.mirror and mirrored):
        await ctx.info(f"Starting canary analysis for {canary.spec.target_ref.name}.{ctx.namespace}")
        await judged.restart(ctx)
        if not await checks.pre_rollout(ctx):
            await ctx.count_failed_check()
            return
    else:
        config = judged.config_of(ctx)
        if config is not None:
            await judged.analysis(ctx, config, primary, canary_weight, mirrored)
            return
        if not await checks.analysis(ctx):
            await ctx.count_failed_check()
            return
    await strategies.run(ctx, primary, canary_weight, mirrored)


async def _initialized(ctx: Context) -> bool:
    """setPhaseInitialized: sync the status as Initialized, then say so."""
    canary = ctx.canary
    written = await ctx.sync(CanaryPhase.INITIALIZED, report=False)
    if written is None:
        await ctx.warn(f"failed to sync canary {ctx.subject} status")
        return False
    canary.status.phase = CanaryPhase.INITIALIZED
    canary.status.last_applied_spec = written.status.last_applied_spec
    canary.status.tracked_configs = written.status.tracked_configs
    ctx.services.telemetry.set_status(canary, CanaryPhase.INITIALIZED)
    await ctx.info(f"Initialization done! {ctx.subject}")
    await ctx.alert(f"New {canary.spec.target_ref.kind} detected, initialization completed.", "info", metadata=True)
    return True


async def _should_advance(ctx: Context) -> bool | None:
    """True in a running phase or when the target or its configs changed; None after an error (reported)."""
    canary = ctx.canary
    if canary.status.phase in _ADVANCING:
        return True
    try:
        if canary.status.phase is CanaryPhase.FAILED:
            # keeps lastAppliedSpec in step with the target even while failed
            status = canary.status
            await ctx.sync(
                CanaryPhase.FAILED,
                weight=status.canary_weight,
                failed_checks=status.failed_checks,
                iterations=status.iterations,
                report=False,
            )
        if has_spec_changed(canary.status, await ctx.spec_hash()):
            return True
        if has_config_changed(await ctx.tracked_configs(), canary.status.tracked_configs):
            return True
    except PortError as err:
        await ctx.warn(str(err))
        return None
    # a CanaryAction `retry` runs a Failed revision again, as a new revision would, without a spec change
    return canary.status.phase is CanaryPhase.FAILED and await intake.take(ctx, Verb.RETRY) is not None


def _promotion_overdue(ctx: Context) -> bool:
    """Whether the primary has been rolling out the promoted spec for longer than progressDeadlineSeconds: the
    phase was entered at status.lastTransitionTime, and nothing moves that time while the primary is not ready
    (the workload's own deadline condition may come much later, or never when no replica became unavailable)."""
    since = ctx.canary.status.last_transition_time
    if not isinstance(since, dt.datetime):
        return False
    elapsed = (ctx.services.clock.now() - since).total_seconds()
    return elapsed > ctx.canary.progress_deadline_seconds()


async def _revision_changed(ctx: Context) -> bool:
    """hasCanaryRevisionChanged: errors count as no change, as in Flagger."""
    try:
        if has_spec_changed(ctx.canary.status, await ctx.spec_hash()):
            return True
        return has_config_changed(await ctx.tracked_configs(), ctx.canary.status.tracked_configs)
    except PortError:
        return False


async def _check_canary_status(ctx: Context) -> bool:
    """checkCanaryStatus: running phases continue; otherwise a new revision passes confirm-rollout and starts."""
    canary = ctx.canary
    ctx.services.telemetry.set_status(canary, canary.status.phase)
    if canary.status.phase in _CONTINUING:
        return True
    fresh = await ctx.services.store.get(canary.metadata.name or "", ctx.namespace)
    if fresh is None:
        return False
    fresh = effective(fresh)
    ctx.canary = fresh
    if not await checks.confirm_rollout(ctx):
        return False
    progressing = fresh.model_copy(deep=True)
    progressing.status.phase = CanaryPhase.PROGRESSING
    target = f"{fresh.spec.target_ref.name}.{ctx.namespace}"
    await ctx.info(f"New revision detected! Scaling up {target}", on=progressing)
    await ctx.alert("New revision detected, progressing canary analysis.", "info", metadata=True, on=progressing)
    world = ctx.world
    if world.scaler is not None and not await ctx.attempt(world.scaler.resume_target()):
        return False
    if not await ctx.attempt(world.target.scale_from_zero()):
        return False
    if await ctx.sync(CanaryPhase.PROGRESSING, report=False) is None:
        return False
    ctx.services.telemetry.set_status(fresh, CanaryPhase.PROGRESSING)
    ctx.next = Next.CANARY_READY  # the analysis starts once the canary's pods are up
    return False
