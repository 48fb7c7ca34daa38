"""The kuma, apisix and gloo routers against a real API server with those providers' CRDs: the objects they write
pass schema validation, weights set through the router read back equal, A/B matchers land where Gloo reads them,
and a reconcile after someone edits a generated object restores what Serinus owns and keeps in-flight weights."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from serinus.api.capabilities import MESH, Router
from serinus.kube.resources import Canary
from serinus.routers.live import RESOURCES, LiveRouter
from serinus.routers.routing import RouterOptions, load
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import apply_crds, crd_documents

pytestmark = pytest.mark.cluster

TrafficRoute = RESOURCES[("kuma.io/v1alpha1", "TrafficRoute")]
ApisixRoute = RESOURCES[("apisix.apache.org/v2", "ApisixRoute")]
RouteTable = RESOURCES[("gateway.solo.io/v1", "RouteTable")]
Upstream = RESOURCES[("gloo.solo.io/v1", "Upstream")]


async def _save(_: dict[str, str]) -> None:
    return None


def _router(client: AsyncClient, canary: dict[str, Any], kind: Router) -> LiveRouter:
    """The operator's live router of `kind` for `canary`, with the operator's default options."""
    return LiveRouter(client, canary, _save, load(MESH[kind]), RouterOptions(kind.value, kind.value))


def _routes(routes: Any) -> tuple[int, int, bool]:
    return routes.primary, routes.canary, routes.mirrored


@pytest.fixture
async def env(cluster: Cluster) -> AsyncIterator[tuple[AsyncClient, str]]:
    """The providers' CRDs, our CRDs, a namespace with the primary and canary Services."""
    apply_crds(cluster, crd_documents([Path(__file__).with_name("handwritten-crds.yaml")]))
    cluster.install_serinus_crds()
    ns = f"rt-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=ns, field_manager="serinus-tests")
    for name in ("podinfo-primary", "podinfo-canary"):
        await client.create(
            codecs.from_dict(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 9898}]},
                }
            )
        )
    try:
        yield client, ns
    finally:
        await client.close()


async def _canary(client: AsyncClient, ns: str, provider: str, **spec: Any) -> dict[str, Any]:
    """A real Canary (so owner references point at a live object) as the routers receive it."""
    created = await client.create(
        Canary.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": f"podinfo-{provider}", "namespace": ns, "annotations": {"kuma.io/mesh": "prod"}},
                "spec": {
                    "provider": provider,
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                    "service": {"port": 9898, "name": "podinfo"},
                    "analysis": {"interval": "1m", "threshold": 5, "iterations": 10},
                    **spec,
                },
            }
        )
    )
    return dict(created.to_dict())


async def test_kuma_traffic_route(env: tuple[AsyncClient, str]) -> None:
    """The cluster-scoped TrafficRoute is accepted; weights round-trip; an edited source is restored, weights kept."""
    client, ns = env
    canary = await _canary(client, ns, "kuma")
    canary["spec"]["service"]["name"] = f"podinfo-{ns}"  # TrafficRoutes are cluster scoped: one name per test
    router = _router(client, canary, Router.KUMA)
    await router.reconcile()
    try:
        for primary, weight in ((90, 10), (40, 60)):
            await router.set_routes(primary, weight, False)
            assert _routes(await router.get_routes()) == (primary, weight, False)
        live = (await client.get(TrafficRoute, f"podinfo-{ns}")).to_dict()
        assert live["mesh"] == "prod"
        assert "ownerReferences" not in live["metadata"]
        live["spec"]["sources"] = [{"match": {"kuma.io/service": "frontend"}}]
        await client.replace(TrafficRoute.from_dict(live))
        await router.reconcile()
        fixed = (await client.get(TrafficRoute, f"podinfo-{ns}")).to_dict()
        assert fixed["spec"]["sources"] == [{"match": {"kuma.io/service": "*"}}]
        assert _routes(await router.get_routes()) == (100, 0, False)  # Flagger's rewrite resets the split
    finally:
        await client.delete(TrafficRoute, f"podinfo-{ns}")


async def test_apisix_canary_route(env: tuple[AsyncClient, str]) -> None:
    """The canary ApisixRoute is accepted with the user's route at priority 10000; weights round-trip; a change
    in the user's route reaches it on reconcile."""
    client, ns = env
    user = {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "http": [
                {
                    "name": "main",
                    "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
                    "backends": [{"serviceName": "podinfo", "servicePort": 9898}],
                }
            ]
        },
    }
    await client.create(ApisixRoute.from_dict(user))
    canary = await _canary(
        client, ns, "apisix", routeRef={"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "web"}
    )
    router = _router(client, canary, Router.APISIX)
    await router.reconcile()
    created = (await client.get(ApisixRoute, "web-podinfo-canary")).to_dict()
    assert created["spec"]["http"][0]["priority"] == 10000
    assert created["metadata"]["ownerReferences"][0]["uid"] == canary["metadata"]["uid"]
    await router.set_routes(70, 30, False)
    assert _routes(await router.get_routes()) == (70, 30, False)
    user_live = (await client.get(ApisixRoute, "web")).to_dict()
    user_live["spec"]["http"][0]["match"]["paths"] = ["/api/*"]
    await client.replace(ApisixRoute.from_dict(user_live))
    await router.reconcile()
    fixed = (await client.get(ApisixRoute, "web-podinfo-canary")).to_dict()
    assert fixed["spec"]["http"][0]["match"]["paths"] == ["/api/*"]
    assert _routes(await router.get_routes()) == (100, 0, False)  # as in Flagger, a rewrite resets the weights


async def test_gloo_upstreams_and_route_table(env: tuple[AsyncClient, str]) -> None:
    """Upstreams for both Services (selector read from the Service, config upstream's settings), the RouteTable
    with A/B matchers; weights round-trip; a drifted load balancer is patched back."""
    client, ns = env
    await client.create(
        Upstream.from_dict(
            {
                "apiVersion": "gloo.solo.io/v1",
                "kind": "Upstream",
                "metadata": {"name": "config", "namespace": ns},
                "spec": {
                    "loadBalancerConfig": {"roundRobin": {}},
                    "connectionConfig": {"maxRequestsPerConnection": 5},
                    "kube": {"serviceName": "x", "serviceNamespace": ns, "servicePort": 1},
                },
            }
        )
    )
    ref = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "config", "namespace": ns}
    canary = await _canary(
        client,
        ns,
        "gloo",
        upstreamRef=ref,
        analysis={
            "interval": "1m",
            "threshold": 5,
            "iterations": 10,
            "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
        },
    )
    router = _router(client, canary, Router.GLOO)
    await router.reconcile()
    primary = (await client.get(Upstream, f"{ns}-podinfo-primaryupstream-9898")).to_dict()
    assert primary["spec"]["kube"] == {
        "serviceName": "podinfo-primary",
        "serviceNamespace": ns,
        "servicePort": 9898,
        "selector": {"app": "podinfo-primary"},
    }
    assert primary["spec"]["connectionConfig"] == {"maxRequestsPerConnection": 5}
    table = (await client.get(RouteTable, "podinfo")).to_dict()
    assert table["spec"]["routes"][0]["matchers"] == [{"headers": [{"name": "x-canary", "value": "insider"}]}]
    await router.set_routes(0, 100, False)
    assert _routes(await router.get_routes()) == (0, 100, False)
    config = (await client.get(Upstream, "config")).to_dict()
    config["spec"]["loadBalancerConfig"] = {"leastRequest": {"choiceCount": 3}}
    await client.replace(Upstream.from_dict(config))
    await router.reconcile()
    for name in (f"{ns}-podinfo-primaryupstream-9898", f"{ns}-podinfo-canaryupstream-9898"):
        assert (await client.get(Upstream, name)).to_dict()["spec"]["loadBalancerConfig"] == {
            "leastRequest": {"choiceCount": 3}
        }
    assert _routes(await router.get_routes()) == (0, 100, False)
