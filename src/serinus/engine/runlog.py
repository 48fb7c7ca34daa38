"""The end of a step: what it saw and did becomes one LedgerTick for the Ledger port (`engine/ledger.py`)."""

from __future__ import annotations

import logging

from serinus.api import CanaryPhase
from serinus.engine.changes import compute_hash
from serinus.engine.context import Context
from serinus.engine.ledger import ENDED, RESTARTING, RUNNING, LedgerTick
from serinus.engine.ports import PortError

log = logging.getLogger("serinus.engine")


def ledger_tick(ctx: Context, before: CanaryPhase) -> LedgerTick | None:
    """The step as a ledger tick, or None when it was no part of a run (initialization, an idle Canary).

    `before` is the stored phase the step started from. A step belongs to a run when it started or ended in a
    running phase, or ended the run. The revision is the one the step found new (outside a run) or the one under
    analysis (status.lastAppliedSpec, as the step last wrote it)."""
    status = (ctx.written or ctx.canary).status
    after = status.phase
    ended = after in ENDED and after != before
    if before not in RUNNING and after not in RUNNING and not ended:
        return None
    if before not in RUNNING and ctx.seen_hash is not None:
        revision = ctx.seen_hash
        configs = ctx.seen_configs if ctx.seen_configs_read else status.tracked_configs
    else:
        revision, configs = status.last_applied_spec or "", status.tracked_configs
    # a new revision during the analysis (step.py _revision_changed) is the one way a running step changes revision
    restarted = any(r.kind == "event" and r.message.startswith(RESTARTING) for r in ctx.records)
    reason = ""
    if ended:
        wanted = "Warning" if after is CanaryPhase.FAILED else "Normal"
        texts = [r.message for r in ctx.records if r.kind == "event" and r.type == wanted]
        reason = (texts[0] if after is CanaryPhase.FAILED else texts[-1]) if texts else str(after)
    return LedgerTick(
        canary=ctx.name,
        namespace=ctx.namespace,
        uid=ctx.canary.metadata.uid or "",
        revision=revision,
        # the `checksum` webhook payloads carry (engine/changes.py canary_checksum)
        checksum=compute_hash({"TrackedConfigs": configs, "LastAppliedSpec": revision}),
        at=ctx.services.clock.now(),
        phase=str(after),
        weight=status.canary_weight,
        records=tuple(ctx.records),
        ended=str(after) if ended else "",
        reason=reason,
        continues=before in RUNNING and not restarted,
    )


async def flush(ctx: Context, before: CanaryPhase) -> None:
    """Hand the step to the Ledger port; a ledger that fails is logged and never changes the step."""
    try:
        tick = ledger_tick(ctx, before)
        if tick is not None:
            await ctx.services.ledger.write(tick)
    except PortError as err:  # the API server restarting or out of reach: one line, no traceback
        log.warning("%s: writing the run ledger failed: %s", ctx.subject, err)
    except Exception:
        log.exception("%s: writing the run ledger failed", ctx.subject)
