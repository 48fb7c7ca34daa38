"""make_router builds every provider's live router from its module's ROUTING, and each one reconciles, routes and
reads its weights back through the operator's own client code, on the in-memory API server `serinus render` uses."""

from __future__ import annotations

from typing import Any, cast

import pytest
from lightkube import AsyncClient

from serinus.api import Canary
from serinus.api.capabilities import MESH, MESH_PROVIDERS, router_for
from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.kube.memory import MemoryCluster
from serinus.routers.live import LiveRouter
from serinus.routers.registry import RouterContext, make_router
from serinus.routers.routing import load

NS = "test"
INGRESS_REF = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"}
KNATIVE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "podinfo"}


def canary(**spec: Any) -> Canary:
    """A podinfo Canary in `test` on port 9898."""
    service = {"port": 9898, **spec.pop("service", {})}
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": NS, "uid": "u-1"},
            "spec": {
                "targetRef": spec.pop("targetRef", {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"}),
                "service": service,
                "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
                **spec,
            },
        }
    )


def ingress() -> dict[str, Any]:
    """The user's Ingress that nginx and skipper copy."""
    backend = {"service": {"name": "podinfo", "port": {"number": 9898}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "podinfo", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {
            "rules": [
                {"host": "app.test", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ]
        },
    }


def service(name: str) -> dict[str, Any]:
    """A Service Gloo builds an Upstream from."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": name}}}


APISIX_ROUTE = {
    "apiVersion": "apisix.apache.org/v2",
    "kind": "ApisixRoute",
    "metadata": {"name": "route"},
    "spec": {"http": [{"name": "main", "backends": [{"serviceName": "podinfo", "servicePort": 9898}]}]},
}

#: provider string -> (Canary, objects already on the cluster), one per router kind the operator drives
CASES: dict[str, tuple[Canary, list[dict[str, Any]]]] = {
    "istio": (canary(), []),
    "gatewayapi:v1": (canary(service={"gatewayRefs": [{"name": "gw"}]}), []),
    "gatewayapi:v1beta1": (canary(service={"gatewayRefs": [{"name": "gw"}]}), []),
    "linkerd": (canary(), []),
    "smi:v1alpha3:istio": (canary(), []),
    "osm": (canary(), []),
    "kuma": (canary(), []),
    "contour": (canary(), []),
    "gloo:internal": (canary(), [service("podinfo-primary"), service("podinfo-canary")]),
    "nginx": (canary(ingressRef=INGRESS_REF), [ingress()]),
    "skipper": (canary(ingressRef=INGRESS_REF), [ingress()]),
    "traefik": (canary(), []),
    "apisix": (
        canary(routeRef={"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "route"}),
        [APISIX_ROUTE],
    ),
    "appmesh:v1beta2": (canary(service={"meshName": "global"}), []),
}


def client(cluster: MemoryCluster) -> AsyncClient:
    """The in-memory API server as the operator's client: it has AsyncClient's surface, not its type."""
    return cast(AsyncClient, cluster)


def build(cluster: MemoryCluster, provider: str, c: Canary, saved: list[dict[str, str]] | None = None) -> LiveRouter:
    """The operator's router for `provider`, writing session cookies to `saved`."""

    async def save(fields: dict[str, str]) -> None:
        if saved is not None:
            saved.append(fields)

    router = make_router(RouterContext(client(cluster), c, "app", provider, save))
    assert isinstance(router, LiveRouter)
    return router


def test_every_router_kind_the_operator_drives_is_covered_here() -> None:
    """The cases below reach every router kind with a module, so every ROUTING is run at least once."""
    kinds = {router_for(p)[0] for p in CASES} | {router_for("kubernetes")[0], router_for("knative")[0]}
    assert kinds == {p.router for p in MESH_PROVIDERS if p.implementation is not None}


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_live_router_reconciles_routes_and_reads_back(provider: str) -> None:
    """reconcile creates the provider's objects (only of the kinds its module declares), set_routes(80, 20) reads
    back as (80, 20), and a second reconcile keeps the weights in flight."""
    c, objects = CASES[provider]
    cluster = MemoryCluster(namespace=NS)
    cluster.load([{**o, "metadata": {**o["metadata"], "namespace": NS}} for o in objects])
    before = set(cluster.objects)
    router = build(cluster, provider, c)
    assert router.routing is load(MESH[router_for(provider)[0]])
    await router.reconcile()
    created = set(cluster.objects) - before
    assert created
    declared = {(k.api_version, k.kind) for k in router.routing.kinds}
    assert {(api_version, kind) for api_version, kind, _, _ in created} <= declared
    assert await router.get_routes() == Routes(100, 0, False)
    await router.set_routes(80, 20, False)
    assert await router.get_routes() == Routes(80, 20, False)
    await router.reconcile()
    assert await router.get_routes() == Routes(80, 20, False)


async def test_istio_persists_session_affinity_cookies() -> None:
    """The Istio router hands the cookies its routes set to save_status, as Flagger writes them to the status."""
    c = canary(analysis={"interval": "1m", "threshold": 5, "stepWeight": 10, "sessionAffinity": {"cookieName": "x"}})
    saved: list[dict[str, str]] = []
    router = build(MemoryCluster(namespace=NS), "istio", c, saved)
    await router.reconcile()
    await router.set_routes(90, 10, False)
    assert [s["sessionAffinityCookie"].startswith("x=") for s in saved] == [True]


async def test_missing_user_objects_are_flaggers_errors() -> None:
    """Without the Ingress or ApisixRoute to copy, reconcile fails with Flagger's texts and writes nothing."""
    cluster = MemoryCluster(namespace=NS)
    with pytest.raises(RouterError, match=r"^Ingress podinfo\.test query error: not found$"):
        await build(cluster, "nginx", CASES["nginx"][0]).reconcile()
    with pytest.raises(RouterError, match=r"^APISIX route route\.test get query error: not found$"):
        await build(cluster, "apisix", CASES["apisix"][0]).reconcile()
    assert cluster.objects == {}


async def test_knative_pins_the_primary_revision_and_splits_its_traffic() -> None:
    """knative: reconcile pins the latest created revision, set_routes writes the split, finalize unpins it."""
    cluster = MemoryCluster(namespace=NS)
    cluster.load(
        [
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": "podinfo", "namespace": NS},
                "spec": {"template": {}},
                "status": {"latestCreatedRevisionName": "podinfo-00001"},
            }
        ]
    )
    router = build(cluster, "knative", canary(targetRef=KNATIVE, revertOnDeletion=True))
    await router.reconcile()
    await router.set_routes(70, 30, False)
    svc = next(iter(cluster.objects.values()))
    assert svc["metadata"]["annotations"] == {"flagger.app/primary-revision": "podinfo-00001"}
    assert svc["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 30},
        {"revisionName": "podinfo-00001", "percent": 70},
    ]
    await router.finalize()
    assert next(iter(cluster.objects.values()))["metadata"]["annotations"] == {}


async def test_kubernetes_provider_routes_by_iterations() -> None:
    """kubernetes: nothing is written; the weights read (100, 0) until blue/green iterations start, then (0, 100)."""
    cluster = MemoryCluster(namespace=NS)
    c = canary()
    router = build(cluster, "kubernetes", c)
    await router.reconcile()
    await router.set_routes(0, 100, False)
    assert await router.get_routes() == Routes(100, 0, False)
    c.status.iterations = 1
    assert await build(cluster, "kubernetes", c).get_routes() == Routes(0, 100, False)
    assert cluster.objects == {}


def test_legacy_appmesh_is_refused_by_name() -> None:
    """App Mesh's retired v1beta1 API has no live router: building one says so and lists what is supported."""
    with pytest.raises(RouterError, match=r"^provider appmesh is not supported .* supported: apisix, appmesh:v1beta2"):
        make_router(RouterContext(client(MemoryCluster(namespace=NS)), canary(), "app", "appmesh"))
