"""revertOnDeletion: give the workload and its Services back to the user when the Canary is deleted (Flagger's
pkg/controller/finalizer.go finalize), one step at a time so a slow rollout never blocks the operator."""

from __future__ import annotations

from serinus.api import CanaryPhase
from serinus.engine.context import Context
from serinus.engine.ports import Next, PortError

FINALIZER = "finalizer.flagger.app"


async def finalize(ctx: Context) -> bool:
    """One step of finalization; True once the target serves again, the Services are reverted and the
    finalizer is gone (the apiserver then deletes the Canary). False: call again (ctx.next says when)."""
    canary, world = ctx.canary, ctx.world
    if canary.status.phase is not CanaryPhase.TERMINATING:
        await ctx.set_phase(CanaryPhase.TERMINATING)
        await ctx.info(f"Terminating canary {ctx.subject}")
    if world.scaler is not None and not await ctx.attempt(world.scaler.resume_target()):
        return False
    if not await ctx.attempt(world.target.finalize()):
        return False
    ready = await ctx.readiness(world.target.canary_readiness())
    if ready is None:
        return False
    if not ready.ready:
        # the target must serve again before the Services point back at it
        await ctx.warn(f"canary not ready during finalizing: {ready.message}")
        ctx.next = Next.CANARY_READY
        return False
    if not await ctx.attempt(world.services.finalize()):
        return False
    if not await ctx.attempt(world.router.finalize()):
        return False
    # Said before the finalizer goes: once it is gone the Canary is deleted at once and the operator stops its
    # job, which may cancel this very step (Flagger says it after; the words and their order are the same).
    await ctx.info(f"Terminated canary {ctx.subject}")
    try:
        await ctx.services.store.set_finalizer(ctx.name, ctx.namespace, FINALIZER, present=False)
    except PortError as err:
        await ctx.warn(str(err))
        return False
    return True
