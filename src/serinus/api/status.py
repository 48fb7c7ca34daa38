"""Canary status: phases, the `Promoted` condition, and the status of MetricTemplates and AlertProviders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

from pydantic import Field

from serinus.api.base import ApiModel, Number, Time
from serinus.api.judge import JudgeStatus


class CanaryPhase(StrEnum):
    """Where a Canary is in its release cycle (`status.phase`)."""

    UNSET = ""
    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    PROGRESSING = "Progressing"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


#: Phases in which a release is under way (Flagger's shouldAdvance without a change).
ACTIVE_PHASES = frozenset(
    {
        CanaryPhase.PROGRESSING,
        CanaryPhase.WAITING,
        CanaryPhase.WAITING_PROMOTION,
        CanaryPhase.PROMOTING,
        CanaryPhase.FINALISING,
    }
)


class ConditionStatus(StrEnum):
    """Status of a condition, as Kubernetes spells it."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class CanaryConditionType(StrEnum):
    """Condition types a Canary carries; Flagger writes only Promoted."""

    PROMOTED = "Promoted"


class CanaryCondition(ApiModel):
    """One condition of a Canary (`status.conditions[]`)."""

    # Plain strings, not enums: Flagger's CRD does not restrict them, so neither may the model.
    type: str = Field(description="Type of the condition: Promoted.")
    status: str = Field(description="True, False or Unknown.")
    last_update_time: Time | None = Field(default=None, description="When the condition was last written.")
    last_transition_time: Time | None = Field(default=None, description="When the status last changed.")
    reason: str = Field(description="The phase that set the condition.")
    message: str = Field(default="", description="What happened, for people.")


class CanaryStatus(ApiModel):
    """What Serinus last observed and did (`status`)."""

    phase: CanaryPhase = Field(default=CanaryPhase.UNSET, description="Current phase.")
    failed_checks: Number = Field(default=0, description="Failed checks in the current run.")
    canary_weight: Number = Field(default=0, description="Traffic weight last routed to the canary.")
    iterations: Number = Field(default=0, description="Checks done in the current A/B or blue/green run.")
    tracked_configs: dict[str, str] | None = Field(
        default=None, description="configmap/<name> or secret/<name> -> checksum of the data last seen."
    )
    last_applied_spec: str = Field(default="", description="Hash of the target spec at the last sync.")
    last_promoted_spec: str = Field(default="", description="Hash of the last promoted target spec.")
    last_transition_time: Time | None = Field(default=None, description="When the status was last written.")
    session_affinity_cookie: str = Field(default="", description="Canary cookie of the current run (name=value).")
    primary_session_affinity_cookie: str = Field(default="", description="Primary cookie of the current run.")
    previous_session_affinity_cookie: str = Field(default="", description="Canary cookie of the previous run.")
    conditions: list[CanaryCondition] = Field(default_factory=list, description="Conditions; Promoted only.")
    judge: JudgeStatus | None = Field(default=None, description="Serinus: the statistical judge's evidence.")

    def condition(self, condition_type: CanaryConditionType) -> CanaryCondition | None:
        """The condition of that type, if any."""
        return next((c for c in self.conditions if c.type == condition_type), None)


def promoted_status(phase: CanaryPhase, kind: str) -> tuple[ConditionStatus, str]:
    """The Promoted condition's status and message for a phase of a target of this kind (MakeStatusConditions)."""
    table: dict[CanaryPhase, tuple[ConditionStatus, str]] = {
        CanaryPhase.INITIALIZED: (ConditionStatus.TRUE, f"{kind} initialization completed."),
        CanaryPhase.WAITING: (ConditionStatus.UNKNOWN, "Waiting for approval."),
        CanaryPhase.WAITING_PROMOTION: (ConditionStatus.UNKNOWN, "Waiting for approval."),
        CanaryPhase.PROGRESSING: (ConditionStatus.UNKNOWN, "New revision detected, progressing canary analysis."),
        CanaryPhase.PROMOTING: (ConditionStatus.UNKNOWN, "Canary analysis completed, starting primary rolling update."),
        CanaryPhase.FINALISING: (ConditionStatus.UNKNOWN, "Canary analysis completed, routing all traffic to primary."),
        CanaryPhase.SUCCEEDED: (ConditionStatus.TRUE, "Canary analysis completed successfully, promotion finished."),
        CanaryPhase.FAILED: (ConditionStatus.FALSE, f"Canary analysis failed, {kind} scaled to zero."),
    }
    # Initializing, Terminating, Terminated and "" all get the initialization message, as in Flagger.
    return table.get(phase, (ConditionStatus.UNKNOWN, f"New {kind} detected, starting initialization."))


def make_promoted_conditions(
    current: Sequence[CanaryCondition], phase: CanaryPhase, kind: str, now: dt.datetime
) -> list[CanaryCondition] | None:
    """The new conditions for a phase change, or None when they must stay as they are.

    Unchanged when the current Promoted condition has the same status and reason; when only the status is the
    same its lastTransitionTime is kept.
    """
    status, message = promoted_status(phase, kind)
    existing = next((c for c in current if c.type == CanaryConditionType.PROMOTED), None)
    if existing is not None and existing.status == status and existing.reason == phase.value:
        return None
    transition = now
    if existing is not None and existing.status == status and existing.last_transition_time is not None:
        transition = existing.last_transition_time
    return [
        CanaryCondition(
            type=CanaryConditionType.PROMOTED,
            status=status,
            last_update_time=now,
            last_transition_time=transition,
            reason=phase.value,
            message=message,
        )
    ]


class ObjectCondition(ApiModel):
    """A condition of a MetricTemplate or AlertProvider (declared by Flagger, never written by it)."""

    type: str = Field(description="Type of the condition.")
    status: str = Field(description="True, False or Unknown.")
    last_update_time: Time | None = Field(default=None, description="When the condition was last written.")
    last_transition_time: Time | None = Field(default=None, description="When the status last changed.")
    reason: str = Field(default="", description="Machine-readable reason.")
    message: str = Field(default="", description="What happened, for people.")


class ObjectStatus(ApiModel):
    """Status of a MetricTemplate or AlertProvider."""

    conditions: list[ObjectCondition] = Field(default_factory=list, description="Conditions of the object.")
