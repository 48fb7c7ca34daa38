"""The three Services of the kubernetes router: selectors, ports, metadata and adoption rules."""

from __future__ import annotations

import json
from typing import Any

from serinus.routers.kubernetes import (
    FLUX_RECONCILE,
    reconciled_service,
    reverted_apex,
    service_names,
    three_services,
)

CANARY: dict[str, Any] = {
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "targetRef": {"name": "podinfo"},
        "service": {
            "port": 80,
            "targetPort": 9898,
            "appProtocol": "http",
            "apex": {"labels": {"tier": "web"}, "annotations": {"note": "apex"}},
            "unmanagedMetadata": {"annotations": {"keep.me/too": ""}},
        },
    },
}


def services() -> dict[str, tuple[dict[str, Any], tuple[dict[str, str], dict[str, str]]]]:
    return {name: (spec, meta) for name, spec, meta in three_services(CANARY, "app", "podinfo", {"grpc": 9999})}


def test_names_default_to_the_target() -> None:
    """Without spec.service.name the apex is the target's name."""
    assert service_names(CANARY) == ("podinfo", "podinfo-primary", "podinfo-canary")


def test_selectors_route_apex_and_primary_to_primary_pods() -> None:
    """-canary selects the target's pods; -primary and the apex select the primary's."""
    got = services()
    assert got["podinfo-canary"][0]["selector"] == {"app": "podinfo"}
    assert got["podinfo-primary"][0]["selector"] == {"app": "podinfo-primary"}
    assert got["podinfo"][0]["selector"] == {"app": "podinfo-primary"}


def test_ports_follow_the_canary_spec_and_discovery() -> None:
    """The first port is named http with the targetPort and appProtocol; discovered ports follow."""
    spec = services()["podinfo"][0]
    assert spec["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898, "appProtocol": "http"},
        {"name": "grpc", "protocol": "TCP", "port": 9999, "targetPort": 9999},
    ]
    assert spec["type"] == "ClusterIP"


def test_metadata_has_selector_label_custom_metadata_and_flux_keys() -> None:
    """Each Service is labelled `<selector>: <its name>`, carries custom metadata and the Flux opt-out keys."""
    labels, annotations = services()["podinfo"][1]
    assert labels == {"tier": "web", "app": "podinfo"}
    assert annotations == {
        "note": "apex",
        FLUX_RECONCILE: "disabled",
        "helm.toolkit.fluxcd.io/driftDetection": "disabled",
    }


def existing(owner: str | None, **extra: Any) -> dict[str, Any]:
    refs = [{"kind": "Canary", "name": owner, "controller": True}] if owner else []
    svc = {
        "metadata": {
            "name": "podinfo",
            "labels": {"user": "x"},
            "annotations": {"keep.me/too": "v", "user": "y"},
            "ownerReferences": refs,
        },
        "spec": {
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898, "nodePort": 30080}],
        },
    }
    svc["metadata"].update(extra)
    return svc


def test_user_service_is_adopted_without_touching_its_metadata() -> None:
    """A user's apex Service gets the primary selector; its own labels stay, only Flux keys are added."""
    spec, (labels, annotations) = services()["podinfo"]
    out = reconciled_service(existing(None), spec, labels, annotations, "podinfo")
    assert out is not None
    assert out["spec"]["selector"] == {"app": "podinfo-primary"}
    assert out["metadata"]["labels"] == {"user": "x"}
    assert out["metadata"]["annotations"]["user"] == "y"
    assert out["metadata"]["annotations"][FLUX_RECONCILE] == "disabled"
    assert out["spec"]["ports"][0]["nodePort"] == 30080


def test_owned_service_gets_metadata_but_keeps_unmanaged_keys() -> None:
    """A Service this Canary owns is relabelled, keeping keys listed in unmanagedMetadata."""
    spec, (labels, annotations) = services()["podinfo"]
    out = reconciled_service(
        existing("podinfo"), spec, labels, annotations, "podinfo", CANARY["spec"]["service"]["unmanagedMetadata"]
    )
    assert out is not None
    assert out["metadata"]["labels"] == {"tier": "web", "app": "podinfo"}
    assert out["metadata"]["annotations"]["keep.me/too"] == "v"
    assert "user" not in out["metadata"]["annotations"]


def test_up_to_date_service_needs_no_write() -> None:
    """Reconciling a Service that already matches (ports in another order) changes nothing."""
    spec, (labels, annotations) = services()["podinfo"]
    first = reconciled_service(existing("podinfo"), spec, labels, annotations, "podinfo")
    assert first is not None
    first["spec"]["ports"].reverse()
    assert reconciled_service(first, spec, labels, annotations, "podinfo") is None


def test_revert_restores_the_users_selector() -> None:
    """On revertOnDeletion a user's apex gets its last-applied selector back; a Canary-owned one is left alone."""
    last = json.dumps({"spec": {"selector": {"app": "podinfo", "track": "stable"}}})
    svc = existing(None, annotations={"kubectl.kubernetes.io/last-applied-configuration": last})
    svc["spec"]["selector"] = {"app": "podinfo-primary"}
    reverted = reverted_apex(svc, "podinfo", "app", "podinfo")
    assert reverted is not None
    assert reverted["spec"]["selector"] == {"app": "podinfo", "track": "stable"}
    plain = reverted_apex(existing(None), "podinfo", "app", "podinfo")
    assert plain is not None
    assert plain["spec"]["selector"] == {"app": "podinfo"}
    assert reverted_apex(existing("podinfo"), "podinfo", "app", "podinfo") is None
