"""Why a workload's pods are not ready, as the kubelet and the scheduler say it: a container waiting with a reason
(ErrImageNeverPull, ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError, ...), one that exited, or a pod
the scheduler cannot place.

Flagger's readiness messages only count available replicas; these causes go into a Warning event of Serinus's own
(reason `CanaryPodsFailing`), so a user sees at once that the image is missing or the container keeps exiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = Mapping[str, Any]

#: waiting reasons every pod passes through on its way up: not a cause
_STARTING = frozenset({"ContainerCreating", "PodInitializing"})
#: at most this many distinct causes are named (one pod's is usually every pod's)
_MAX_CAUSES = 3


def _exit(terminated: Obj) -> str:
    code = terminated.get("exitCode")
    why = terminated.get("reason") or ""
    return f"exit code {code}" + (f" ({why})" if why else "")


def _container_cause(status: Obj) -> str:
    """What keeps one container from ready, "" when nothing is wrong that waiting will not fix."""
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated")
    waiting = state.get("waiting")
    if waiting is not None:
        reason = str(waiting.get("reason") or "")
        if not reason or reason in _STARTING:
            return ""
        if last:
            # a crash loop: the waiting message only names the back-off delay, the last exit says why
            return f"{reason}, last {_exit(last)}"
        message = str(waiting.get("message") or "")
        return f"{reason}: {message}" if message else reason
    terminated = state.get("terminated")
    if terminated is not None and terminated.get("exitCode") not in (0, None):
        return f"Terminated, {_exit(terminated)}"
    if state.get("running") is not None and last and not status.get("ready"):
        # restarted and running again, not ready yet: say how it ended last time, the loop is not over
        return f"restarted, last {_exit(last)}"
    return ""


def pod_cause(pod: Obj) -> str:
    """Why one pod is not ready, naming the pod and the container; "" when it is ready or merely starting."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    name = str(meta.get("name") or "")
    if meta.get("deletionTimestamp"):
        return ""  # terminating pods of an older ReplicaSet say nothing about the new version
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("reason"):
            return f"pod {name}: {cond['reason']}: {cond.get('message') or ''}".rstrip(": ")
    for kind in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(kind) or []:
            cause = _container_cause(container)
            if cause:
                return f"pod {name} container {container.get('name')}: {cause}"
    return ""


def pods_cause(pods: Iterable[Obj]) -> str:
    """The causes of the pods that are not ready, distinct ones only, in pod name order, joined with "; "."""
    causes: list[str] = []
    seen: set[str] = set()
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name") or "")):
        cause = pod_cause(pod)
        # pods of one ReplicaSet fail alike: compare without the pod's name
        key = cause.split(":", 1)[-1] if cause.startswith("pod ") else cause
        if cause and key not in seen:
            seen.add(key)
            causes.append(cause)
    return "; ".join(causes[:_MAX_CAUSES])
