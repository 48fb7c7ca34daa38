"""The Gateway API routers' HTTPRoute, routes, cookies and reconcile diff, v1 and v1beta1, field for field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import gatewayapi

FLUX = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled", "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
GATEWAY = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gw"}


def canary(**service: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u-1"},
        "spec": {
            "targetRef": {"name": "web"},
            "service": {"port": 80, "gatewayRefs": [GATEWAY], "hosts": ["web.example.com"], **service},
            "analysis": {"interval": "30s", "threshold": 5, "stepWeight": 10},
        },
    }


def backend(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 80, "weight": weight}


ROOT = {"path": {"type": "PathPrefix", "value": "/"}}


def test_minimal_http_route() -> None:
    """parentRefs, hostnames, `PathPrefix /` and primary/canary backends at 100/0, owned, with the Flux keys."""
    assert gatewayapi.http_route(canary()) == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "annotations": FLUX,
            "ownerReferences": [
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "name": "web",
                    "uid": "u-1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "parentRefs": [GATEWAY],
            "hostnames": ["web.example.com"],
            "rules": [{"matches": [ROOT], "backendRefs": [backend("web-primary", 100), backend("web-canary", 0)]}],
        },
    }


FULL = dict(
    match=[
        {
            "uri": {"prefix": "/api"},
            "method": {"exact": "GET"},
            "headers": {"x-b": {"regex": "b.*"}, "x-a": {"exact": "a"}},
            "queryParams": {"q": {"exact": "1"}},
        }
    ],
    headers={
        "request": {"set": {"b": "2", "a": "1"}, "add": {"z": "9"}, "remove": ["x"]},
        "response": {"add": {"r": "1"}},
    },
    rewrite={"uri": "/v2", "authority": "internal", "type": "ReplacePrefixMatch"},
    mirror=[{"backendRef": {"name": "shadow", "port": 8080}}],
    corsPolicy={
        "allowOrigin": ["https://a.example"],
        "allowMethods": ["GET"],
        "allowHeaders": ["x-h"],
        "exposeHeaders": ["x-e"],
        "allowCredentials": True,
        "maxAge": "24h",
        "allowOrigins": [{"exact": "dropped"}],
    },
    timeout="30s",
    backendTimeout="10s",
)
FULL_MATCH = {
    "path": {"type": "PathPrefix", "value": "/api"},
    "method": "GET",
    "headers": [
        {"name": "x-a", "type": "Exact", "value": "a"},
        {"name": "x-b", "type": "RegularExpression", "value": "b.*"},
    ],
    "queryParams": [{"name": "q", "type": "Exact", "value": "1"}],
}
HEADER_FILTERS = [
    {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {
            "add": [{"name": "z", "value": "9"}],
            "set": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}],
            "remove": ["x"],
        },
    },
    {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "r", "value": "1"}]}},
    {
        "type": "URLRewrite",
        "urlRewrite": {"hostname": "internal", "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}},
    },
    {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "shadow", "port": 8080}}},
]


def test_v1_rule_maps_matches_filters_cors_and_timeouts() -> None:
    """v1: matches mapped (headers sorted), header filters sorted, URLRewrite, RequestMirror, CORS (max age in
    seconds, patterns dropped) and request/backendRequest timeouts."""
    rule = gatewayapi.http_route(canary(**FULL))["spec"]["rules"][0]
    assert rule == {
        "matches": [FULL_MATCH],
        "filters": [
            *HEADER_FILTERS,
            {
                "type": "CORS",
                "cors": {
                    "allowOrigins": ["https://a.example"],
                    "allowMethods": ["GET"],
                    "allowHeaders": ["x-h"],
                    "exposeHeaders": ["x-e"],
                    "allowCredentials": True,
                    "maxAge": 86400,
                },
            },
        ],
        "backendRefs": [backend("web-primary", 100), backend("web-canary", 0)],
        "timeouts": {"request": "30s", "backendRequest": "10s"},
    }


def test_v1beta1_has_no_cors_and_no_timeouts() -> None:
    """v1beta1 leaves out the CORS filter and timeouts."""
    route = gatewayapi.http_route(canary(**FULL), "v1beta1")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    assert route["spec"]["rules"][0] == {
        "matches": [FULL_MATCH],
        "filters": HEADER_FILTERS,
        "backendRefs": [backend("web-primary", 100), backend("web-canary", 0)],
    }


def test_unsupported_match_and_missing_gateway_refs_are_flaggers_errors() -> None:
    """A suffix uri match and a Canary without gatewayRefs fail with Flagger's messages."""
    with pytest.raises(
        RouterError,
        match=r"^Invalid request matching selectors: Gateway API doesn't support the "
        r"specified path matching selector: &\{Exact: Prefix: Suffix:/x Regex:\}",
    ):
        gatewayapi.http_route(canary(match=[{"uri": {"suffix": "/x"}}]))
    no_refs = canary()
    del no_refs["spec"]["service"]["gatewayRefs"]
    with pytest.raises(RouterError, match=r"^GatewayRefs must be specified when using Gateway API as a provider\.$"):
        gatewayapi.http_route(no_refs)


def ab(**service: Any) -> dict[str, Any]:
    c = canary(**service)
    c["spec"]["analysis"] = {
        "interval": "1m",
        "iterations": 10,
        "threshold": 2,
        "match": [{"headers": {"x-canary": {"exact": "insider"}}}, {"queryParams": {"beta": {"regex": "on"}}}],
    }
    return c


def test_ab_rules_merge_analysis_into_service_matches() -> None:
    """A/B: the first rule carries each analysis match on the service path; the second sends the rest to primary."""
    c = ab(match=[{"uri": {"exact": "/app"}}])
    rules = gatewayapi.http_route(c)["spec"]["rules"]
    path = {"type": "Exact", "value": "/app"}
    assert rules == [
        {
            "matches": [
                {"path": path, "headers": [{"name": "x-canary", "type": "Exact", "value": "insider"}]},
                {"path": path, "queryParams": [{"name": "beta", "type": "RegularExpression", "value": "on"}]},
            ],
            "backendRefs": [backend("web-primary", 100), backend("web-canary", 0)],
        },
        {"matches": [{"path": path}], "backendRefs": [backend("web-primary", 100)]},
    ]
    route, _ = gatewayapi.set_routes(gatewayapi.http_route(c), c, 0, 100, False)
    assert route["spec"]["rules"][1]["backendRefs"] == [backend("web-primary", 100)]
    assert gatewayapi.get_routes(route, c) == (0, 100, False)


@pytest.mark.parametrize("weights", [(100, 0), (80, 20), (0, 100)])
def test_weights_round_trip(weights: tuple[int, int]) -> None:
    """Each step of a weight sequence reads back unchanged."""
    c = canary()
    route, status = gatewayapi.set_routes(gatewayapi.http_route(c), c, *weights, False)
    assert status == {}
    assert gatewayapi.get_routes(route, c) == (*weights, False)


def test_blue_green_mirroring_adds_a_request_mirror_only_with_iterations() -> None:
    """mirrored adds a RequestMirror to the canary Service in blue/green; a progressive canary gets none."""
    c = canary()
    c["spec"]["analysis"].update(iterations=5, mirror=True)
    route, _ = gatewayapi.set_routes(gatewayapi.http_route(c), c, 100, 0, True)
    assert route["spec"]["rules"][0]["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"group": "", "kind": "Service", "name": "web-canary", "port": 80}},
        }
    ]
    assert gatewayapi.get_routes(route, c) == (100, 0, True)
    progressive = canary()
    route, _ = gatewayapi.set_routes(gatewayapi.http_route(progressive), progressive, 100, 0, True)
    assert gatewayapi.get_routes(route, progressive) == (100, 0, False)


def with_affinity(c: dict[str, Any], **status: str) -> dict[str, Any]:
    c["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "c", "primaryCookieName": "p", "maxAge": 60}
    c["status"] = status
    return c


def cookie_filter(value: str) -> dict[str, Any]:
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": value}]},
    }


def test_v1_session_affinity_rules() -> None:
    """v1: sticky canary and primary rules precede the weighted rule, whose backends set the cookies; weights are
    read from the weighted rule."""
    c = with_affinity(canary())
    route, status = gatewayapi.set_routes(gatewayapi.http_route(c), c, 70, 30, False, rand=lambda: "R")
    assert status == {
        "sessionAffinityCookie": "c=R",
        "primarySessionAffinityCookie": "p=R",
        "previousSessionAffinityCookie": "",
    }
    rules = route["spec"]["rules"]
    assert rules[0] == {
        "matches": [{"headers": [{"name": "Cookie", "type": "RegularExpression", "value": ".*c.*R.*"}]}],
        "backendRefs": [backend("web-primary", 0), backend("web-canary", 100)],
    }
    assert rules[1]["backendRefs"] == [backend("web-primary", 100), backend("web-canary", 0)]
    assert rules[2]["backendRefs"] == [
        {**backend("web-primary", 70), "filters": [cookie_filter("p=R; Max-Age=30")]},
        {**backend("web-canary", 30), "filters": [cookie_filter("c=R; Max-Age=60")]},
    ]
    assert gatewayapi.get_routes(route, c) == (70, 30, False)
    assert gatewayapi.reconciled(route, gatewayapi.http_route(c), c) is None


def test_v1beta1_session_affinity_has_only_the_canary_cookie_and_expires_it() -> None:
    """v1beta1: one sticky rule and no primary cookie; at weight 0 a rule deletes the previous cookie."""
    c = with_affinity(canary())
    route, status = gatewayapi.set_routes(gatewayapi.http_route(c, "v1beta1"), c, 90, 10, False, rand=lambda: "Q")
    assert status["primarySessionAffinityCookie"] == ""
    assert len(route["spec"]["rules"]) == 2
    c["status"] = status
    route, status = gatewayapi.set_routes(route, c, 100, 0, False)
    assert status["previousSessionAffinityCookie"] == "c=Q"
    assert route["spec"]["rules"][0]["filters"] == [cookie_filter("c=Q; Max-Age=-1")]


def test_parent_not_ready_is_flaggers_error() -> None:
    """A parent whose Accepted condition lags the route generation halts get_routes with Flagger's message."""
    c = canary()
    route = gatewayapi.http_route(c)
    route["metadata"]["generation"] = 3
    route["status"] = {
        "parents": [
            {
                "parentRef": GATEWAY,
                "controllerName": "x",
                "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 2}],
            }
        ]
    }
    with pytest.raises(
        RouterError,
        match=r"^HTTPRoute web.ns parent public is not ready \(status: True, observed "
        r"generation: 2, current generation: 3\)$",
    ):
        gatewayapi.get_routes(route, c)
    route["status"]["parents"][0]["conditions"][0]["observedGeneration"] = 3
    assert gatewayapi.get_routes(route, c) == (100, 0, False)


def test_reconcile_restores_owned_fields_and_keeps_other_annotations() -> None:
    """An edited rule is restored, weights are left out of the diff, another controller's annotation is kept."""
    c = canary(timeout="5s")
    want = gatewayapi.http_route(c)
    live, _ = gatewayapi.set_routes(want, c, 50, 50, False)
    live["metadata"]["annotations"]["application-networking.k8s.aws/x"] = "y"
    assert gatewayapi.reconciled(live, want, c) is None
    live["spec"]["rules"][0]["timeouts"] = {"request": "1s"}
    out = gatewayapi.reconciled(live, want, c)
    assert out is not None
    assert out["spec"] == want["spec"]
    assert out["metadata"]["annotations"]["application-networking.k8s.aws/x"] == "y"


def test_reconcile_ignores_schema_defaults() -> None:
    """Defaults the apiserver fills in (parentRef group/kind, backend weight, CORS maxAge) are not drift."""
    c = canary(corsPolicy={"allowOrigin": ["https://a"]})
    c["spec"]["service"]["gatewayRefs"] = [{"name": "public"}]
    want = gatewayapi.http_route(c)
    live = copy.deepcopy(want)
    live["spec"]["parentRefs"][0].update(group="gateway.networking.k8s.io", kind="Gateway")
    live["spec"]["rules"][0]["filters"][0]["cors"]["maxAge"] = 5
    assert gatewayapi.reconciled(live, want, c) is None
