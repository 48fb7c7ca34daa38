"""Status changes, each as Flagger's status setters make them (pkg/canary/status.go), as pure functions.

Each takes the Canary as stored now and returns its new status; the Store port applies it (re-reading and
retrying on conflict), so concurrent writers never lose each other's fields.
"""

from __future__ import annotations

import datetime as dt

from serinus.api import Canary, CanaryPhase, CanaryStatus
from serinus.api.judge import JudgeStatus
from serinus.api.status import make_promoted_conditions

#: phases in which setStatusPhase keeps the weight and iterations
_KEEPS_PROGRESS = frozenset({CanaryPhase.PROGRESSING, CanaryPhase.WAITING, CanaryPhase.PROMOTING})


def _kind(canary: Canary) -> str:
    return str(canary.spec.target_ref.kind)


def _with_conditions(canary: Canary, status: CanaryStatus, phase: CanaryPhase, now: dt.datetime) -> None:
    conditions = make_promoted_conditions(canary.status.conditions, phase, _kind(canary), now)
    if conditions is not None:
        status.conditions = conditions


def synced(
    canary: Canary,
    *,
    phase: CanaryPhase,
    spec_hash: str,
    tracked: dict[str, str] | None,
    now: dt.datetime,
    canary_weight: int = 0,
    failed_checks: int = 0,
    iterations: int = 0,
) -> CanaryStatus:
    """SyncStatus: phase and counters as given, lastAppliedSpec and trackedConfigs from the target now.

    lastPromotedSpec moves only on Initialized (promotion moves it through `with_phase(Succeeded)`).
    """
    status = canary.status.model_copy(deep=True)
    status.phase = phase
    status.canary_weight = canary_weight
    status.failed_checks = failed_checks
    status.iterations = iterations
    status.last_applied_spec = spec_hash
    if phase is CanaryPhase.INITIALIZED:
        status.last_promoted_spec = spec_hash
    status.last_transition_time = now
    status.tracked_configs = tracked
    _with_conditions(canary, status, phase, now)
    return status


def with_phase(canary: Canary, phase: CanaryPhase, now: dt.datetime) -> CanaryStatus:
    """SetStatusPhase: outside Progressing, Waiting and Promoting the weight and iterations reset (waiting for
    promotion keeps iterations one short of the spec, so the analysis goes on while the gate holds); reaching
    Initialized or Succeeded makes the applied spec the promoted one."""
    status = canary.status.model_copy(deep=True)
    status.phase = phase
    status.last_transition_time = now
    if phase not in _KEEPS_PROGRESS:
        status.canary_weight = 0
        status.iterations = 0
        if phase is CanaryPhase.WAITING_PROMOTION:
            status.iterations = canary.analysis_or_default().iterations - 1
    if phase in (CanaryPhase.INITIALIZED, CanaryPhase.SUCCEEDED):
        status.last_promoted_spec = canary.status.last_applied_spec
    _with_conditions(canary, status, phase, now)
    return status


def with_initializing(canary: Canary, now: dt.datetime) -> CanaryStatus | None:
    """What the sync handler writes to a new Canary: phase Initializing and its condition (None when set)."""
    conditions = make_promoted_conditions(canary.status.conditions, CanaryPhase.INITIALIZING, _kind(canary), now)
    if conditions is None:
        return None
    status = canary.status.model_copy(deep=True)
    status.conditions = conditions
    status.last_transition_time = now
    status.phase = CanaryPhase.INITIALIZING
    return status


def with_weight(canary: Canary, weight: int, now: dt.datetime) -> CanaryStatus:
    """SetStatusWeight."""
    return canary.status.model_copy(update={"canary_weight": weight, "last_transition_time": now}, deep=True)


def with_failed_checks(canary: Canary, failed_checks: int, now: dt.datetime) -> CanaryStatus:
    """SetStatusFailedChecks."""
    return canary.status.model_copy(update={"failed_checks": failed_checks, "last_transition_time": now}, deep=True)


def with_iterations(canary: Canary, iterations: int, now: dt.datetime) -> CanaryStatus:
    """SetStatusIterations."""
    return canary.status.model_copy(update={"iterations": iterations, "last_transition_time": now}, deep=True)


def with_judge(canary: Canary, judge: JudgeStatus | None) -> CanaryStatus:
    """status.judge replaced (None removes it); the rest of the status as stored."""
    return canary.status.model_copy(update={"judge": judge}, deep=True)
