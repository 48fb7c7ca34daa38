"""The kuma, apisix and gloo routers' objects: created, routed, read back and reconciled field for field as Flagger
writes them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import apisix, gloo, kuma

FLUX = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled", "helm.toolkit.fluxcd.io/driftDetection": "disabled"}


def canary(**spec: Any) -> dict[str, Any]:
    """A podinfo Canary in `test`, port 9898."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1", "annotations": {"kuma.io/mesh": "m1"}},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, "apex": {"labels": {"team": "a"}}},
            **spec,
        },
    }


# --- kuma --------------------------------------------------------------------------------------------------------


def test_kuma_traffic_route_as_created() -> None:
    """Cluster-scoped, no owner, the Canary's mesh, every source, the apex destination, 100/0 split."""
    tr = kuma.traffic_route(canary())
    assert tr == {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "TrafficRoute",
        "mesh": "m1",
        "metadata": {"name": "podinfo", "labels": {"team": "a"}, "annotations": FLUX},
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "destinations": [{"match": {"kuma.io/service": "podinfo_test_svc_9898"}}],
            "conf": {
                "split": [
                    {"weight": 100, "destination": {"kuma.io/service": "podinfo-primary_test_svc_9898"}},
                    {"weight": 0, "destination": {"kuma.io/service": "podinfo-canary_test_svc_9898"}},
                ]
            },
        },
    }
    plain = canary()
    del plain["metadata"]["annotations"]
    assert kuma.traffic_route(plain)["mesh"] == "default"


def test_kuma_routes_round_trip_and_reconcile_keeps_weights() -> None:
    """set_routes(70, 30) reads back as (70, 30); reconcile leaves weights alone but restores a changed source."""
    c = canary()
    routed = kuma.set_routes(kuma.traffic_route(c), c, 70, 30)
    assert kuma.get_routes(routed, c) == (70, 30, False)
    assert kuma.reconciled(routed, c) is None
    drifted = copy.deepcopy(routed)
    drifted["spec"]["sources"] = [{"match": {"kuma.io/service": "frontend_test_svc_80"}}]
    fixed = kuma.reconciled(drifted, c)
    assert fixed is not None
    assert fixed["spec"]["sources"] == [{"match": {"kuma.io/service": "*"}}]
    with pytest.raises(RouterError, match="does not contain routes for podinfo-primary and podinfo-canary"):
        kuma.get_routes({"spec": {"conf": {"split": []}}}, c)


# --- apisix ------------------------------------------------------------------------------------------------------

USER_ROUTE: dict[str, Any] = {
    "apiVersion": "apisix.apache.org/v2",
    "kind": "ApisixRoute",
    "metadata": {"name": "web", "namespace": "test", "labels": {"app": "web"}, "annotations": {"a": "b"}},
    "spec": {
        "http": [
            {
                "name": "other",
                "match": {"paths": ["/other"]},
                "backends": [{"serviceName": "other", "servicePort": 80}],
            },
            {
                "name": "method",
                "match": {"hosts": ["app.example.com"], "paths": ["/*"]},
                "plugins": [{"name": "prometheus", "enable": True}],
                "backends": [{"serviceName": "podinfo", "servicePort": 9898, "resolveGranularity": "service"}],
            },
        ]
    },
}


def test_apisix_canary_route_copies_the_apex_route() -> None:
    """Only the route with the apex backend, priority 10000, primary 100 and canary 0 with the port copied."""
    c = canary(routeRef={"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "web"})
    route = apisix.new_canary_route(USER_ROUTE, c)
    assert route["metadata"]["name"] == "web-podinfo-canary"
    assert route["metadata"]["labels"] == {"app": "web"}
    assert route["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    (http,) = route["spec"]["http"]
    assert http["name"] == "method"
    assert http["priority"] == 10000
    assert http["plugins"] == [{"name": "prometheus", "enable": True}]
    assert http["backends"] == [
        {"serviceName": "podinfo-primary", "servicePort": 9898, "resolveGranularity": "service", "weight": 100},
        {"serviceName": "podinfo-canary", "weight": 0, "servicePort": 9898, "resolveGranularity": "service"},
    ]
    routed = apisix.set_routes(route, c, 40, 60)
    assert apisix.get_routes(routed, c) == (40, 60, False)
    assert apisix.reconciled(routed, USER_ROUTE, c) is None
    user = copy.deepcopy(USER_ROUTE)
    user["spec"]["http"][1]["match"]["paths"] = ["/v2/*"]
    fixed = apisix.reconciled(routed, user, c)
    assert fixed is not None
    assert fixed["spec"]["http"][0]["match"]["paths"] == ["/v2/*"]


def test_apisix_errors_are_flaggers() -> None:
    """No routeRef, no apex backend, or two backends on the apex route: Flagger's errors."""
    with pytest.raises(RouterError, match="apisix route selector is empty"):
        apisix.new_canary_route(USER_ROUTE, canary())
    c = canary(routeRef={"name": "web"}, service={"port": 9898, "name": "missing"})
    with pytest.raises(RouterError, match=r"Can not find missing backend on apisix route web\.test"):
        apisix.new_canary_route(USER_ROUTE, c)
    two = copy.deepcopy(USER_ROUTE)
    two["spec"]["http"][1]["backends"].append({"serviceName": "x", "servicePort": 1})
    with pytest.raises(RouterError, match="only one http backend is supported"):
        apisix.new_canary_route(two, canary(routeRef={"name": "web"}))


# --- gloo --------------------------------------------------------------------------------------------------------


def test_gloo_route_table_and_upstreams() -> None:
    """RouteTable: inheritable path matchers, primary upstream at 100, canary's weight left out at 0; upstreams are
    kube upstreams with the config upstream's settings."""
    c = canary()
    rt = gloo.route_table(c)
    assert rt["apiVersion"] == "gateway.solo.io/v1"
    assert rt["spec"] == {
        "routes": [
            {
                "routeAction": {
                    "multi": {
                        "destinations": [
                            {
                                "destination": {
                                    "upstream": {"name": "test-podinfo-primaryupstream-9898", "namespace": "test"}
                                },
                                "weight": 100,
                            },
                            {
                                "destination": {
                                    "upstream": {"name": "test-podinfo-canaryupstream-9898", "namespace": "test"}
                                }
                            },
                        ]
                    }
                },
                "inheritablePathMatchers": True,
            }
        ]
    }
    config = {
        "spec": {
            "loadBalancerConfig": {"roundRobin": {}},
            "useHttp2": True,
            "labels": {"team": "a", "x": "y"},
            "kube": {"serviceName": "ignored"},
        }
    }
    up = gloo.upstream(
        c, "test-podinfo-primaryupstream-9898", "podinfo-primary", {"app": "podinfo-primary"}, config, ("team",)
    )
    assert up["apiVersion"] == "gloo.solo.io/v1"
    assert up["metadata"]["labels"] == {"team": "a"}
    assert up["spec"] == {
        "loadBalancerConfig": {"roundRobin": {}},
        "useHttp2": True,
        "labels": {"team": "a", "x": "y"},
        "kube": {
            "serviceName": "podinfo-primary",
            "serviceNamespace": "test",
            "servicePort": 9898,
            "selector": {"app": "podinfo-primary"},
        },
    }
    assert gloo.upstream_drift(up, config) is None
    assert gloo.upstream_drift(up, {"spec": {"loadBalancerConfig": {"leastRequest": {}}}}) == {
        "spec": {"loadBalancerConfig": {"roundRobin": None, "leastRequest": {}}}
    }


def test_gloo_ab_matchers_and_weights() -> None:
    """A/B header (exact and regex) and method matches become one matcher; weights round-trip."""
    c = canary(
        analysis={
            "iterations": 5,
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"user-agent": {"regex": ".*Firefox.*"}}, "method": {"exact": "GET"}},
            ],
        }
    )
    routed = gloo.set_routes(gloo.route_table(c), c, 0, 100)
    route = routed["spec"]["routes"][0]
    assert route["matchers"] == [
        {
            "headers": [
                {"name": "x-canary", "value": "insider"},
                {"name": "user-agent", "value": ".*Firefox.*", "regex": True},
            ],
            "methods": ["GET"],
        }
    ]
    assert gloo.get_routes(routed, c) == (0, 100, False)
    assert gloo.reconciled(routed, c) is None
    with pytest.raises(RouterError, match="no valid weights"):
        gloo.set_routes(routed, c, 0, 0)


def test_reconcile_restores_what_serinus_owns_and_keeps_the_rest() -> None:
    """Someone edits a generated RouteTable: a wrong destination is restored, their annotation and their
    top-level spec key stay, our Flux annotations come back; weights in flight are kept out of the comparison."""
    c = canary()
    live = gloo.set_routes(gloo.route_table(c), c, 60, 40)
    live["metadata"]["annotations"] = {"team.example.com/owner": "payments"}
    live["spec"]["weight"] = 5
    live["spec"]["routes"][0]["inheritablePathMatchers"] = False
    fixed = gloo.reconciled(live, c)
    assert fixed is not None
    assert fixed["metadata"]["annotations"] == {"team.example.com/owner": "payments", **FLUX}
    assert fixed["spec"]["weight"] == 5
    assert fixed["spec"]["routes"][0]["inheritablePathMatchers"] is True
    assert gloo.reconciled(fixed, c) is None
    tr = kuma.set_routes(kuma.traffic_route(c), c, 80, 20)
    tr["metadata"]["annotations"]["kuma.io/display-name"] = "podinfo"
    assert kuma.reconciled(tr, c) is None  # another controller's annotation is not drift
