"""The traefik router's TraefikService: created, routed, read back and reconciled as Flagger does."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import traefik

CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898, "apex": {"labels": {"team": "a"}}},
    },
}


def test_created_with_all_traffic_to_the_primary() -> None:
    """TraefikService podinfo: one weighted service, podinfo-primary at 100, owned by the Canary, apex labels."""
    ts = traefik.traffic_service(CANARY)
    assert ts["apiVersion"] == "traefik.io/v1alpha1"
    assert ts["metadata"]["name"] == "podinfo"
    assert ts["metadata"]["labels"] == {"team": "a"}
    assert ts["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert ts["spec"]["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": "test", "port": 9898, "weight": 100}
    ]


def test_canary_listed_only_while_it_has_weight() -> None:
    """set_routes(80, 20) lists both; (100, 0) drops the canary; get_routes reads them back."""
    ts = traefik.set_routes(traefik.traffic_service(CANARY), CANARY, 80, 20)
    assert [(s["name"], s["weight"]) for s in ts["spec"]["weighted"]["services"]] == [
        ("podinfo-primary", 80),
        ("podinfo-canary", 20),
    ]
    assert traefik.get_routes(ts, CANARY) == (80, 20, False)
    back = traefik.set_routes(ts, CANARY, 100, 0)
    assert [s["name"] for s in back["spec"]["weighted"]["services"]] == ["podinfo-primary"]
    assert traefik.get_routes(back, CANARY) == (100, 0, False)


def test_no_valid_weights_and_no_services_are_flaggers_errors() -> None:
    """(0, 0) is refused; a TraefikService without services cannot be read."""
    with pytest.raises(RouterError, match=r"RoutingRule podinfo\.test update failed: no valid weights"):
        traefik.set_routes(traefik.traffic_service(CANARY), CANARY, 0, 0)
    with pytest.raises(RouterError, match=r"TraefikService podinfo\.test services not found"):
        traefik.get_routes({"spec": {"weighted": {"services": []}}}, CANARY)


def test_reconcile_ignores_weights_in_flight_and_fixes_the_rest() -> None:
    """A routed TraefikService is left alone; a changed port or label is rewritten."""
    routed = traefik.set_routes(traefik.traffic_service(CANARY), CANARY, 60, 40)
    assert traefik.reconciled(routed, CANARY) is None
    drifted = traefik.set_routes(traefik.traffic_service(CANARY), CANARY, 60, 40)
    drifted["spec"]["weighted"]["services"][0]["port"] = 80
    fixed = traefik.reconciled(drifted, CANARY)
    assert fixed is not None
    assert [s["port"] for s in fixed["spec"]["weighted"]["services"]] == [9898, 9898]
