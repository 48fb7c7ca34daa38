"""Actions on a release that survive GitOps: `serinus promote / abort / pause / resume / retry / approve / reject`.

Each is a CanaryAction object (serinus.io/v1alpha1) in the Canary's namespace, never an edit of the Canary's spec
(which a GitOps tool would revert). The API server stamps and checks who asks (a ValidatingAdmissionPolicy:
`spec.requestedBy` must be the requester, who must hold the action's verb on the Canary); the operator applies each
action exactly once, oldest first, and only to the revision its requester saw.

This module is pure data and rules: which pending action comes next, whether it is stale, expired or cannot apply
in the Canary's phase, and the words of its outcome. engine/intake.py applies them during a step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from serinus.api import Canary, CanaryPhase

API_VERSION = "serinus.io/v1alpha1"
KIND = "CanaryAction"


class Verb(StrEnum):
    """What an action asks; also the custom RBAC verb on `canaries.flagger.app` that allows it."""

    PROMOTE = "promote"
    ABORT = "abort"
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    APPROVE = "approve"
    REJECT = "reject"


class Outcome(StrEnum):
    """status.phase of a settled action; an action without one is pending."""

    APPLIED = "Applied"
    REJECTED = "Rejected"
    EXPIRED = "Expired"


#: the phases in which a release is being analysed: where promote, abort and pause apply (Flagger's manual
#: rollback applies in the same ones)
ANALYSING = frozenset({CanaryPhase.PROGRESSING, CanaryPhase.WAITING, CanaryPhase.WAITING_PROMOTION})
#: the phases each verb applies in
APPLIES_IN: dict[Verb, frozenset[CanaryPhase]] = {
    Verb.PROMOTE: ANALYSING,
    Verb.ABORT: ANALYSING,
    Verb.PAUSE: ANALYSING,
    Verb.RESUME: ANALYSING,
    Verb.RETRY: frozenset({CanaryPhase.FAILED}),
}


@dataclass(frozen=True)
class Action:
    """One CanaryAction as the engine sees it."""

    name: str
    namespace: str
    canary: str
    verb: Verb
    #: the Canary's status.lastAppliedSpec when the requester asked: the action applies to that revision only
    revision: str
    requested_by: str
    reason: str
    created: dt.datetime
    expires: dt.datetime | None = None
    groups: tuple[str, ...] = ()
    #: promote --full: straight to full weight, then promotion
    full: bool = False
    #: status.phase ("" while pending) and status.message
    outcome: str = ""
    message: str = ""

    @property
    def who(self) -> str:
        """`<verb> by <user>: <reason>`, the words events, alerts and the ledger use."""
        text = f"{self.verb} by {self.requested_by}"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True)
class Settle:
    """A pending action the step cannot apply: settle it with `outcome` and `message`."""

    action: Action
    outcome: Outcome
    message: str


def order(actions: list[Action]) -> list[Action]:
    """Actions in the order they are applied: by creation time, then by name (names are generated in order)."""
    return sorted(actions, key=lambda a: (a.created, a.name))


def paused(actions: list[Action], revision: str) -> bool:
    """Whether the last applied pause or resume of `revision` was a pause: a pause holds until a resume or the
    next revision."""
    held = False
    for action in order(actions):
        if action.outcome == Outcome.APPLIED and action.revision == revision:
            if action.verb is Verb.PAUSE:
                held = True
            elif action.verb is Verb.RESUME:
                held = False
    return held


def refusal(action: Action, canary: Canary, now: dt.datetime, held: bool) -> Settle | None:
    """Why `action` cannot apply to `canary` now (expired, another revision, a phase it does not apply in), or None
    when it can."""
    if action.expires is not None and now >= action.expires:
        return Settle(action, Outcome.EXPIRED, f"expired at {_stamp(action.expires)} before it could be applied")
    current = canary.status.last_applied_spec or ""
    if action.revision != current:
        return Settle(
            action,
            Outcome.REJECTED,
            f"stale: requested for revision {action.revision or '(none)'}, the canary is at revision "
            f"{current or '(none)'}",
        )
    phases = APPLIES_IN.get(action.verb)
    if phases is None:
        return Settle(action, Outcome.REJECTED, f"{action.verb} is not supported by this operator yet")
    phase = canary.status.phase
    if phase not in phases:
        wanted = ", ".join(sorted(str(p) for p in phases))
        return Settle(action, Outcome.REJECTED, f"cannot {action.verb} a canary in phase {phase} (only {wanted})")
    if action.verb is Verb.PAUSE and held:
        return Settle(action, Outcome.REJECTED, "the analysis is already paused")
    if action.verb is Verb.RESUME and not held:
        return Settle(action, Outcome.REJECTED, "the analysis is not paused")
    return None


def next_action(actions: list[Action], canary: Canary, now: dt.datetime) -> tuple[list[Settle], Action | None]:
    """The pending actions of one Canary that cannot apply (to settle at once) and the oldest one that can.

    Only the head of the queue is ever applied: actions behind it wait for a later step, so they apply in order
    and each is judged against the Canary as the ones before it left it."""
    held = paused(actions, canary.status.last_applied_spec or "")
    settled: list[Settle] = []
    for action in order(actions):
        if action.outcome:
            continue
        refused = refusal(action, canary, now, held)
        if refused is None:
            return settled, action
        settled.append(refused)
    return settled, None


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_action(doc: dict[str, Any]) -> Action | None:
    """A CanaryAction object as an Action; None when it is not one this operator understands (an unknown verb or no
    Canary: it is left alone)."""
    meta, spec, status = _dict(doc.get("metadata")), _dict(doc.get("spec")), _dict(doc.get("status"))
    ref = _dict(spec.get("canaryRef"))
    try:
        verb = Verb(str(spec.get("action") or ""))
    except ValueError:
        return None
    created = _time(meta.get("creationTimestamp"))
    if not ref.get("name") or created is None:
        return None
    groups = spec.get("groups")
    return Action(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        canary=str(ref["name"]),
        verb=verb,
        revision=str(spec.get("revision") or ""),
        requested_by=str(spec.get("requestedBy") or ""),
        reason=str(spec.get("reason") or ""),
        created=created,
        expires=_time(spec.get("expiresAt")),
        groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
        full=bool(spec.get("full")),
        outcome=str(status.get("phase") or ""),
        message=str(status.get("message") or ""),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
