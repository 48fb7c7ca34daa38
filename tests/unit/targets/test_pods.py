"""Why a canary's pods are not ready, as the kubelet and the scheduler report it (pod statuses as the API server
returns them on the real node), in the words of Serinus's CanaryPodsFailing event."""

from __future__ import annotations

from typing import Any

from serinus.targets.pods import pod_cause, pods_cause


def _pod(
    name: str, *, state: dict[str, Any], last: dict[str, Any] | None = None, ready: bool = False
) -> dict[str, Any]:
    status = {"name": "podinfo", "state": state, "lastState": last or {}, "ready": ready, "restartCount": 0}
    return {"metadata": {"name": name}, "status": {"containerStatuses": [status]}}


NEVER_PULL = {
    "waiting": {
        "reason": "ErrImageNeverPull",
        "message": 'Container image "localhost/podinfo:absent" is not present with pull policy of Never',
    }
}
CRASHED = {"terminated": {"exitCode": 2, "reason": "Error"}}


def test_an_image_that_is_not_present_is_named_with_the_kubelets_reason_and_message() -> None:
    """ErrImageNeverPull comes out with the kubelet's own message, naming the pod and the container."""
    assert pod_cause(_pod("podinfo-abc", state=NEVER_PULL)) == (
        "pod podinfo-abc container podinfo: ErrImageNeverPull: "
        'Container image "localhost/podinfo:absent" is not present with pull policy of Never'
    )


def test_a_crash_loop_says_how_the_container_last_exited() -> None:
    """CrashLoopBackOff is told with the last exit code (its own message only names the back-off delay), and so are
    the moments between restarts, while it runs again or has just exited."""
    back_off = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}}
    assert pod_cause(_pod("p", state=back_off, last=CRASHED)) == (
        "pod p container podinfo: CrashLoopBackOff, last exit code 2 (Error)"
    )
    assert pod_cause(_pod("p", state=CRASHED)) == "pod p container podinfo: Terminated, exit code 2 (Error)"
    running = {"running": {"startedAt": "2026-12-07T17:00:00Z"}}
    assert (
        pod_cause(_pod("p", state=running, last=CRASHED))
        == "pod p container podinfo: restarted, last exit code 2 (Error)"
    )


def test_starting_ready_and_terminating_pods_have_no_cause() -> None:
    """A pod on its way up, a ready one, and one of an old ReplicaSet being deleted say nothing."""
    assert pod_cause(_pod("p", state={"waiting": {"reason": "ContainerCreating"}})) == ""
    assert pod_cause(_pod("p", state={"running": {}}, ready=True)) == ""
    assert pod_cause(_pod("p", state={"running": {}})) == ""  # unready without a restart: a readiness probe
    gone = _pod("p", state=NEVER_PULL)
    gone["metadata"]["deletionTimestamp"] = "2026-12-07T17:00:00Z"
    assert pod_cause(gone) == ""


def test_an_unschedulable_pod_carries_the_schedulers_message() -> None:
    """A pod the scheduler cannot place is named with PodScheduled's reason and message."""
    pod = {
        "metadata": {"name": "p"},
        "status": {
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient cpu.",
                }
            ]
        },
    }
    assert pod_cause(pod) == "pod p: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."


def test_pods_failing_alike_are_named_once() -> None:
    """Replicas failing the same way give one cause (the first pod by name); different failures are all named."""
    pods = [_pod("podinfo-b", state=NEVER_PULL), _pod("podinfo-a", state=NEVER_PULL), _pod("podinfo-c", state=CRASHED)]
    assert pods_cause(pods) == (
        "pod podinfo-a container podinfo: ErrImageNeverPull: "
        'Container image "localhost/podinfo:absent" is not present with pull policy of Never; '
        "pod podinfo-c container podinfo: Terminated, exit code 2 (Error)"
    )
    assert pods_cause([]) == ""
