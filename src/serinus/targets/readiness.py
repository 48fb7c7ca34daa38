"""Is a workload's rollout finished? Flagger's rules for Deployments and DaemonSets, ours for StatefulSets.

Each check reads the workload's JSON (as the apiserver returns it) and answers a Readiness: ready, or not ready
with a message in Flagger's words and whether waiting can still help (retriable) or the progress deadline has
passed (not retriable, which makes the engine roll back).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import READY, Readiness

__all__ = ["READY", "Readiness", "daemonset_readiness", "deployment_readiness", "statefulset_readiness"]

Obj = Mapping[str, Any]


def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def threshold_count(count: int, threshold_percent: int) -> int:
    """`int32(float32(count) * float32(threshold)/float32(100))`, computed in float32 exactly as Flagger does.

    The float32 arithmetic matters at the edges: 3 replicas at 33 % need 0 available in Flagger, 10 at 29 % need 2.
    """
    ratio = _f32(_f32(float(threshold_percent)) / _f32(100.0))
    return int(_f32(_f32(float(count)) * ratio))


def _condition(status: Obj, kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return cond  # type: ignore[no-any-return]
    return None


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _generation_observed(obj: Obj) -> bool:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return int(meta.get("generation") or 0) <= int(status.get("observedGeneration") or 0)


def deployment_readiness(dep: Obj, deadline_s: int, threshold_percent: int, now: dt.datetime) -> Readiness:
    """Flagger's isDeploymentReady: generation observed, all replicas updated, old ones gone, enough available."""
    status = dep.get("status") or {}
    if not _generation_observed(dep):
        return Readiness(
            False, True, "waiting for rollout to finish: observed deployment generation less than desired generation"
        )
    retriable = True
    progress = _condition(status, "Progressing")
    if progress is not None:
        available = _condition(status, "Available")
        if (
            available is not None
            and available.get("status") == "False"
            and available.get("reason") == "MinimumReplicasUnavailable"
        ):
            since = _parse_time(available.get("lastUpdateTime"))
            if since is not None:
                retriable = not (since + dt.timedelta(seconds=deadline_s) < now)
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available_n = int(status.get("availableReplicas") or 0)
    wanted = (dep.get("spec") or {}).get("replicas")
    needed = threshold_count(updated, threshold_percent)
    name = (dep.get("metadata") or {}).get("name", "")
    if progress is not None and progress.get("reason") == "ProgressDeadlineExceeded":
        return Readiness(False, False, f'deployment "{name}" exceeded its progress deadline')
    if wanted is not None and updated < int(wanted):
        return Readiness(
            False, retriable, f"waiting for rollout to finish: {updated} out of {wanted} new replicas have been updated"
        )
    if replicas > updated:
        return Readiness(
            False,
            retriable,
            f"waiting for rollout to finish: {replicas - updated} old replicas are pending termination",
        )
    if available_n < needed:
        return Readiness(
            False,
            retriable,
            f"waiting for rollout to finish: {available_n} of {needed} "
            f"(readyThreshold {threshold_percent}%) updated replicas are available",
        )
    return READY


def _deadline_passed(since: dt.datetime | None, deadline_s: int, now: dt.datetime) -> bool:
    return since is not None and since + dt.timedelta(seconds=deadline_s) < now


def _pods_rollout(
    behind: bool,
    updated: int,
    wanted: int,
    available: int,
    needed: int,
    threshold_percent: int,
    late: bool,
    deadline_s: int,
) -> Readiness:
    """The shared tail of the DaemonSet and StatefulSet rules (Flagger's isDaemonSetReady wording)."""
    if not behind and available >= needed:
        return READY
    if late:
        return Readiness(False, False, f"exceeded its progressDeadlineSeconds: {deadline_s}")
    if behind:
        return Readiness(
            False, True, f"waiting for rollout to finish: {updated} out of {wanted} new pods have been updated"
        )
    return Readiness(
        False,
        True,
        f"waiting for rollout to finish: {available} of {needed} "
        f"(readyThreshold {threshold_percent}%) updated pods are available",
    )


def daemonset_readiness(
    ds: Obj, deadline_s: int, threshold_percent: int, now: dt.datetime, last_transition: dt.datetime | None
) -> Readiness:
    """Flagger's isDaemonSetReady; the deadline counts from the Canary's status.lastTransitionTime."""
    if not _generation_observed(ds):
        return Readiness(
            False, True, "waiting for rollout to finish: observed daemonset generation less than desired generation"
        )
    status = ds.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    needed = threshold_count(desired, threshold_percent)
    return _pods_rollout(
        updated < desired,
        updated,
        desired,
        available,
        needed,
        threshold_percent,
        _deadline_passed(last_transition, deadline_s, now),
        deadline_s,
    )


def statefulset_readiness(
    sts: Obj, deadline_s: int, threshold_percent: int, now: dt.datetime, last_transition: dt.datetime | None
) -> Readiness:
    """Our StatefulSet rule, shaped like the DaemonSet one: every replica on the update revision and enough of
    them available; the deadline counts from the Canary's status.lastTransitionTime (StatefulSets have no
    progress-deadline condition of their own)."""
    if not _generation_observed(sts):
        return Readiness(
            False, True, "waiting for rollout to finish: observed statefulset generation less than desired generation"
        )
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    wanted = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas", status.get("readyReplicas")) or 0)
    current_rev, update_rev = status.get("currentRevision"), status.get("updateRevision")
    needed = threshold_count(wanted, threshold_percent)
    behind = updated < wanted or (wanted > 0 and current_rev is not None and current_rev != update_rev)
    return _pods_rollout(
        behind,
        updated,
        wanted,
        available,
        needed,
        threshold_percent,
        _deadline_passed(last_transition, deadline_s, now),
        deadline_s,
    )
