"""`serinus run` releases through Gateway API, linkerd (SMI TrafficSplit), kuma, gloo, apisix and App Mesh, each
against that provider's CRDs on the real control plane: the routing object goes all-primary, half and half,
all-canary, and back to the primary as the release is promoted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lightkube import codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.types import PatchType

from serinus.routers.live import RESOURCES
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import install_gateway_api, install_handwritten, install_smi
from tests.cluster.runtime import operator_proc as op
from tests.cluster.runtime.test_release import namespace
from tests.cluster.waiting import wait_for

pytestmark = pytest.mark.cluster
__all__ = ["namespace"]
TrafficSplit = RESOURCES[("split.smi-spec.io/v1alpha1", "TrafficSplit")]
TrafficRoute = RESOURCES[("kuma.io/v1alpha1", "TrafficRoute")]
HTTPRoute = RESOURCES[("gateway.networking.k8s.io/v1", "HTTPRoute")]
RouteTable = RESOURCES[("gateway.solo.io/v1", "RouteTable")]
ApisixRoute = RESOURCES[("apisix.apache.org/v2", "ApisixRoute")]
Upstream = RESOURCES[("gloo.solo.io/v1", "Upstream")]
VirtualRouter = RESOURCES[("appmesh.k8s.aws/v1beta2", "VirtualRouter")]
VirtualNode = RESOURCES[("appmesh.k8s.aws/v1beta2", "VirtualNode")]
AppMeshService = RESOURCES[("appmesh.k8s.aws/v1beta2", "VirtualService")]
STEPS = [(100, 0), (50, 50), (0, 100), (100, 0)]
ANALYSIS = {"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100}


def _release(
    cluster: Cluster,
    ns: str,
    log: Path,
    provider: str,
    weights: Callable[[], tuple[int, int]],
    after_init: Callable[[], object] = lambda: None,
    **spec: Any,
) -> list[tuple[int, int]]:
    """Initialize, run `after_init`, change the image, promote; the distinct (primary, canary) weights seen on
    the way."""
    client = cluster.client(namespace=ns)
    client.create(codecs.from_dict(op.deployment(ns, "ghcr.io/example/web:1.0")))
    client.create(op.canary(ns, provider=provider, analysis=ANALYSIS, **spec))
    sample, seen = op.tracking(weights)
    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        sample()
        after_init()
        client.patch(
            Deployment,
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "ghcr.io/example/web:2.0"}]}}}},
        )
        wait_for(lambda: (sample(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
        sample()
    return seen


def test_linkerd_release_weights_the_traffic_split(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider linkerd: the SMI v1alpha1 TrafficSplit (weights as quantities) against SMI's CRD."""
    install_smi(cluster)
    client = cluster.client(namespace=namespace)

    def weights() -> tuple[int, int]:
        split = client.get(TrafficSplit, "web").to_dict()
        backends = {b["service"]: int(b["weight"]) for b in split["spec"]["backends"]}
        return backends["web-primary"], backends["web-canary"]

    assert _release(cluster, namespace, tmp_path / "operator.log", "linkerd", weights) == STEPS


def test_kuma_release_weights_the_traffic_route(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider kuma: the cluster-scoped TrafficRoute named after the apex Service."""
    install_handwritten(cluster)
    admin = cluster.client()
    apex = f"web-{namespace}"

    def weights() -> tuple[int, int]:
        split = admin.get(TrafficRoute, apex).to_dict()["spec"]["conf"]["split"]
        return int(split[0]["weight"]), int(split[1]["weight"])

    try:
        assert (
            _release(
                cluster,
                namespace,
                tmp_path / "operator.log",
                "kuma",
                weights,
                service={"port": 80, "targetPort": 8080, "name": apex},
            )
            == STEPS
        )
    finally:
        admin.delete(TrafficRoute, apex)


def test_gloo_release_weights_the_route_table(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider gloo: Upstreams for both Services and the RouteTable's weighted destinations."""
    install_handwritten(cluster)
    client = cluster.client(namespace=namespace)

    def weights() -> tuple[int, int]:
        dests = client.get(RouteTable, "web").to_dict()["spec"]["routes"][0]["routeAction"]["multi"]["destinations"]
        return int(dests[0].get("weight", 0)), int(dests[1].get("weight", 0))

    client.create(
        Upstream.from_dict(
            {
                "apiVersion": "gloo.solo.io/v1",
                "kind": "Upstream",
                "metadata": {"name": "config", "namespace": namespace},
                "spec": {"loadBalancerConfig": {"roundRobin": {}}, "kube": {"serviceName": "x", "servicePort": 1}},
            }
        )
    )
    primary = f"{namespace}-web-primaryupstream-80"

    def new_policy() -> None:  # the config upstream's load balancer changes: the generated upstreams follow
        client.patch(
            Upstream,
            "config",
            {"spec": {"loadBalancerConfig": {"roundRobin": None, "random": {}}}},
            patch_type=PatchType.MERGE,
        )
        wait_for(
            lambda: client.get(Upstream, primary).to_dict()["spec"]["loadBalancerConfig"] == {"random": {}},
            "the generated upstream's load balancer patched",
            timeout=30,
        )

    ref = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "config", "namespace": namespace}
    assert (
        _release(cluster, namespace, tmp_path / "operator.log", "gloo", weights, new_policy, upstreamRef=ref) == STEPS
    )


def test_apisix_release_weights_the_canary_route(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider apisix: the `<route>-<apex>-canary` ApisixRoute beside the user's."""
    install_handwritten(cluster)
    client = cluster.client(namespace=namespace)
    client.create(
        ApisixRoute.from_dict(
            {
                "apiVersion": "apisix.apache.org/v2",
                "kind": "ApisixRoute",
                "metadata": {"name": "app", "namespace": namespace},
                "spec": {
                    "http": [
                        {
                            "name": "main",
                            "match": {"paths": ["/*"]},
                            "backends": [{"serviceName": "web", "servicePort": 80}],
                        }
                    ]
                },
            }
        )
    )

    def weights() -> tuple[int, int]:
        backends = client.get(ApisixRoute, "app-web-canary").to_dict()["spec"]["http"][0]["backends"]
        return int(backends[0]["weight"]), int(backends[1]["weight"])

    assert (
        _release(
            cluster,
            namespace,
            tmp_path / "operator.log",
            "apisix",
            weights,
            routeRef={"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "app"},
        )
        == STEPS
    )


def test_appmesh_release_weights_the_virtual_router(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider appmesh:v1beta2: both VirtualNodes select their pods, both routers have their services, and the
    apex VirtualRouter's weighted targets carry the release."""
    install_handwritten(cluster)
    client = cluster.client(namespace=namespace)

    def weights() -> tuple[int, int]:
        route = client.get(VirtualRouter, "web").to_dict()["spec"]["routes"][0]
        targets = {t["virtualNodeRef"]["name"]: t["weight"] for t in route["httpRoute"]["action"]["weightedTargets"]}
        return targets["web-primary"], targets["web-canary"]

    def drift() -> None:  # someone edits a generated VirtualNode: the next reconcile restores it
        client.patch(
            VirtualNode,
            "web-primary",
            {"spec": {"serviceDiscovery": {"dns": {"hostname": "elsewhere"}}}},
            patch_type=PatchType.MERGE,
        )
        wait_for(
            lambda: (
                client.get(VirtualNode, "web-primary").to_dict()["spec"]["serviceDiscovery"]["dns"]["hostname"]
                == f"web-primary.{namespace}.svc.cluster.local."
            ),
            "the VirtualNode restored",
            timeout=30,
        )

    assert _release(cluster, namespace, tmp_path / "operator.log", "appmesh:v1beta2", weights, drift) == STEPS
    assert client.get(VirtualNode, "web-primary").to_dict()["spec"]["podSelector"] == {
        "matchLabels": {"app": "web-primary"}
    }
    assert client.get(AppMeshService, "web-canary").to_dict()["spec"]["provider"] == {
        "virtualRouter": {"virtualRouterRef": {"name": "web-canary"}}
    }


def test_gatewayapi_release_weights_the_http_route(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider gatewayapi:v1 against Gateway API's CRDs: the HTTPRoute's backendRefs carry the release."""
    install_gateway_api(cluster)
    client = cluster.client(namespace=namespace)

    def weights() -> tuple[int, int]:
        refs = client.get(HTTPRoute, "web").to_dict()["spec"]["rules"][0]["backendRefs"]
        by_name = {r["name"]: int(r.get("weight", 1)) for r in refs}
        return by_name["web-primary"], by_name["web-canary"]

    service = {
        "port": 80,
        "targetPort": 8080,
        "hosts": ["web.example.com"],
        "gatewayRefs": [{"name": "public", "namespace": namespace}],
    }
    assert _release(cluster, namespace, tmp_path / "operator.log", "gatewayapi:v1", weights, service=service) == STEPS
    route = client.get(HTTPRoute, "web").to_dict()
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": namespace}
    ]
