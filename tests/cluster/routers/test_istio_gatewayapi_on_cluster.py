"""The istio and gatewayapi routers against the providers' real CRDs on a real apiserver: every generated object
is accepted, weights round-trip, and reconcile restores what Serinus owns after an edit."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from lightkube import Client, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from serinus.errors import RouterError
from serinus.kube.resources import Canary
from serinus.routers import gatewayapi, istio
from serinus.routers.gatewayapi_spec import Version
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import install_gateway_api, install_istio
from tests.gomodules import flagger_example

VirtualService = create_namespaced_resource("networking.istio.io", "v1beta1", "VirtualService", "virtualservices")
DestinationRule = create_namespaced_resource("networking.istio.io", "v1beta1", "DestinationRule", "destinationrules")
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
HTTPRouteBeta = create_namespaced_resource("gateway.networking.k8s.io", "v1beta1", "HTTPRoute", "httproutes")
KINDS = {
    ("networking.istio.io/v1beta1", "VirtualService"): VirtualService,
    ("networking.istio.io/v1beta1", "DestinationRule"): DestinationRule,
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): HTTPRoute,
    ("gateway.networking.k8s.io/v1beta1", "HTTPRoute"): HTTPRouteBeta,
}


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> Cluster:
    """The cluster with Flagger's, Istio's and Gateway API's CRDs installed."""
    cluster.install_flagger_crds()
    install_istio(cluster)
    install_gateway_api(cluster)
    return cluster


@pytest.fixture
def ns(crds: Cluster) -> Iterator[tuple[Client, str]]:
    """A fresh namespace and a client bound to it."""
    name = f"rt-{uuid.uuid4().hex[:6]}"
    crds.client().create(Namespace(metadata=ObjectMeta(name=name)))
    yield crds.client(namespace=name), name
    crds.client().delete(Namespace, name)


def res(obj: dict[str, Any]) -> type:
    return KINDS[(obj["apiVersion"], obj["kind"])]


def live(client: Client, obj: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = client.get(res(obj), obj["metadata"]["name"]).to_dict()
    return got


def real_canary(client: Client, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A Canary stored by the apiserver (defaults applied), so owner references point at a real object."""
    body = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": spec["targetRef"]["name"], "namespace": namespace},
        "spec": spec,
    }
    created: dict[str, Any] = client.create(Canary.from_dict(body)).to_dict()
    return created


def create_all(
    client: Client, objs: list[dict[str, Any]], canary: dict[str, Any], reconcile: Any
) -> list[dict[str, Any]]:
    """Create each object; the live copy must already be what reconcile wants (no default or pruning drift)."""
    out = []
    for obj in objs:
        client.create(codecs.from_dict(obj))
        got = live(client, obj)
        assert reconcile(got, obj, canary) is None, obj["kind"]
        out.append(got)
    return out


def istio_canary(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(flagger_example(f"istio-{name}").read_text())["spec"]
    spec["service"].update(
        retries={"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx"},
        corsPolicy={"allowOrigin": ["https://example.com"], "allowMethods": ["GET"]},
        headers={"request": {"add": {"x-a": "1"}}, "response": {"remove": ["x-b"]}},
    )
    return spec


def test_istio_objects_routes_and_reconcile(ns: tuple[Client, str]) -> None:
    """Istio's CRDs accept the DestinationRules and VirtualService, every set_routes variant (weights, mirror,
    A/B, sticky), weights read back equal, and an edited VirtualService is restored with user keys kept."""
    client, namespace = ns
    spec = istio_canary("canary")
    spec["analysis"].update(mirror=True, mirrorWeight=40)
    canary = real_canary(client, namespace, spec)
    created = create_all(client, istio.desired(canary), canary, istio.reconciled)
    drs, vs = created[:2], created[2]
    assert [d["spec"]["host"] for d in drs] == ["podinfo-canary", "podinfo-primary"]
    assert vs["metadata"]["ownerReferences"][0]["uid"] == canary["metadata"]["uid"]

    sticky = copy.deepcopy(canary)
    sticky["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "c", "primaryCookieName": "p", "maxAge": 60}
    ab = copy.deepcopy(canary)
    ab["spec"]["analysis"]["match"] = [{"headers": {"x-canary": {"exact": "1"}}}]
    for variant, weights, mirrored in ((canary, (60, 40), True), (ab, (0, 100), False), (sticky, (80, 20), False)):
        routed, _ = istio.set_routes(vs, variant, *weights, mirrored)
        client.replace(codecs.from_dict(routed), dry_run=True)
    for weights in ((95, 5), (50, 50), (0, 100)):
        routed, _ = istio.set_routes(live(client, vs), canary, *weights, False)
        client.replace(codecs.from_dict(routed))
        assert istio.get_routes(live(client, vs), canary) == (*weights, False)
    routed, _ = istio.set_routes(live(client, vs), canary, 100, 0, True)
    client.replace(codecs.from_dict(routed))
    assert istio.get_routes(live(client, vs), canary) == (100, 0, True)
    assert istio.reconciled(live(client, vs), istio.virtual_service(canary), canary) is None

    edited = live(client, vs)
    edited["spec"]["http"][0]["timeout"] = "1s"
    edited["spec"]["exportTo"] = ["."]
    client.replace(codecs.from_dict(edited))
    fixed = istio.reconciled(live(client, vs), istio.virtual_service(canary), canary)
    assert fixed is not None
    client.replace(codecs.from_dict(fixed))
    after = live(client, vs)
    assert after["spec"]["http"][0]["timeout"] == "30s"
    assert after["spec"]["exportTo"] == ["."]
    assert json.loads(after["metadata"]["annotations"][istio.ORIGINAL_CONFIGURATION])["http"][0]["timeout"] == "1s"


def test_istio_takes_over_a_user_virtual_service_and_reverts_it(ns: tuple[Client, str]) -> None:
    """A user's VirtualService is taken over (original spec saved, no owner added) and finalize restores it."""
    client, namespace = ns
    canary = real_canary(client, namespace, istio_canary("abtest"))
    user_spec = {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}
    user = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"team": "a"}},
        "spec": user_spec,
    }
    client.create(codecs.from_dict(user))
    taken = istio.reconciled(live(client, user), istio.virtual_service(canary), canary)
    assert taken is not None
    client.replace(codecs.from_dict(taken))
    now = live(client, user)
    assert len(now["spec"]["http"]) == 2
    assert "ownerReferences" not in now["metadata"]
    back = istio.reverted(now, canary)
    assert back is not None
    client.replace(codecs.from_dict(back))
    assert live(client, user)["spec"] == user_spec


FULL_SERVICE: dict[str, Any] = {
    "port": 80,
    "gatewayRefs": [{"name": "public", "namespace": "gw"}],
    "hosts": ["web.example.com"],
    "match": [{"uri": {"prefix": "/api"}, "headers": {"x-a": {"exact": "a"}}}],
    "headers": {"request": {"set": {"b": "2", "a": "1"}}, "response": {"add": {"r": "1"}}},
    "rewrite": {"uri": "/v2", "type": "ReplacePrefixMatch"},
    "mirror": [{"backendRef": {"name": "shadow", "port": 8080}}],
    "corsPolicy": {"allowOrigin": ["https://a.example"], "allowMethods": ["GET"], "maxAge": "1h"},
    "timeout": "30s",
    "backendTimeout": "10s",
}


def gateway_canary(client: Client, namespace: str, **analysis: Any) -> dict[str, Any]:
    return real_canary(
        client,
        namespace,
        {
            "provider": "gatewayapi:v1",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": copy.deepcopy(FULL_SERVICE),
            "analysis": {"interval": "30s", "threshold": 5, **analysis},
        },
    )


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_gatewayapi_route_variants_round_trip(ns: tuple[Client, str], version: Version) -> None:
    """Gateway API's CRDs accept the HTTPRoute and every set_routes variant (weights, A/B, B/G mirror, sticky);
    weights and the mirror flag read back equal."""
    client, namespace = ns
    canary = gateway_canary(client, namespace, stepWeight=10)
    route = create_all(client, [gatewayapi.http_route(canary, version)], canary, gatewayapi.reconciled)[0]
    ab = copy.deepcopy(canary)
    ab["spec"]["analysis"].update(iterations=5, match=[{"queryParams": {"beta": {"exact": "on"}}}])
    bg = copy.deepcopy(canary)
    bg["spec"]["analysis"].update(iterations=5, mirror=True)
    sticky = copy.deepcopy(canary)
    sticky["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "c", "primaryCookieName": "p"}
    for variant, weights, mirrored in ((ab, (0, 100), False), (bg, (100, 0), True), (sticky, (70, 30), False)):
        routed, _ = gatewayapi.set_routes(route, variant, *weights, mirrored)
        client.replace(codecs.from_dict(routed), dry_run=True)
    for variant, weights, mirrored in (
        (canary, (90, 10), False),
        (canary, (40, 60), False),
        (bg, (100, 0), True),
        (sticky, (70, 30), False),
    ):
        routed, _ = gatewayapi.set_routes(live(client, route), variant, *weights, mirrored)
        client.replace(codecs.from_dict(routed))
        assert gatewayapi.get_routes(live(client, route), variant) == (*weights, mirrored)


def test_gatewayapi_reconcile_restores_owned_fields(ns: tuple[Client, str]) -> None:
    """After a user edits the HTTPRoute, reconcile restores the rules and hostnames, keeps in-flight weights out
    of the diff, and keeps annotations another controller added."""
    client, namespace = ns
    canary = gateway_canary(client, namespace, stepWeight=10)
    want = gatewayapi.http_route(canary)
    route = create_all(client, [want], canary, gatewayapi.reconciled)[0]
    routed, _ = gatewayapi.set_routes(route, canary, 70, 30, False)
    client.replace(codecs.from_dict(routed))
    assert gatewayapi.reconciled(live(client, want), want, canary) is None
    edited = live(client, want)
    edited["spec"]["hostnames"] = ["other.example.com"]
    edited["spec"]["rules"][0]["timeouts"] = {"request": "1s"}
    edited["metadata"]["annotations"]["application-networking.k8s.aws/id"] = "x"
    client.replace(codecs.from_dict(edited))
    fixed = gatewayapi.reconciled(live(client, want), want, canary)
    assert fixed is not None
    client.replace(codecs.from_dict(fixed))
    after = live(client, want)
    assert after["spec"]["hostnames"] == ["web.example.com"]
    assert after["spec"]["rules"][0]["timeouts"] == {"request": "30s", "backendRequest": "10s"}
    assert after["metadata"]["annotations"]["application-networking.k8s.aws/id"] == "x"
    assert gatewayapi.reconciled(after, want, canary) is None


def test_gatewayapi_parent_status_gates_get_routes(ns: tuple[Client, str]) -> None:
    """A parent status written through the status subresource with a stale Accepted condition makes get_routes
    fail with Flagger's error; once it catches up, weights read normally."""
    client, namespace = ns
    canary = gateway_canary(client, namespace, stepWeight=10)
    route = create_all(client, [gatewayapi.http_route(canary)], canary, gatewayapi.reconciled)[0]
    generation = route["metadata"]["generation"]
    parent = {
        "parentRef": route["spec"]["parentRefs"][0],
        "controllerName": "example.com/gateway",
        "conditions": [
            {
                "type": "Accepted",
                "status": "True",
                "reason": "Accepted",
                "message": "",
                "observedGeneration": generation - 1 if generation > 1 else 0,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }
    route["status"] = {"parents": [parent]}
    client.replace(HTTPRoute.Status.from_dict(route), name="web")
    with pytest.raises(RouterError, match=r"^HTTPRoute web\..* parent public is not ready \(status: True"):
        gatewayapi.get_routes(live(client, route), canary)
    now = live(client, route)
    now["status"]["parents"][0]["conditions"][0]["observedGeneration"] = generation
    client.replace(HTTPRoute.Status.from_dict(now), name="web")
    assert gatewayapi.get_routes(live(client, route), canary) == (100, 0, False)
