"""The istio router's objects, routes, session cookies, reconcile diff and revert, field for field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from serinus.errors import RouterError
from serinus.routers import istio
from serinus.routers.kubernetes import KUBECTL_LAST_APPLIED
from tests.gomodules import flagger_example

FLUX = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled", "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
OWNER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "name": "podinfo",
    "uid": "u-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def example(name: str) -> dict[str, Any]:
    canary: dict[str, Any] = yaml.safe_load(flagger_example(f"istio-{name}").read_text())
    canary["metadata"]["uid"] = "u-1"
    return canary


def dest(host: str, weight: int, port: int | None = 80) -> dict[str, Any]:
    d: dict[str, Any] = {"host": host}
    if port:
        d["port"] = {"number": port}
    return {"destination": d, "weight": weight}


def test_destination_rules_carry_the_traffic_policy() -> None:
    """Both DestinationRules are `{host, trafficPolicy}` owned by the Canary, canary first as Flagger creates them."""
    rules = istio.destination_rules(example("canary"))
    assert rules == [
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "DestinationRule",
            "metadata": {"name": f"podinfo-{side}", "namespace": "test", "ownerReferences": [OWNER]},
            "spec": {"host": f"podinfo-{side}", "trafficPolicy": {"tls": {"mode": "DISABLE"}}},
        }
        for side in ("canary", "primary")
    ]


def test_virtual_service_of_the_canary_example() -> None:
    """Flagger's canary example gives hosts + apex, its gateways, one rule with match/rewrite/timeout and ported
    destinations (portDiscovery with a non-mesh first gateway) at 100/0."""
    vs = istio.virtual_service(example("canary"))
    assert vs == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test", "annotations": FLUX, "ownerReferences": [OWNER]},
        "spec": {
            "hosts": ["app.example.com", "podinfo"],
            "gateways": ["istio-system/public-gateway", "mesh"],
            "http": [
                {
                    "match": [{"uri": {"prefix": "/"}}],
                    "rewrite": {"uri": "/"},
                    "timeout": "30s",
                    "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
                }
            ],
        },
    }


def test_ab_example_merges_analysis_headers_into_each_service_match() -> None:
    """A/B: rule one matches each analysis header set on the service's uri prefix; rule two sends the rest to the
    primary only."""
    spec = istio.virtual_service(example("abtest"))["spec"]
    common = {"rewrite": {"uri": "/"}, "timeout": "30s"}
    assert spec["http"] == [
        {
            "match": [
                {"uri": {"prefix": "/"}, "headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}},
                {"uri": {"prefix": "/"}, "headers": {"user-agent": {"regex": ".*Firefox.*"}}},
            ],
            "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
            **common,
        },
        {"match": [{"uri": {"prefix": "/"}}], "route": [dest("podinfo-primary", 100)], **common},
    ]


def minimal(**service: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u-2"},
        "spec": {
            "targetRef": {"name": "web"},
            "service": {"port": 9898, **service},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10},
        },
    }


def test_defaults_mesh_gateway_apex_host_and_portless_destinations() -> None:
    """Without hosts and gateways the VirtualService serves the apex on the mesh gateway; no port is named."""
    spec = istio.virtual_service(minimal(portDiscovery=True))["spec"]
    assert spec == {
        "hosts": ["web"],
        "gateways": ["mesh"],
        "http": [{"route": [dest("web-primary", 100, None), dest("web-canary", 0, None)]}],
    }


def test_retries_cors_headers_and_star_host() -> None:
    """Retries, CORS and header operations are copied onto the rule; a `*` host suppresses the apex host."""
    extra = {
        "retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx"},
        "corsPolicy": {"allowOrigin": ["example.com"], "allowMethods": ["GET"], "maxAge": "24h"},
        "headers": {"request": {"add": {"x-a": "1"}}, "response": {"remove": ["x-b"]}},
    }
    spec = istio.virtual_service(minimal(hosts=["*"], **extra))["spec"]
    assert spec["hosts"] == ["*"]
    assert spec["http"][0] == {**extra, "route": [dest("web-primary", 100, None), dest("web-canary", 0, None)]}


def test_tcp_service_gets_a_port_matched_tcp_route() -> None:
    """appProtocol tcp gives a `tcp:` route matching each service match's port."""
    spec = istio.virtual_service(minimal(appProtocol="TCP", match=[{"port": 9898}]))["spec"]
    assert "http" not in spec
    assert spec["tcp"] == [
        {"match": [{"port": 9898}], "route": [dest("web-primary", 100, None), dest("web-canary", 0, None)]}
    ]


def test_delegation_empties_hosts_and_gateways_and_names_ports() -> None:
    """A delegate VirtualService has no hosts or gateways, its destinations name the port; hosts are an error."""
    spec = istio.virtual_service(minimal(delegation=True, portDiscovery=True))["spec"]
    assert spec == {"hosts": [], "http": [{"route": [dest("web-primary", 100, 9898), dest("web-canary", 0, 9898)]}]}
    with pytest.raises(RouterError, match=r"^VirtualService web.ns cannot have hosts and gateways when delegation"):
        istio.virtual_service(minimal(delegation=True, hosts=["a"]))


def test_apex_metadata_goes_on_the_virtual_service() -> None:
    """service.apex labels and annotations are put on the VirtualService next to the Flux keys."""
    meta = istio.virtual_service(minimal(apex={"labels": {"a": "b"}, "annotations": {"c": "d"}}))["metadata"]
    assert meta["labels"] == {"a": "b"}
    assert meta["annotations"] == {"c": "d", **FLUX}


@pytest.mark.parametrize("weights", [(100, 0), (90, 10), (50, 50), (0, 100)])
def test_weights_round_trip(weights: tuple[int, int]) -> None:
    """Each step of a weight sequence set with set_routes reads back unchanged, without a mirror."""
    canary = example("canary")
    vs, status = istio.set_routes(istio.virtual_service(canary), canary, *weights, False)
    assert status == {}
    assert istio.get_routes(vs, canary) == (*weights, False)
    assert vs["spec"]["http"][0]["route"] == [dest("podinfo-primary", weights[0]), dest("podinfo-canary", weights[1])]


def test_mirroring_sets_mirror_and_percentage_on_the_first_rule() -> None:
    """mirrored adds `mirror: {host: <apex>-canary}` and mirrorPercentage from analysis.mirrorWeight."""
    canary = example("canary")
    canary["spec"]["analysis"].update(mirror=True, mirrorWeight=50)
    vs, _ = istio.set_routes(istio.virtual_service(canary), canary, 100, 0, True)
    assert vs["spec"]["http"][0]["mirror"] == {"host": "podinfo-canary"}
    assert vs["spec"]["http"][0]["mirrorPercentage"] == {"value": 50}
    assert istio.get_routes(vs, canary) == (100, 0, True)


def test_ab_set_routes_second_rule_gets_the_primary_weight_quirk() -> None:
    """A/B set_routes rewrites both rules; QUIRK: the non-matching rule carries primary_weight (0 in an A/B run)."""
    canary = example("abtest")
    vs, _ = istio.set_routes(istio.virtual_service(canary), canary, 0, 100, False)
    assert [r["route"] for r in vs["spec"]["http"]] == [
        [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
        [dest("podinfo-primary", 0)],
    ]
    assert istio.get_routes(vs, canary) == (0, 100, False)


def test_get_routes_without_canary_routes_is_flaggers_error() -> None:
    """A VirtualService with no route to the canary fails with Flagger's message."""
    canary = example("canary")
    with pytest.raises(
        RouterError,
        match=r"^VirtualService podinfo.test does not contain routes for podinfo-primary "
        r"and podinfo-canary$",
    ):
        istio.get_routes({"spec": {"http": [{"route": [dest("other", 100)]}]}}, canary)


def sticky(primary_cookie: bool = True, **status: str) -> dict[str, Any]:
    canary = minimal(match=[{"uri": {"prefix": "/api"}}])
    sa: dict[str, Any] = {"cookieName": "flagger-cookie", "maxAge": 600, "path": "/", "secure": True}
    if primary_cookie:
        sa["primaryCookieName"] = "primary-cookie"
    canary["spec"]["analysis"]["sessionAffinity"] = sa
    canary["status"] = status
    return canary


def test_session_affinity_sticky_rules_and_cookies() -> None:
    """With traffic on the canary: cookies are generated, destinations set them, sticky rules pin each cookie
    holder to its side ahead of the weighted rule, and weights read from the cookie-setting rule."""
    canary = sticky()
    vs, status = istio.set_routes(istio.virtual_service(canary), canary, 90, 10, False, rand=lambda: "abcdefghij")
    assert status == {
        "sessionAffinityCookie": "flagger-cookie=abcdefghij",
        "primarySessionAffinityCookie": "primary-cookie=abcdefghij",
        "previousSessionAffinityCookie": "",
    }
    http = vs["spec"]["http"]
    assert http[0] == {
        "match": [{"uri": {"prefix": "/api"}, "headers": {"Cookie": {"regex": ".*flagger-cookie.*abcdefghij.*"}}}],
        "route": [dest("web-primary", 0, None), dest("web-canary", 100, None)],
    }
    assert http[1]["match"][0]["headers"] == {"Cookie": {"regex": ".*primary-cookie.*abcdefghij.*"}}
    assert http[1]["route"] == [dest("web-primary", 100, None), dest("web-canary", 0, None)]
    assert http[2]["route"] == [
        {
            **dest("web-primary", 90, None),
            "headers": {"response": {"add": {"Set-Cookie": "primary-cookie=abcdefghij; Max-Age=60; Path=/; Secure"}}},
        },
        {
            **dest("web-canary", 10, None),
            "headers": {"response": {"add": {"Set-Cookie": "flagger-cookie=abcdefghij; Max-Age=600; Path=/; Secure"}}},
        },
    ]
    assert istio.get_routes(vs, canary) == (90, 10, False)


def test_session_affinity_keeps_existing_cookies_and_expires_them_at_zero() -> None:
    """Stored cookies are reused; at canary weight 0 the cookie becomes previous and a rule deletes it."""
    canary = sticky(primary_cookie=False, sessionAffinityCookie="flagger-cookie=XYZ")
    vs, status = istio.set_routes(istio.virtual_service(canary), canary, 80, 20, False, rand=lambda: "new")
    assert status["sessionAffinityCookie"] == "flagger-cookie=XYZ"
    assert status["primarySessionAffinityCookie"] == "=new"  # QUIRK: Flagger fills it even without a name
    assert len(vs["spec"]["http"]) == 2
    vs, status = istio.set_routes(vs, canary, 100, 0, False)
    assert status == {
        "sessionAffinityCookie": "",
        "primarySessionAffinityCookie": "",
        "previousSessionAffinityCookie": "flagger-cookie=XYZ",
    }
    first = vs["spec"]["http"][0]
    assert first["match"][0]["headers"] == {"Cookie": {"regex": ".*flagger-cookie.*XYZ.*"}}
    assert first["headers"] == {"response": {"add": {"Set-Cookie": "flagger-cookie=XYZ; Max-Age=-1"}}}
    assert "headers" not in vs["spec"]["http"][1]


def test_reconcile_ignores_weights_mirrors_and_keeps_metadata_keys() -> None:
    """A live VirtualService that differs only in weights and mirror needs no write."""
    canary = example("canary")
    want = istio.virtual_service(canary)
    live, _ = istio.set_routes(want, canary, 60, 40, True)
    live["metadata"]["resourceVersion"] = "7"
    assert istio.reconciled(live, want, canary) is None


def test_reconcile_restores_an_edited_rule_and_stores_the_original() -> None:
    """A changed timeout is restored, user spec keys outside Serinus's are kept, and the previous spec is saved in
    the original-configuration annotation (there is no kubectl annotation)."""
    canary = example("canary")
    want = istio.virtual_service(canary)
    live = copy.deepcopy(want)
    live["spec"]["http"][0]["timeout"] = "5s"
    live["spec"]["exportTo"] = ["."]
    live["metadata"]["annotations"]["someone"] = "else"
    out = istio.reconciled(live, want, canary)
    assert out is not None
    assert out["spec"] == {**want["spec"], "exportTo": ["."]}
    saved = json.loads(out["metadata"]["annotations"][istio.ORIGINAL_CONFIGURATION])
    assert saved["http"][0]["timeout"] == "5s"
    assert "someone" not in out["metadata"]["annotations"]
    assert out["metadata"]["ownerReferences"] == [OWNER]


def test_takeover_of_a_user_virtual_service_and_revert() -> None:
    """A user's VirtualService is rewritten without an owner reference, keeps its kubectl annotation, and finalize
    restores the spec from that annotation."""
    canary = example("canary")
    user_spec = {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}
    last = json.dumps({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "spec": user_spec})
    user = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test", "annotations": {KUBECTL_LAST_APPLIED: last}},
        "spec": user_spec,
    }
    out = istio.reconciled(user, istio.virtual_service(canary), canary)
    assert out is not None
    assert "ownerReferences" not in out["metadata"]
    assert istio.ORIGINAL_CONFIGURATION not in out["metadata"]["annotations"]
    assert out["metadata"]["annotations"][KUBECTL_LAST_APPLIED] == last
    back = istio.reverted(out, canary)
    assert back is not None
    assert back["spec"] == user_spec


def test_revert_from_original_configuration_or_nothing() -> None:
    """Finalize restores from the original-configuration annotation; without either annotation it does nothing."""
    canary = example("canary")
    vs = istio.virtual_service(canary)
    assert istio.reverted(vs, canary) is None
    assert istio.revert_missing_message(canary) == (
        "VirtualService podinfo.test original configuration not found, unable to revert"
    )
    vs["metadata"]["annotations"][istio.ORIGINAL_CONFIGURATION] = '{"hosts":["x"]}'
    back = istio.reverted(vs, canary)
    assert back is not None
    assert back["spec"] == {"hosts": ["x"]}


def test_reconcile_with_session_affinity_ignores_sticky_rules() -> None:
    """Under session affinity the sticky rules and cookie headers do not count as drift."""
    canary = sticky()
    want = istio.virtual_service(canary)
    live, _ = istio.set_routes(want, canary, 70, 30, False)
    assert istio.reconciled(live, want, canary) is None


def test_destination_rule_reconcile_restores_policy_and_keeps_other_keys() -> None:
    """An edited trafficPolicy is restored; a key Serinus does not own (exportTo) is kept; no change, no write."""
    canary = example("canary")
    want = istio.destination_rules(canary)[0]
    assert istio.reconciled(copy.deepcopy(want), want, canary) is None
    live = copy.deepcopy(want)
    live["spec"].update(trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}}, exportTo=["."])
    out = istio.reconciled(live, want, canary)
    assert out is not None
    assert out["spec"] == {**want["spec"], "exportTo": ["."]}
