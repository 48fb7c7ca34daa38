"""The nginx router's canary Ingress: copy rules, annotations for weights and A/B, and reading routes back."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers.nginx import get_routes, new_canary_ingress, set_routes

P = "nginx.ingress.kubernetes.io"
INGRESS: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "podinfo",
        "namespace": "test",
        "labels": {"app": "podinfo"},
        "annotations": {
            "kubernetes.io/ingress.class": "nginx",
            f"{P}/canary-weight": "40",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
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
                        },
                        {
                            "path": "/static",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "cdn", "port": {"number": 80}}},
                        },
                    ]
                },
            }
        ]
    },
}


def canary(match: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    analysis: dict[str, Any] = {"interval": "1m", "threshold": 5, "stepWeight": 10}
    if match:
        analysis = {"interval": "1m", "threshold": 5, "iterations": 10, "match": match}
    return {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "targetRef": {"name": "podinfo"},
            "ingressRef": {"name": "podinfo"},
            "service": {"port": 80},
            "analysis": analysis,
        },
    }


def test_canary_ingress_copies_rules_to_the_canary_service() -> None:
    """Only paths to the apex Service go to podinfo-canary; canary annotations restart at weight 0."""
    ing = new_canary_ingress(INGRESS, canary(), None)
    assert ing["metadata"]["name"] == "podinfo-canary"
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["podinfo-canary", "cdn"]
    assert ing["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "nginx",
        f"{P}/canary": "true",
        f"{P}/canary-weight": "0",
        "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
        "helm.toolkit.fluxcd.io/driftDetection": "disabled",
    }
    assert INGRESS["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "podinfo"


def test_missing_backend_and_ref_use_flaggers_errors() -> None:
    """An Ingress without the apex backend, or a Canary without ingressRef, fail in Flagger's words."""
    other = {
        **INGRESS,
        "spec": {
            "rules": [
                {"http": {"paths": [{"path": "/", "backend": {"service": {"name": "cdn", "port": {"number": 80}}}}]}}
            ]
        },
    }
    with pytest.raises(RouterError, match="backend podinfo not found in ingress podinfo"):
        new_canary_ingress(other, canary(), None)
    no_ref = canary()
    del no_ref["spec"]["ingressRef"]
    with pytest.raises(RouterError, match="ingress selector is empty"):
        new_canary_ingress(INGRESS, no_ref, None)


def test_weights_round_trip() -> None:
    """Setting 30 % reads back as (70, 30); setting 0 resets the annotations to weight 0."""
    ing = new_canary_ingress(INGRESS, canary(), None)
    routed = set_routes(ing, canary(), 30)
    assert routed["metadata"]["annotations"][f"{P}/canary-weight"] == "30"
    assert get_routes(routed, canary()) == (70, 30, False)
    assert get_routes(set_routes(routed, canary(), 0), canary()) == (100, 0, False)


def test_ab_testing_uses_header_and_cookie_rules() -> None:
    """A/B matches become canary-by-header (exact or pattern) and canary-by-cookie; routes read (0, 100)."""
    match = [{"headers": {"x-canary": {"exact": "insider"}}}, {"headers": {"cookie": {"exact": "canary"}}}]
    ing = set_routes(new_canary_ingress(INGRESS, canary(match), None), canary(match), 100)
    annotations = ing["metadata"]["annotations"]
    assert annotations[f"{P}/canary-by-header"] == "x-canary"
    assert annotations[f"{P}/canary-by-header-value"] == "insider"
    assert annotations[f"{P}/canary-by-cookie"] == "canary"
    assert get_routes(ing, canary(match)) == (0, 100, False)
    reset = set_routes(ing, canary(match), 0)
    assert f"{P}/canary-by-header" not in reset["metadata"]["annotations"]
    assert get_routes(reset, canary(match)) == (100, 0, False)


def test_custom_annotation_prefix() -> None:
    """--ingress-annotations-prefix changes every canary key."""
    ing = set_routes(new_canary_ingress(INGRESS, canary(), None, "custom.io"), canary(), 20, "custom.io")
    assert ing["metadata"]["annotations"]["custom.io/canary-weight"] == "20"
    assert get_routes(ing, canary(), "custom.io") == (80, 20, False)
