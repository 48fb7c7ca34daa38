"""The contour router's HTTPProxy, field for field as Flagger builds it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import contour

CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {
            "port": 9898,
            "timeout": "15s",
            "match": [{"uri": {"prefix": "/api"}}],
            "retries": {"attempts": 3, "perTryTimeout": "5s", "retryOn": "5xx,gateway-error"},
        },
        "analysis": {"interval": "1m", "stepWeight": 10},
    },
}


def test_created_proxy_routes_everything_to_the_primary() -> None:
    """One route on the service prefix, timeout and retry policies, both services with Linkerd's override header;
    the canary's zero weight is left out as Go leaves it out."""
    proxy = contour.http_proxy(CANARY, ingress_class="contour-internal")
    assert proxy["apiVersion"] == "projectcontour.io/v1"
    assert proxy["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    route = proxy["spec"]["routes"][0]
    assert route["conditions"] == [{"prefix": "/api"}]
    assert route["timeoutPolicy"] == {"response": "15s", "idle": "5m"}
    assert route["retryPolicy"] == {"count": 3, "perTryTimeout": "5s", "retryOn": ["5xx", "gateway-error"]}
    primary, canary = route["services"]
    assert (primary["name"], primary["port"], primary["weight"]) == ("podinfo-primary", 9898, 100)
    assert "weight" not in canary
    assert canary["requestHeadersPolicy"]["set"] == [
        {"name": "l5d-dst-override", "value": "podinfo-canary.test.svc.cluster.local:9898"}
    ]
    assert proxy["spec"]["ingressClassName"] == "contour-internal"


def test_weights_round_trip_and_zero_zero_is_refused() -> None:
    """set_routes(70, 30) reads back as (70, 30); (0, 0) is Flagger's error."""
    routed = contour.set_routes(contour.http_proxy(CANARY), CANARY, 70, 30)
    assert contour.get_routes(routed, CANARY) == (70, 30, False)
    with pytest.raises(RouterError, match="no valid weights"):
        contour.set_routes(routed, CANARY, 0, 0)


def test_ab_testing_matches_headers_then_sends_the_rest_to_the_primary() -> None:
    """analysis.match: exact stays exact, prefix and suffix become contains; a second route keeps 100/0."""
    ab = copy.deepcopy(CANARY)
    ab["spec"]["analysis"] = {
        "iterations": 5,
        "match": [{"headers": {"x-canary": {"exact": "insider"}, "user-agent": {"prefix": "Mozilla"}}}],
    }
    routed = contour.set_routes(contour.http_proxy(ab), ab, 0, 100)
    first, second = routed["spec"]["routes"]
    assert first["conditions"] == [
        {"prefix": "/api", "header": {"name": "user-agent", "contains": "Mozilla"}},
        {"prefix": "/api", "header": {"name": "x-canary", "exact": "insider"}},
    ]
    assert [s.get("weight", 0) for s in first["services"]] == [0, 100]
    assert [s.get("weight", 0) for s in second["services"]] == [100, 0]


def test_reconcile_ignores_weights_in_flight() -> None:
    """A routed proxy is in line; a changed timeout is put back."""
    routed = contour.set_routes(contour.http_proxy(CANARY), CANARY, 50, 50)
    assert contour.reconciled(routed, CANARY) is None
    routed["spec"]["routes"][0]["timeoutPolicy"]["response"] = "1s"
    fixed = contour.reconciled(routed, CANARY)
    assert fixed is not None
    assert fixed["spec"]["routes"][0]["timeoutPolicy"]["response"] == "15s"
