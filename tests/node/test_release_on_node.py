"""Serinus from its own image, installed by its chart as a Pod, releases podinfo on the real node with real
requests flowing: blue/green on plain Services (`provider: kubernetes`), the load tester's webhooks driving `hey`
at the canary, and a confirm-promotion gate that holds the release until it is opened."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod, Service
from lightkube.types import PatchType

from tests.cluster.waiting import wait_for
from tests.node import podinfo
from tests.node.installed import Installed
from tests.node.podinfo import PORT, Canary
from tests.node.realnode import RealNode
from tests.node.traffic import OPENER, Traffic, answer

#: kube-proxy applies Service changes in batches at most this far apart (its iptables minSyncPeriod, 1 s, plus the
#: time to notice an EndpointSlice change): answers this soon after a switch may still come from the old pods.
KUBE_PROXY_SYNC_S = 2.0


def _post(url: str, payload: dict[str, Any]) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with OPENER.open(req, timeout=5) as resp:
        return int(resp.status)


def _canary(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 120,
            "service": {"port": PORT, "portDiscovery": True},
            "analysis": {"interval": "10s", "threshold": 2, "iterations": 3},
        },
    }


def _cluster_ip(client: Client, name: str) -> str:
    svc = client.get(Service, name)
    assert svc.spec is not None
    assert svc.spec.clusterIP
    return str(svc.spec.clusterIP)


def _requests_served(client: Client, app: str) -> int:
    """podinfo's own count of HTTP requests it served, summed over the pods labelled `app` (pod IP, /metrics)."""
    total = 0
    for pod in client.list(Pod, labels={"app": app}, namespace=client.namespace):
        assert pod.status is not None
        with OPENER.open(f"http://{pod.status.podIP}:{PORT}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("http_requests_total{") and 'path="metrics"' not in line:
                    total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_the_chart_runs_the_operator_from_its_image(serinus: Installed) -> None:
    """The operator runs as a Pod of its chart, from the image built from the Dockerfile: Ready (its probes
    pass), as the chart's ServiceAccount and user 10001 on a read-only root, and its /metrics answers."""
    pod = serinus.operator_pod()
    assert pod.spec is not None
    assert pod.status is not None
    assert pod.spec.serviceAccountName == "serinus"
    container = pod.spec.containers[0]
    assert container.image == serinus.image
    ready = {c.type: c.status for c in pod.status.conditions or []}
    assert ready.get("Ready") == "True", pod.status.conditions
    statuses = pod.status.containerStatuses or []
    assert statuses, "no container status"
    assert statuses[0].restartCount == 0, f"the operator restarted: {statuses}"
    with OPENER.open(f"http://{pod.status.podIP}:8080/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'flagger_info{mesh_provider="kubernetes"' in metrics
    log = serinus.operator_log()
    assert "Traceback" not in log, log[-3000:]


def test_blue_green_release_moves_real_traffic_only_at_promotion(node: RealNode, serinus: Installed) -> None:
    """A blue/green release of podinfo with requests flowing through the Service all along: while the canary is
    analysed (the load tester's `hey` driving it) and held by a closed confirm-promotion gate, every answer of the
    `podinfo` Service comes from the old version; once the gate is opened and the release promoted, only the new
    version answers. Flagger's events, in Flagger's order."""
    ns = f"bluegreen-{uuid.uuid4().hex[:6]}"
    admin = node.client()
    admin.create(Namespace(metadata=ObjectMeta(name=ns)))
    client = node.client(namespace=ns)
    client.create(codecs.from_dict(podinfo.deployment(ns, node.artifacts.image("podinfo"), "v1", replicas=2)))
    client.create(Canary.from_dict(_canary(ns)))
    wait_for(lambda: podinfo.phase(client) == "Initialized", "phase Initialized", timeout=120)

    # No cluster DNS on this node: the webhooks name the Services by ClusterIP.
    canary_url = f"http://{_cluster_ip(client, 'podinfo-canary')}:{PORT}/"
    loadtester = serinus.loadtester_url()
    webhooks = [
        {
            "name": "load-test",
            "type": "rollout",
            "url": loadtester,
            "timeout": "15s",
            "metadata": {"cmd": f"hey -z 8s -q 10 -c 2 {canary_url}"},
        },
        {"name": "gate", "type": "confirm-promotion", "url": f"{loadtester}gate/check"},
    ]
    client.patch(Canary, "podinfo", {"spec": {"analysis": {"webhooks": webhooks}}}, patch_type=PatchType.MERGE)
    apex = Traffic(f"http://{_cluster_ip(client, 'podinfo')}:{PORT}/")
    with apex.flowing():
        # kube-proxy programs a new Service within a second or two: measure from when it answers steadily.
        wait_for(
            lambda: len(apex.answers) > 20 and {t for _, t in apex.answers[-20:]} == {"v1"},
            "the podinfo Service answering",
            timeout=30,
        )
        t_change = time.time()
        podinfo.new_version(client, "v2")
        wait_for(
            lambda: podinfo.phase(client) == "WaitingPromotion",
            "phase WaitingPromotion (the gate closed)",
            180,
        )
        assert {str(answer(canary_url)["message"]) for _ in range(10)} == {"v2"}, "the canary does not serve v2"
        served = _requests_served(client, "podinfo")
        assert served >= 3 * 8 * 10 * 0.5, f"the load tests reached the canary only {served} times"

        time.sleep(20)  # held: the gate stays closed, traffic keeps flowing
        assert podinfo.phase(client) == "WaitingPromotion", "the release went on with the gate closed"
        t_open = time.time()
        held = apex.between(t_change, t_open)
        assert held, "no request answered while the release was analysed"
        assert set(held) == {"v1"}, f"the podinfo Service answered {sorted(set(held))} before promotion"

        # The host reaches the load tester at the same ClusterIP: it routes the Service range to the node.
        assert _post(f"{loadtester}gate/open", {"name": "podinfo", "namespace": ns}) == 202
        wait_for(
            lambda: podinfo.phase(client) == "Succeeded",
            "phase Succeeded after the gate opened",
            timeout=180,
        )
        t_done = time.time()
        time.sleep(5 + KUBE_PROXY_SYNC_S)
    late = [(round(at - t_done, 2), text) for at, text in apex.answers if at >= t_done and text != "v2"]
    after = apex.between(t_done + KUBE_PROXY_SYNC_S, time.time())
    assert after, "no request answered after the promotion"
    assert set(after) == {"v2"}, f"after promotion the podinfo Service answered {sorted(set(after))}: {late}"
    expected = [
        f"New revision detected! Scaling up podinfo.{ns}",
        f"Starting canary analysis for podinfo.{ns}",
        f"Advance podinfo.{ns} canary iteration 1/3",
        f"Advance podinfo.{ns} canary iteration 3/3",
        f"Halt podinfo.{ns} advancement waiting for promotion approval gate",
        "Confirm-promotion check gate passed",
        f"Copying podinfo.{ns} template spec to podinfo-primary.{ns}",
        f"Promotion completed! Scaling down podinfo.{ns}",
    ]
    found = podinfo.events(client)
    positions = [found.index(text) if text in found else -1 for text in expected]
    assert -1 not in positions, found
    assert positions == sorted(positions), found
    admin.delete(Namespace, ns)
