"""The skipper router's canary Ingress, as Flagger builds it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import skipper

CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"},
        "service": {"port": 80},
    },
}
INGRESS: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "podinfo",
        "namespace": "test",
        "uid": "u-ing",
        "annotations": {"zalando.org/skipper-predicate": 'Method("GET")'},
    },
    "spec": {
        "rules": [
            {
                "host": "app.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "podinfo", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    },
}


def test_canary_ingress_has_both_backends_and_wins_over_the_users() -> None:
    """podinfo-canary: paths to primary and canary, weights 100/0, `Weight(100) && <user's predicates>`."""
    ing = skipper.new_canary_ingress(INGRESS, CANARY)
    assert ing["metadata"]["name"] == "podinfo-canary"
    assert "uid" not in ing["metadata"]
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["podinfo-primary", "podinfo-canary"]
    annotations = ing["metadata"]["annotations"]
    assert json.loads(annotations["zalando.org/backend-weights"]) == {"podinfo-primary": 100, "podinfo-canary": 0}
    assert annotations["zalando.org/skipper-predicate"] == 'Weight(100) && Method("GET")'
    assert INGRESS["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "podinfo"


def test_weights_enable_the_canary_routes_and_read_back() -> None:
    """set_routes(90, 10): weights set; back to (100, 0), False() replaces Weight(100), as in Flagger."""
    routed = skipper.set_routes(skipper.new_canary_ingress(INGRESS, CANARY), CANARY, 90, 10)
    assert routed["metadata"]["annotations"]["zalando.org/skipper-predicate"] == 'Weight(100) && Method("GET")'
    assert skipper.get_routes(routed, CANARY) == (90, 10, False)
    back = skipper.set_routes(routed, CANARY, 100, 0)
    assert back["metadata"]["annotations"]["zalando.org/skipper-predicate"] == 'False() && Method("GET")'
    assert skipper.get_routes(back, CANARY) == (100, 0, False)


def test_missing_backend_and_weights_are_errors() -> None:
    """An Ingress without the apex backend, and a canary Ingress without weights, are Flagger's errors."""
    other = json.loads(json.dumps(INGRESS))
    other["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "else"
    with pytest.raises(RouterError, match="backend podinfo not found in ingress podinfo"):
        skipper.new_canary_ingress(other, CANARY)
    with pytest.raises(RouterError, match="get backendWeights error"):
        skipper.get_routes({"metadata": {"annotations": {}}}, CANARY)
