"""A real node: kubelet registers it, real podinfo containers serve the host through a ClusterIP, and
readiness decides which pods the Service sends traffic to."""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from lightkube import codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.cluster.waiting import wait_for
from tests.node.realnode import NODE_NAME, RealNode

PODINFO_PORT = 9898
#: direct connections only: an http_proxy in the environment must not carry requests meant for the node.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(url: str, method: str = "GET") -> dict[str, Any]:
    """One HTTP request on a new connection (so kube-proxy balances each one), answered with JSON."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with OPENER.open(req, timeout=5) as resp:
        body: dict[str, Any] = json.loads(resp.read() or b"{}")
        return body


def _hostname(url: str, seen: set[str]) -> set[str]:
    """Add the hostname of one answer from `url` to `seen` (nothing if the request fails); return `seen`."""
    with contextlib.suppress(OSError):
        seen.add(get_json(url)["hostname"])
    return seen


@dataclass
class Podinfo:
    """A podinfo Deployment and its ClusterIP Service in a namespace of their own."""

    namespace: str
    cluster_ip: str
    pods: dict[str, str]  # pod name -> pod IP

    @property
    def url(self) -> str:
        """The Service's URL from the host."""
        return f"http://{self.cluster_ip}/"


def _manifests(image: str) -> list[dict[str, Any]]:
    labels = {"app": "podinfo"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "podinfo",
                                "image": image,
                                # The image was imported into containerd; there is no registry to pull from.
                                "imagePullPolicy": "Never",
                                "ports": [{"name": "http", "containerPort": PODINFO_PORT}],
                                # Fast to notice /readyz/disable, yet tolerant of a slow answer on a busy machine.
                                "readinessProbe": {
                                    "httpGet": {"path": "/readyz", "port": PODINFO_PORT},
                                    "periodSeconds": 1,
                                    "timeoutSeconds": 5,
                                    "failureThreshold": 2,
                                },
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "podinfo", "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": PODINFO_PORT}]},
        },
    ]


def ready_endpoints(node: RealNode, namespace: str) -> set[str | None]:
    """Names of the pods the Service's EndpointSlices list as ready."""
    names: set[str | None] = set()
    for eps in node.client(namespace).list(EndpointSlice, labels={"kubernetes.io/service-name": "podinfo"}):
        for ep in eps.endpoints or []:
            if ep.conditions and ep.conditions.ready and ep.targetRef:
                names.add(ep.targetRef.name)
    return names


@pytest.fixture
def podinfo(node: RealNode) -> Iterator[Podinfo]:
    """Two Ready podinfo pods behind a ClusterIP Service, in a fresh namespace deleted afterwards."""
    namespace = f"podinfo-{uuid.uuid4().hex[:6]}"
    admin = node.client()
    admin.create(Namespace(metadata=ObjectMeta(name=namespace)))
    client = node.client(namespace)
    try:
        for doc in _manifests(node.artifacts.image("podinfo")):
            client.create(codecs.from_dict(doc))

        def ready_pods() -> dict[str, str] | None:
            pods: dict[str, str] = {}
            for p in client.list(Pod, labels={"app": "podinfo"}):
                if p.status and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])):
                    # a pod read from the API server has a name, and a Ready one has an IP
                    assert p.metadata is not None
                    assert p.metadata.name is not None
                    assert p.status.podIP is not None
                    pods[p.metadata.name] = p.status.podIP
            return pods if len(pods) == 2 else None

        pods = wait_for(ready_pods, "2 podinfo pods Ready on the real node", timeout=120)
        wait_for(lambda: ready_endpoints(node, namespace) == set(pods), "both pods in the Service's endpoints", 30)
        service_spec = client.get(Service, "podinfo").spec
        assert service_spec is not None
        assert service_spec.clusterIP is not None
        cluster_ip = service_spec.clusterIP
        # kube-proxy writes its rules a moment (on a busy machine, seconds) after the EndpointSlice changes: the
        # Service is up once its ClusterIP has been seen answering from both pods.
        seen: set[str] = set()
        wait_for(lambda: _hostname(f"http://{cluster_ip}/", seen) >= set(pods), "the ClusterIP to answer from both", 30)
        yield Podinfo(namespace=namespace, cluster_ip=cluster_ip, pods=pods)
    finally:
        admin.delete(Namespace, namespace)


def test_node_is_ready_and_runs_the_pinned_kubelet(node: RealNode) -> None:
    """The kubelet registered the node with its host IP and reports Ready, the pinned release and containerd."""
    got = node.client().get(Node, NODE_NAME)
    assert got.status is not None
    assert got.status.conditions is not None
    assert got.status.addresses is not None
    assert got.status.nodeInfo is not None
    assert any(c.type == "Ready" and c.status == "True" for c in got.status.conditions)
    assert got.status.nodeInfo.kubeletVersion == node.artifacts.kubernetes_version
    assert got.status.nodeInfo.containerRuntimeVersion.startswith("containerd://")
    assert {"type": "InternalIP", "address": node.node_ip} in [a.to_dict() for a in got.status.addresses]


def test_clusterip_spreads_requests_over_both_podinfo_pods(node: RealNode, podinfo: Podinfo) -> None:
    """100 requests from the host to the ClusterIP are all answered by podinfo, and by both pods."""
    answers = [get_json(podinfo.url) for _ in range(100)]
    served = Counter(a["hostname"] for a in answers)
    assert set(served) == set(podinfo.pods), served
    assert sum(served.values()) == 100
    assert {a["version"] for a in answers} == {node.artifacts.podinfo_version}


def test_an_unready_pod_leaves_the_service(node: RealNode, podinfo: Podinfo) -> None:
    """After podinfo's /readyz/disable on one pod, the Service lists only the other and the ClusterIP answers
    only from it, while the drained pod itself keeps running."""
    drained, kept = sorted(podinfo.pods)
    get_json(f"http://{podinfo.pods[drained]}:{PODINFO_PORT}/readyz/disable", method="POST")
    wait_for(lambda: ready_endpoints(node, podinfo.namespace) == {kept}, f"only {kept} in the endpoints", 30)
    # kube-proxy rewrites its rules right after the EndpointSlice changes; wait for them before judging.
    wait_for(
        lambda: all(get_json(podinfo.url)["hostname"] == kept for _ in range(10)),
        "the ClusterIP to stop answering from the drained pod",
        15,
    )
    served = Counter(get_json(podinfo.url)["hostname"] for _ in range(100))
    assert served == {kept: 100}
    pod = node.client(podinfo.namespace).get(Pod, drained)
    assert pod.status is not None
    assert pod.status.conditions is not None
    assert any(c.type == "Ready" and c.status == "False" for c in pod.status.conditions)
    assert get_json(f"http://{podinfo.pods[drained]}:{PODINFO_PORT}/")["hostname"] == drained
