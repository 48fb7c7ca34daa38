"""Moving traffic and ending runs: the canary, A/B and blue/green strategies, promotion, rollback and the
skipAnalysis path, each as Flagger's pkg/controller/scheduler.go does it (runCanary, runAB, runBlueGreen,
runPromotionTrafficShift, shouldSkipAnalysis, rollback, handleFailedPromotion)."""

from __future__ import annotations

from serinus.api import Canary, CanaryPhase, DeploymentStrategy
from serinus.engine import checks
from serinus.engine.context import Context
from serinus.engine.ports import Next, PortError, Routes, SerinusReason
from serinus.engine.weights import TOTAL_WEIGHT, advanced, max_weight, next_step_weight, promoted_step

KUBERNETES = "kubernetes"
#: iterations Flagger forces on a kubernetes-provider Canary that asks for progressive traffic
KUBERNETES_ITERATIONS = 10


async def run(ctx: Context, primary: int, canary_weight: int, mirrored: bool) -> None:
    """After the checks passed: move on with the Canary's strategy."""
    if ctx.provider == KUBERNETES:
        await _coerce_for_kubernetes(ctx)
    strategy = ctx.canary.deployment_strategy()
    if strategy is DeploymentStrategy.AB_TESTING:
        await run_ab(ctx)
        return
    if strategy is DeploymentStrategy.BLUE_GREEN:
        await run_blue_green(ctx, mirrored)
        return
    if next_step_weight(ctx.analysis, canary_weight) > 0:
        phase = ctx.canary.status.phase
        gated = phase not in (CanaryPhase.PROMOTING, CanaryPhase.WAITING_PROMOTION, CanaryPhase.FINALISING)
        if not mirrored and gated and not await checks.confirm_traffic_increase(ctx):
            return
        await run_canary(ctx, primary, canary_weight, mirrored)


async def _coerce_for_kubernetes(ctx: Context) -> None:
    """Plain Services cannot split traffic: A/B match is dropped and weights become 10 blue/green iterations
    (for this step only, as in Flagger; the stored spec is untouched)."""
    analysis = ctx.analysis
    if not analysis.match and analysis.iterations >= 1:
        return
    canary = ctx.canary.model_copy(deep=True)
    coerced = canary.analysis_or_default()
    if coerced.match:
        await ctx.warn("A/B testing is not supported when using the kubernetes provider")
        coerced.match = []
    if coerced.iterations < 1:
        await ctx.warn("Progressive traffic is not supported when using the kubernetes provider")
        await ctx.warn(f"Setting canaryAnalysis.iterations: {KUBERNETES_ITERATIONS}")
        coerced.iterations = KUBERNETES_ITERATIONS
    if canary.spec.analysis is None and canary.spec.canary_analysis is None:
        canary.spec.analysis = coerced
    ctx.canary = canary


async def _promote(ctx: Context) -> None:
    """Copy the canary to the primary and enter Promoting."""
    ref = ctx.canary.spec.target_ref
    await ctx.info(f"Copying {ref.name}.{ctx.namespace} template spec to {ref.name}-primary.{ctx.namespace}")
    if not await ctx.attempt(ctx.world.target.promote()):
        return
    if await ctx.set_phase(CanaryPhase.PROMOTING):
        ctx.next = Next.PRIMARY_READY  # traffic moves back once the primary has rolled out


async def run_canary(ctx: Context, primary: int, canary_weight: int, mirrored: bool) -> None:
    """One step of progressive traffic, or promotion once the canary weight reached maxWeight."""
    analysis = ctx.analysis
    if canary_weight < max_weight(analysis):
        step = next_step_weight(analysis, canary_weight)
        if analysis.mirror and canary_weight == 0:
            # one interval of mirroring before any live traffic reaches the canary
            if not mirrored:
                mirrored, primary, canary_weight = True, TOTAL_WEIGHT, 0
            else:
                mirrored, primary, canary_weight = False, TOTAL_WEIGHT - step, step
        else:
            primary, canary_weight = advanced(primary, canary_weight, step)
        if not await ctx.set_routes(primary, canary_weight, mirrored):
            return
        if not await ctx.set_weight(canary_weight):
            return
        ctx.services.telemetry.set_weight(ctx.canary, primary, canary_weight)
        await ctx.info(f"Advance {ctx.subject} canary weight {canary_weight}")
        return
    if not await checks.confirm_promotion(ctx):
        return
    await _promote(ctx)


async def run_ab(ctx: Context) -> None:
    """A/B testing: matching traffic goes to the canary for `iterations` steps, then promotion."""
    wanted, done = ctx.analysis.iterations, ctx.canary.status.iterations
    if wanted > done:
        if not await ctx.set_routes(0, TOTAL_WEIGHT, False):
            return
        ctx.services.telemetry.set_weight(ctx.canary, 0, TOTAL_WEIGHT)
        if not await ctx.set_iterations(done + 1):
            return
        await ctx.info(f"Advance {ctx.subject} canary iteration {done + 1}/{wanted}")
        return
    if not await checks.confirm_promotion(ctx):
        return
    if wanted == done:
        await _promote(ctx)


async def run_blue_green(ctx: Context, mirrored: bool) -> None:
    """Blue/green: `iterations` steps of analysis (mirrored if asked), one step with all traffic on the canary
    (service meshes only), then promotion."""
    analysis = ctx.analysis
    wanted, done = analysis.iterations, ctx.canary.status.iterations
    mesh = ctx.provider != KUBERNETES
    if wanted > done:
        if mesh and analysis.mirror and not mirrored:
            await ctx.set_routes(TOTAL_WEIGHT, 0, True)
        if not await ctx.set_iterations(done + 1):
            return
        await ctx.info(f"Advance {ctx.subject} canary iteration {done + 1}/{wanted}")
        return
    if not await checks.confirm_promotion(ctx):
        return
    if wanted == done:
        if mesh:
            await ctx.info(
                "Stop traffic mirroring and route all traffic to canary"
                if analysis.mirror
                else "Routing all traffic to canary"
            )
            if not await ctx.set_routes(0, TOTAL_WEIGHT, False):
                return
            ctx.services.telemetry.set_weight(ctx.canary, 0, TOTAL_WEIGHT)
            await ctx.set_iterations(done + 1)
            return  # the canary now serves all live traffic for one interval before the primary is updated
        if await ctx.set_iterations(done + 1):
            ctx.next = Next.NOW  # plain Services switch no traffic here: promote at once
        return
    if wanted < done:
        await _promote(ctx)


async def promotion_traffic_shift(ctx: Context, primary: int, canary_weight: int) -> None:
    """Promoting: traffic goes back to the (now updated) primary, at once or by stepWeightPromotion."""
    if ctx.provider == KUBERNETES:
        # plain Services never sent the canary live traffic through the apex: nothing to drain
        if await ctx.set_phase(CanaryPhase.FINALISING):
            ctx.next = Next.NOW
        return
    step = ctx.analysis.step_weight_promotion
    if step == 0:
        await ctx.info("Routing all traffic to primary")
        if not await ctx.set_routes(TOTAL_WEIGHT, 0, False):
            return
        ctx.services.telemetry.set_weight(ctx.canary, TOTAL_WEIGHT, 0)
        if await ctx.set_phase(CanaryPhase.FINALISING):
            ctx.next = Next.DRAIN
        return
    if canary_weight > 0:
        primary, canary_weight = promoted_step(primary, canary_weight, step)
        if not await ctx.set_routes(primary, canary_weight, False):
            return
        ctx.services.telemetry.set_weight(ctx.canary, primary, canary_weight)
        await ctx.info(f"Advance {ctx.subject} primary weight {primary}")
        if primary == TOTAL_WEIGHT:
            if await ctx.set_phase(CanaryPhase.FINALISING):
                ctx.next = Next.DRAIN
        else:
            await ctx.set_weight(canary_weight)


#: phases in which the analysis holds traffic on the canary between steps (Promoting moves it back on its own)
_ANALYSING = frozenset({CanaryPhase.PROGRESSING, CanaryPhase.WAITING_PROMOTION})
ALL_PRIMARY = Routes(TOTAL_WEIGHT, 0, False)


def held_routes(ctx: Context) -> Routes:
    """The live traffic the Canary's status gives the canary between steps: status.canaryWeight for a progressive
    canary, all matching traffic once A/B iterations started, all traffic in blue/green's switch interval (mirrored
    copies are not counted: their answers never reach a client)."""
    canary = ctx.canary
    status, analysis = canary.status, ctx.analysis
    strategy = canary.deployment_strategy()
    if strategy is DeploymentStrategy.AB_TESTING:
        return Routes(0, TOTAL_WEIGHT, False) if status.iterations > 0 else ALL_PRIMARY
    if strategy is DeploymentStrategy.BLUE_GREEN:
        return Routes(0, TOTAL_WEIGHT, False) if status.iterations > analysis.iterations else ALL_PRIMARY
    weight = min(max(status.canary_weight, 0), TOTAL_WEIGHT)
    return Routes(TOTAL_WEIGHT - weight, weight, False)


def _workload(ctx: Context) -> str:
    ref = ctx.canary.spec.target_ref
    return f"canary {ref.kind.lower()} {ref.name}.{ctx.namespace}"


async def withdraw(ctx: Context, routes: Routes) -> None:
    """The canary is not ready (and waiting may help): when it holds live traffic in an analysing phase, route all
    of it to the primary and say so once, under a reason of Serinus's own. Flagger keeps the canary's weight until
    the progress deadline, and some routers fail the whole route over a backend without endpoints (Traefik: "no
    servers found"). status.canaryWeight, failedChecks and the deadline are left as they are; the next steps read
    the routes back as all-primary, so nothing is routed or recorded again while the canary stays unready."""
    if ctx.provider == KUBERNETES or ctx.canary.status.phase not in _ANALYSING or routes.canary <= 0:
        return  # plain Services cannot move traffic; mirrored copies alone do not fail client requests
    if not await ctx.set_routes(TOTAL_WEIGHT, 0, False):
        return
    ctx.services.telemetry.set_weight(ctx.canary, TOTAL_WEIGHT, 0)
    ref = ctx.canary.spec.target_ref
    await ctx.warn(
        f"{_workload(ctx)} is not ready: routed all traffic to {ref.name}-primary.{ctx.namespace} until it is ready",
        reason=SerinusReason.CANARY_TRAFFIC_WITHDRAWN,
    )


async def restore(ctx: Context, routes: Routes) -> Routes | None:
    """The canary is ready: when its live traffic was withdrawn (the routes are all-primary where the status gives
    the canary some), route it back as the status says before the analysis goes on, so that the step starts from
    the canary's weight and never mistakes the run for a new one. The routes the step goes on with; None when the
    router failed (reported)."""
    if ctx.provider == KUBERNETES or ctx.canary.status.phase not in _ANALYSING or routes != ALL_PRIMARY:
        return routes
    held = held_routes(ctx)
    if held.canary <= 0 or ctx.canary.status.failed_checks >= ctx.canary.analysis_threshold():
        return routes  # nothing to give back, or the rollback that follows keeps everything on the primary
    if not await ctx.set_routes(held.primary, held.canary, held.mirrored):
        return None
    ctx.services.telemetry.set_weight(ctx.canary, held.primary, held.canary)
    share = (
        "the matching" if ctx.canary.deployment_strategy() is DeploymentStrategy.AB_TESTING else f"{held.canary}% of"
    )
    await ctx.info(
        f"{_workload(ctx)} is ready: routed {share} traffic back to it",
        reason=SerinusReason.CANARY_TRAFFIC_RESTORED,
    )
    return held


def _as(ctx: Context, phase: CanaryPhase) -> Canary:
    copy = ctx.canary.model_copy(deep=True)
    copy.status.phase = phase
    return copy


async def finalise(ctx: Context) -> None:
    """Finalising: scale the canary down and declare success."""
    world, canary = ctx.world, ctx.canary
    if world.scaler is not None and not await ctx.attempt(world.scaler.pause_target()):
        return
    if not await ctx.attempt(world.target.scale_to_zero()):
        return
    if not await ctx.set_phase(CanaryPhase.SUCCEEDED):
        return
    telemetry = ctx.services.telemetry
    telemetry.set_status(canary, CanaryPhase.SUCCEEDED)
    telemetry.inc_successes(canary, "completed")
    succeeded = _as(ctx, CanaryPhase.SUCCEEDED)
    await checks.post_rollout(ctx, CanaryPhase.SUCCEEDED, succeeded)
    await ctx.info(f"Promotion completed! Scaling down {canary.spec.target_ref.name}.{ctx.namespace}", on=succeeded)
    await ctx.alert("Canary analysis completed successfully, promotion finished.", "info", on=succeeded)


async def skip_analysis(ctx: Context) -> None:
    """skipAnalysis: promote at once, without checks."""
    world, canary = ctx.world, ctx.canary
    if not await ctx.set_routes(TOTAL_WEIGHT, 0, False):
        return
    ctx.services.telemetry.set_weight(canary, TOTAL_WEIGHT, 0)
    ref = canary.spec.target_ref
    await ctx.info(f"Copying {ref.name}.{ctx.namespace} template spec to {ref.name}-primary.{ctx.namespace}")
    if not await ctx.attempt(world.target.promote()):
        return
    if world.scaler is not None:
        if not await ctx.attempt(world.scaler.reconcile_primary(init=False)):
            return
        if not await ctx.attempt(world.scaler.pause_target()):
            return
    if not await ctx.attempt(world.target.scale_to_zero()):
        return
    if not await ctx.set_phase(CanaryPhase.SUCCEEDED):
        return
    telemetry = ctx.services.telemetry
    telemetry.set_status(canary, CanaryPhase.SUCCEEDED)
    telemetry.inc_successes(canary, "skipped")
    succeeded = _as(ctx, CanaryPhase.SUCCEEDED)
    await checks.post_rollout(ctx, CanaryPhase.SUCCEEDED, succeeded)
    await ctx.info(f"Promotion completed! Canary analysis was skipped for {ref.name}.{ctx.namespace}", on=succeeded)
    await ctx.alert("Canary analysis was skipped, promotion finished.", "info", on=succeeded)


async def rollback(ctx: Context) -> None:
    """Send all traffic to the primary, scale the canary down and mark the run Failed."""
    canary, world = ctx.canary, ctx.world
    failed_checks = canary.status.failed_checks
    if failed_checks >= canary.analysis_threshold():
        await ctx.warn(f"Rolling back {ctx.subject} failed checks threshold reached {failed_checks}")
        await ctx.alert(f"Failed checks threshold reached {failed_checks}", "error")
    if not await ctx.set_routes(TOTAL_WEIGHT, 0, False):
        return
    await ctx.warn(f"Canary failed! Scaling down {ctx.subject}", on=_as(ctx, CanaryPhase.FAILED))
    ctx.services.telemetry.set_weight(canary, TOTAL_WEIGHT, 0)
    if world.scaler is not None and not await ctx.attempt(world.scaler.pause_target()):
        return
    if not await ctx.attempt(world.target.scale_to_zero()):
        return
    if await ctx.sync(CanaryPhase.FAILED, report=False) is None:
        return
    ctx.services.telemetry.set_status(canary, CanaryPhase.FAILED)
    ctx.services.telemetry.inc_failures(canary, "completed")
    await checks.post_rollout(ctx, CanaryPhase.FAILED)


async def failed_promotion(ctx: Context, error: str) -> None:
    """The primary cannot roll out the promoted spec within the progress deadline (Serinus only: Flagger stays in
    Promoting). Give the primary back its last good spec, route all traffic to it, scale the canary down and mark
    the run Failed, as a rollback does; without a kept spec, all traffic goes to the canary, the only healthy copy.
    A port that fails leaves the Canary in its phase: the next step tries again."""
    canary, world = ctx.canary, ctx.world
    ref = canary.spec.target_ref
    primary = f"{ref.name}-primary.{ctx.namespace}"
    await ctx.warn(
        f"Promotion of {ref.name}.{ctx.namespace} failed, primary not ready: {error}",
        reason=SerinusReason.PROMOTION_FAILED,
    )
    try:
        restored = await world.target.restore_primary()
    except PortError as err:
        await ctx.warn(str(err))
        return
    if not restored:
        await ctx.alert(f"Promotion failed, primary not ready: {error}", "error")
        if not await ctx.set_routes(0, TOTAL_WEIGHT, False):
            return
        ctx.services.telemetry.set_weight(canary, 0, TOTAL_WEIGHT)
        if await ctx.sync(CanaryPhase.FAILED, weight=TOTAL_WEIGHT, report=False) is None:
            return
        ctx.services.telemetry.set_status(canary, CanaryPhase.FAILED)
        ctx.services.telemetry.inc_failures(canary, "completed")
        await checks.post_rollout(ctx, CanaryPhase.FAILED)
        return
    await ctx.warn(
        f"Restored {primary} to its spec before the promotion, routing all traffic to primary",
        reason=SerinusReason.PRIMARY_RESTORED,
    )
    await ctx.alert(f"Promotion failed, primary not ready: {error}; restored {primary} and rolled back", "error")
    await restored_rollback(ctx)


async def restored_rollback(ctx: Context) -> None:
    """The primary was given back its last good spec: all traffic to it, the canary scaled down, Failed. Also
    called by a later step when one of these failed, so a restored primary is never taken for a promoted one."""
    canary, world = ctx.canary, ctx.world
    if not await ctx.set_routes(TOTAL_WEIGHT, 0, False):
        return
    ctx.services.telemetry.set_weight(canary, TOTAL_WEIGHT, 0)
    await ctx.warn(f"Canary failed! Scaling down {ctx.subject}", on=_as(ctx, CanaryPhase.FAILED))
    if world.scaler is not None and not await ctx.attempt(world.scaler.pause_target()):
        return
    if not await ctx.attempt(world.target.scale_to_zero()):
        return
    if await ctx.sync(CanaryPhase.FAILED, report=False) is None:
        return
    ctx.services.telemetry.set_status(canary, CanaryPhase.FAILED)
    ctx.services.telemetry.inc_failures(canary, "completed")
    await checks.post_rollout(ctx, CanaryPhase.FAILED)
