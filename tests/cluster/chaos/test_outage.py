"""kube-apiserver and etcd SIGKILLed and restarted in the middle of a release run by two `serinus run` replicas
with leader election: the leader rides each outage out (it is shorter than the renew deadline), nobody takes
the Lease over, no process exits, and the release ends Succeeded without an unsafe state. An outage longer than
the renew deadline makes the leader step down cleanly (exit 1, "Leadership lost", no traceback) before its Lease
expires; a new process then takes over and finishes the release."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lightkube import Client, codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease

from serinus.runtime.operator import LEASE_NAME
from tests.cluster.chaos.eventlog import EventLog, check
from tests.cluster.chaos.release import IMAGE_1, IMAGE_2, new_namespace
from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import pod_spec, present

pytestmark = pytest.mark.cluster
#: the outages below last about 6-8 s (down for OUTAGE_S, then the restart until /readyz)
OUTAGE_S = 3.0
RIDE_OUT = ["--enable-leader-election", "--lease-duration=25s", "--renew-deadline=15s", "--retry-period=1s"]
STEP_DOWN = ["--enable-leader-election", "--lease-duration=8s", "--renew-deadline=4s", "--retry-period=0.5s"]


def _grant_leases(cluster: Cluster, ns: str) -> None:
    """The chart's leader-election Role and binding for a Lease in `ns` (the operator watches `ns`)."""
    for doc in cluster.helm_template("--set", f"namespace={ns}", "--set", "leaderElection.enabled=true"):
        if doc["kind"] in ("Role", "RoleBinding"):
            cluster.client().apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)


def _lease(client: Client) -> tuple[str, int]:
    spec = present(client.get(Lease, LEASE_NAME).spec)
    return str(spec.holderIdentity or ""), int(spec.leaseTransitions or 0)


def _outage(cluster: Cluster, component: str) -> float:
    """SIGKILL a component, leave it down for OUTAGE_S, start it again; the seconds the API was unusable."""
    t0 = time.monotonic()
    cluster.plane.stop_component(component)
    time.sleep(OUTAGE_S)
    cluster.plane.start_component(component)
    return time.monotonic() - t0


def _release(cluster: Cluster, ns: str, iterations: int) -> Client:
    client = cluster.client(namespace=ns)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "iterations": iterations}))
    return client


def _set_image(client: Client) -> None:
    client.patch(
        Deployment, "web", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": IMAGE_2}]}}}}
    )


@contextmanager
def _recording(cluster: Cluster, ns: str) -> Iterator[EventLog]:
    events = EventLog(cluster, ns, ("pods", "services", "deployments", "canaries"))
    events.start()
    try:
        yield events
    finally:
        events.stop()


def _alive(*procs: subprocess.Popen[bytes]) -> bool:
    return all(p.poll() is None for p in procs)


def test_the_leader_rides_out_apiserver_and_etcd_restarts(cluster: Cluster, tmp_path: Path) -> None:
    """Mid-release, kube-apiserver is killed and restarted, then etcd: the same replica leads throughout
    (holderIdentity and leaseTransitions unchanged, the standby never leads, neither process exits) and the
    release ends Succeeded with the new version promoted, no unsafe state and no failed check counted."""
    cluster.install_serinus_crds()
    ns = new_namespace(cluster, "outage")
    _grant_leases(cluster, ns)
    client = _release(cluster, ns, iterations=2)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with _recording(cluster, ns) as events:
        a = op.start(cluster, ns, logs[0], *RIDE_OUT)
        b = None
        try:
            wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {logs[0]})", timeout=90)
            b = op.start(cluster, ns, logs[1], *RIDE_OUT)
            leader = _lease(client)
            assert leader[0], "no Lease holder"
            # the standby campaigns once it has checked the metrics server, which it logs either way
            wait_for(lambda: "etrics server" in logs[1].read_text(), f"the standby running (log: {logs[1]})", 60)
            _set_image(client)
            wait_for(lambda: int(op.status(client).get("iterations") or 0) >= 1, "the first iteration", timeout=120)
            apiserver_down = _outage(cluster, "kube-apiserver")
            assert _alive(a, b), f"an operator exited during the apiserver outage (logs: {logs})"
            assert _lease(client) == leader, "the Lease changed hands during the apiserver outage"
            assert op.phase(client) == "Progressing"
            etcd_down = _outage(cluster, "etcd")
            assert _alive(a, b), f"an operator exited during the etcd outage (logs: {logs})"
            wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (logs: {logs})", timeout=120)
            assert _alive(a, b), f"an operator exited (logs: {logs})"
            assert _lease(client) == leader, "the Lease changed hands"
        finally:
            if b is not None:  # the standby first: stopping the leader releases the Lease to it
                op.stop(b)
            op.stop(a)
    text_a, text_b = logs[0].read_text(), logs[1].read_text()
    assert "failed to renew lease" in text_a, "the leader never saw the outage"
    assert "became leader" not in text_b, "the standby led at some point"
    assert "Traceback" not in text_a + text_b
    assert apiserver_down < 15, f"the apiserver outage ({apiserver_down:.1f}s) outlasted the renew deadline"
    assert etcd_down < 15, f"the etcd outage ({etcd_down:.1f}s) outlasted the renew deadline"
    found, states = check(events.ordered())
    assert found == [], found
    assert states > 30
    failed_checks = [
        int((e.obj.get("status") or {}).get("failedChecks") or 0) for e in events.ordered() if e.kind == "canaries"
    ]
    assert max(failed_checks, default=0) == 0, "an API outage counted as a failed check of a healthy canary"
    primary = client.get(Deployment, "web-primary")
    assert pod_spec(primary).containers[0].image == IMAGE_2
    assert op.event_counts(client).get(f"New revision detected! Scaling up web.{ns}") == 1


def test_a_leader_cut_off_past_its_renew_deadline_steps_down_and_a_new_one_finishes(
    cluster: Cluster, tmp_path: Path
) -> None:
    """kube-apiserver is paused (connections hang) for longer than the 4 s renew deadline: the leader stops and
    exits 1 with "Leadership lost" and no traceback, before its 8 s Lease could expire; a process started
    afterwards takes the Lease over (leaseTransitions + 1) and finishes the release."""
    cluster.install_serinus_crds()
    ns = new_namespace(cluster, "stepdown")
    _grant_leases(cluster, ns)
    client = _release(cluster, ns, iterations=1)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = op.start(cluster, ns, log_a, *STEP_DOWN)
    b = None
    try:
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log_a})", timeout=90)
        holder, transitions = _lease(client)
        _set_image(client)
        wait_for(lambda: op.phase(client) == "Progressing", "phase Progressing", timeout=60)
        cluster.plane.pause_component("kube-apiserver")
        t0 = time.monotonic()
        try:
            a.wait(20)
            exited_after = time.monotonic() - t0
        finally:
            cluster.plane.resume_component("kube-apiserver")
        assert a.returncode == 1, f"exit code {a.returncode} (log: {log_a})"
        assert 3.5 <= exited_after < 8, f"stepped down after {exited_after:.1f}s; deadline 4 s, Lease 8 s"
        cluster.plane.wait_api_ready()
        b = op.start(cluster, ns, log_b, *STEP_DOWN)
        wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (log: {log_b})", timeout=120)
        new_holder, new_transitions = _lease(client)
    finally:
        op.stop(a)
        if b is not None:
            op.stop(b)
    text = log_a.read_text()
    assert "Leadership lost" in text
    assert "Traceback" not in text
    assert new_holder != holder
    assert new_transitions == transitions + 1
    assert pod_spec(client.get(Deployment, "web-primary")).containers[0].image == IMAGE_2
