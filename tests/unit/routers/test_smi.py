"""The SMI router's TrafficSplit: versions per provider, backends, weights and the istio gateways annotation."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers.smi import api_version, get_routes, reconciled, set_routes, traffic_split

CANARY: dict[str, Any] = {
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {"targetRef": {"name": "podinfo"}, "service": {"port": 80}},
}


@pytest.mark.parametrize(
    ("provider", "version"),
    [
        ("linkerd", "split.smi-spec.io/v1alpha1"),
        ("osm", "split.smi-spec.io/v1alpha2"),
        ("smi:v1alpha3", "split.smi-spec.io/v1alpha3"),
        ("smi:v1alpha2:istio", "split.smi-spec.io/v1alpha2"),
    ],
)
def test_versions(provider: str, version: str) -> None:
    """Each SMI provider writes the TrafficSplit version its mesh reads."""
    assert api_version(provider) == version


def test_split_backends_and_weights() -> None:
    """The split serves the apex, canary backend first; weights round-trip (strings for v1alpha1 Quantities)."""
    split = traffic_split(CANARY, "linkerd", None)
    assert split["spec"] == {
        "service": "podinfo",
        "backends": [{"service": "podinfo-canary", "weight": "0"}, {"service": "podinfo-primary", "weight": "100"}],
    }
    assert get_routes(set_routes(split, CANARY, 60, 40), CANARY) == (60, 40, False)
    v3 = set_routes(traffic_split(CANARY, "smi:v1alpha3", None), CANARY, 90, 10)
    assert v3["spec"]["backends"][0] == {"service": "podinfo-canary", "weight": 10}
    assert get_routes(
        {
            "spec": {
                "backends": [
                    {"service": "podinfo-canary", "weight": "250m"},
                    {"service": "podinfo-primary", "weight": "99"},
                ]
            }
        },
        CANARY,
    ) == (99, 0, False)


def test_istio_gateways_annotation_and_hosts() -> None:
    """With an istio target mesh and gateways, the split carries them as JSON; hosts[0] becomes the service."""
    canary = {
        **CANARY,
        "spec": {**CANARY["spec"], "service": {"port": 80, "gateways": ["public-gw"], "hosts": ["app.example.com"]}},
    }
    split = traffic_split(canary, "smi:v1alpha3:istio", None)
    assert split["metadata"]["annotations"] == {
        "VirtualService.v1alpha3.networking.istio.io/spec.gateways": '["public-gw"]'
    }
    assert split["spec"]["service"] == "app.example.com"


def test_reconcile_keeps_weights_and_empty_routes_are_an_error() -> None:
    """Reconcile never resets in-flight weights; a split with both weights 0 is Flagger's error."""
    live = set_routes(traffic_split(CANARY, "osm", None), CANARY, 70, 30)
    assert reconciled(live, traffic_split(CANARY, "osm", None)) is None
    with pytest.raises(RouterError, match=r"TrafficSplit podinfo\.test does not contain routes for podinfo-primary"):
        get_routes(set_routes(live, CANARY, 0, 0), CANARY)
