"""The operator process on a real cluster: of two replicas with leader election exactly one analyses Canaries;
when the leader is killed, the other takes over within the Lease duration; /healthz and /metrics answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx2
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from serinus.kube.resources import Canary
from tests.cluster.controlplane import ROOT, Cluster, free_port
from tests.cluster.waiting import wait_for


def _replica(cluster: Cluster, identity: str, ns: str, out: Path, port: int) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "tests.cluster.runtime.replica",
        identity,
        str(out),
        "--",
        f"-kubeconfig={cluster.kubeconfig}",
        f"-namespace={ns}",
        "-enable-leader-election=true",
        f"-metrics-server=http://127.0.0.1:{free_port()}",
        f"-port={port}",
        "--listen-address=127.0.0.1",
        "-mesh-provider=kubernetes",
        "--lease-duration=4s",
        "--renew-deadline=3s",
        "--retry-period=0.5s",
    ]
    log = (out.parent / f"{identity}.log").open("wb")
    return subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})


def _lines(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


def test_one_leader_acts_and_a_killed_leader_is_replaced(cluster: Cluster, tmp_path: Path) -> None:
    """Replica A leads and analyses; B stays idle but healthy; after `kill -9` of A, B analyses within the Lease."""
    cluster.install_flagger_crds()
    ns = f"op-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    cluster.client(namespace=ns).create(
        Canary.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "service": {"port": 80},
                    "analysis": {"interval": "60m", "threshold": 1, "iterations": 1},
                },
            }
        )
    )
    out = tmp_path / "analyses.txt"
    port_a, port_b = free_port(), free_port()
    a = _replica(cluster, "a", ns, out, port_a)
    b = None
    try:
        wait_for(lambda: _lines(out) == [f"a {ns}/web"], "replica a to analyse the Canary", timeout=30)
        b = _replica(cluster, "b", ns, out, port_b)

        def healthy() -> bool:
            try:
                return httpx2.get(f"http://127.0.0.1:{port_b}/healthz", timeout=1).text == "OK"
            except httpx2.HTTPError:
                return False

        wait_for(healthy, "replica b to serve /healthz", timeout=30)
        scrape = httpx2.get(f"http://127.0.0.1:{port_a}/metrics", timeout=5).text
        assert 'flagger_info{mesh_provider="kubernetes",version=' in scrape
        time.sleep(2)
        assert _lines(out) == [f"a {ns}/web"], "replica b analysed while replica a held the Lease"

        killed = time.monotonic()
        os.kill(a.pid, signal.SIGKILL)
        a.wait(10)
        wait_for(lambda: f"b {ns}/web" in _lines(out), "replica b to take over", timeout=20)
        took = time.monotonic() - killed
        assert took <= 4 + 3, f"takeover took {took:.1f}s; the Lease lasts 4s"
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(20)
