"""CanaryActions during a step: read the queue once, settle what cannot apply, apply the head where it belongs.

`open_queue` runs at the start of a step: stale, expired and impossible actions are settled there (Rejected or
Expired, a Warning event with reason ActionRejected); the oldest action that can apply is kept in `ctx.action`.
The step then `take`s it at the point where its verb acts (step.py): the action is settled Applied first, with an
optimistic-concurrency write, so a second operator (or a retried step) can never apply it twice; an action whose
point the step does not reach stays pending for the next step.
"""

from __future__ import annotations

import logging

from serinus.api import CanaryPhase
from serinus.engine import strategies
from serinus.engine.actions import Action, Outcome, Settle, Verb, next_action, paused
from serinus.engine.context import Context
from serinus.engine.ledger import Record
from serinus.engine.ports import EventType, Next, PortError, SerinusReason
from serinus.engine.weights import TOTAL_WEIGHT

log = logging.getLogger("serinus.engine")
#: the phases in which abort, pause and promote act (Flagger's manual rollback acts in the same ones)
HOLDABLE = frozenset({CanaryPhase.PROGRESSING, CanaryPhase.WAITING, CanaryPhase.WAITING_PROMOTION})


async def open_queue(ctx: Context) -> None:
    """Read the Canary's actions, settle the ones that cannot apply, keep the head that can in `ctx.action`.
    A failure to read them is logged and leaves the step as it would be without actions."""
    try:
        actions = await ctx.services.actions.of(ctx.canary)
    except PortError as err:  # the API server restarting or out of reach: one line, no traceback
        log.warning("%s: reading CanaryActions failed: %s", ctx.subject, err)
        return
    except Exception:  # actions are extra: never a failed check or a Warning on Flagger's event stream
        log.exception("%s: reading CanaryActions failed", ctx.subject)
        return
    ctx.paused = paused(actions, ctx.canary.status.last_applied_spec or "")
    settles, head = next_action(actions, ctx.canary, ctx.services.clock.now())
    for settle in settles:
        await _refuse(ctx, settle)
    ctx.action = head


async def _refuse(ctx: Context, settle: Settle) -> None:
    action = settle.action
    if not await _settle(ctx, action, settle.outcome, settle.message):
        return
    ctx.keep(_record(action, settle.outcome, settle.message))
    text = f"{action.verb} by {action.requested_by} {settle.outcome.lower()}: {settle.message}"
    await ctx.services.recorder.event(ctx.canary, EventType.WARNING, text, SerinusReason.ACTION_REJECTED)


async def _settle(ctx: Context, action: Action, outcome: Outcome, message: str) -> bool:
    try:
        return await ctx.services.actions.settle(action, outcome.value, message)
    except PortError as err:
        log.warning("%s: settling CanaryAction %s failed: %s", ctx.subject, action.name, err)
        return False
    except Exception:  # unsettled, so unapplied: the next step tries again
        log.exception("%s: settling CanaryAction %s failed", ctx.subject, action.name)
        return False


def _record(action: Action, outcome: Outcome, message: str) -> Record:
    """The ledger's record of an action: `name` the verb, `type` who asked, `verdict` the outcome, `message` why
    (the requester's reason, or why it was not applied)."""
    why = action.reason if outcome is Outcome.APPLIED else message
    return Record("action", name=action.verb.value, type=action.requested_by, verdict=outcome.value, message=why)


async def take(ctx: Context, verb: Verb) -> Action | None:
    """The pending action when it is a `verb`, settled Applied (an Event with reason ActionApplied and a ledger
    record); None when there is none or another writer settled it first."""
    action = ctx.action
    if action is None or action.verb is not verb:
        return None
    ctx.action = None
    status = ctx.canary.status
    message = f"applied to revision {status.last_applied_spec} in phase {status.phase}"
    if not await _settle(ctx, action, Outcome.APPLIED, message):
        return None
    ctx.keep(_record(action, Outcome.APPLIED, message))
    await ctx.services.recorder.event(
        ctx.canary, EventType.NORMAL, f"{action.who} ({ctx.subject})", SerinusReason.ACTION_APPLIED
    )
    return action


async def steer(ctx: Context) -> bool:
    """abort, pause and resume, early in an analysing step (before the canary's readiness, so a canary that never
    becomes ready can still be aborted). True when the step is done (rolled back)."""
    if ctx.canary.status.phase not in HOLDABLE:
        return False
    if await take(ctx, Verb.PAUSE) is not None:
        ctx.paused = True
    if await take(ctx, Verb.RESUME) is not None:
        ctx.paused = False
    action = await take(ctx, Verb.ABORT)
    if action is None:
        return False
    await ctx.alert(f"Rolling back: {action.who}", "warn")
    await strategies.rollback(ctx)
    return True


async def promote(ctx: Context) -> bool:
    """promote: skip the rest of the analysis (checks, gates, traffic steps) and copy the canary to the primary;
    --full first routes all traffic to the canary. True when the step is done."""
    action = await take(ctx, Verb.PROMOTE)
    if action is None:
        return False
    await ctx.alert(f"Promoting: {action.who}", "info")
    if action.full and not await ctx.set_routes(0, TOTAL_WEIGHT, False):
        return True
    ref = ctx.canary.spec.target_ref
    await ctx.info(f"Copying {ref.name}.{ctx.namespace} template spec to {ref.name}-primary.{ctx.namespace}")
    if not await ctx.attempt(ctx.world.target.promote()):
        return True
    if await ctx.set_phase(CanaryPhase.PROMOTING):
        ctx.next = Next.PRIMARY_READY  # traffic moves back once the primary has rolled out
    return True
