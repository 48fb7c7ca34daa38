"""The appmesh:v1beta2 router's objects, field for field as Flagger's AppMeshv1beta2Router writes them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import appmesh


def canary(**service: Any) -> dict[str, Any]:
    """A podinfo Canary in `test` on port 9898 (container port 9898)."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "uid": "u-1",
            "annotations": {"appmesh.flagger.app/accesslog": "enabled"},
        },
        "spec": {
            "provider": "appmesh:v1beta2",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, **service},
            "analysis": {"stepWeight": 10},
        },
    }


def test_virtual_nodes() -> None:
    """Listener on the target port with the timeout, DNS host, pod selector, backends by name or ARN, access log."""
    c = canary(targetPort=8080, timeout="15s", backends=["backend1", "arn:aws:appmesh:eu-west-1:1:mesh/m/vs/x"])
    primary, canary_node = appmesh.virtual_nodes(c, "app")
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert primary["spec"] == {
        "listeners": [
            {
                "portMapping": {"port": 8080, "protocol": "http"},
                "timeout": {"http": {"perRequest": {"unit": "ms", "value": 15000}}},
            }
        ],
        "serviceDiscovery": {"dns": {"hostname": "podinfo-primary.test.svc.cluster.local."}},
        "podSelector": {"matchLabels": {"app": "podinfo-primary"}},
        "backends": [
            {"virtualService": {"virtualServiceRef": {"name": "backend1"}}},
            {"virtualService": {"virtualServiceARN": "arn:aws:appmesh:eu-west-1:1:mesh/m/vs/x"}},
        ],
        "logging": {"accessLog": {"file": {"path": "/dev/stdout"}}},
    }
    assert canary_node["spec"]["podSelector"] == {"matchLabels": {"app": "podinfo"}}
    assert appmesh.virtual_nodes(canary(portName="grpc"), "app")[0]["spec"]["listeners"][0]["portMapping"] == {
        "port": 9898,
        "protocol": "grpc",
    }


def test_routers_services_and_weights() -> None:
    """Apex router 0/100 and canary router 100/0 with prefix, timeout and retries; services name their router;
    the apex service carries the gateway annotations."""
    c = canary(
        timeout="5s",
        retries={"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx,gateway-error"},
        hosts=["app.example.com"],
        match=[{"uri": {"prefix": "/api"}}],
    )
    (apex_router, apex_service), (canary_router, canary_service) = appmesh.routers(c)
    route = apex_router["spec"]["routes"][0]
    assert route["name"] == "podinfo"
    assert route["httpRoute"] == {
        "match": {"prefix": "/api"},
        "action": {
            "weightedTargets": [
                {"virtualNodeRef": {"name": "podinfo-canary"}, "weight": 0},
                {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 100},
            ]
        },
        "timeout": {"perRequest": {"unit": "ms", "value": 5000}},
        "retryPolicy": {
            "httpRetryEvents": ["5xx", "gateway-error"],
            "maxRetries": 3,
            "perRetryTimeout": {"unit": "ms", "value": 1000},
        },
    }
    assert canary_router["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"][0]["weight"] == 100
    assert apex_service["spec"] == {"provider": {"virtualRouter": {"virtualRouterRef": {"name": "podinfo"}}}}
    assert apex_service["metadata"]["annotations"] == {
        "gateway.appmesh.k8s.aws/expose": "true",
        "gateway.appmesh.k8s.aws/domain": "app.example.com,",
        "gateway.appmesh.k8s.aws/timeout": "5s",
        "gateway.appmesh.k8s.aws/retries": "3",
    }
    assert "annotations" not in canary_service["metadata"]
    routed = appmesh.set_routes(apex_router, c, 70, 30)
    assert appmesh.get_routes(routed, c) == (70, 30, False)
    assert appmesh.router_reconciled(routed, apex_router) is None  # weights in flight are not drift


def test_ab_routes_and_reconcile_keeps_aws_fields() -> None:
    """A/B: `-a` (priority 10, header matches) then `-b` (priority 20, primary only); a reconcile restores a
    changed prefix but keeps App Mesh's awsName/meshRef and the weights."""
    c = canary()
    c["spec"]["analysis"] = {"iterations": 5, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}
    apex_router = appmesh.routers(c)[0][0]
    assert [(r["name"], r["priority"]) for r in apex_router["spec"]["routes"]] == [("podinfo-a", 10), ("podinfo-b", 20)]
    assert apex_router["spec"]["routes"][0]["httpRoute"]["match"]["headers"] == [
        {"name": "x-canary", "match": {"exact": "insider"}}
    ]
    live = appmesh.set_routes(appmesh.routers(canary())[0][0], canary(), 40, 60)
    live["spec"]["awsName"] = "podinfo_test"
    live["spec"]["meshRef"] = {"name": "global", "uid": "m-1"}
    drifted = copy.deepcopy(live)
    drifted["spec"]["routes"][0]["httpRoute"]["match"]["prefix"] = "/wrong"
    fixed = appmesh.router_reconciled(drifted, appmesh.routers(canary())[0][0])
    assert fixed is not None
    assert fixed["spec"]["routes"][0]["httpRoute"]["match"]["prefix"] == "/"
    assert fixed["spec"]["awsName"] == "podinfo_test"
    assert appmesh.get_routes(fixed, canary()) == (40, 60, False)
    with pytest.raises(RouterError, match="VirtualRouter routes podinfo not found"):
        appmesh.get_routes({"spec": {"routes": []}}, canary())
