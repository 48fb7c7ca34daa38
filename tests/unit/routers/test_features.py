"""The provider feature table, the features a Canary asks for, and the Warning texts for missing ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serinus.routers import features, registry

DOCS = Path(__file__).resolve().parents[3] / "docs" / "routers.md"


def canary(**analysis: Any) -> dict[str, Any]:
    return {"spec": {"analysis": {"interval": "1m", "threshold": 5, **analysis}}}


@pytest.mark.parametrize(
    ("provider", "kind"),
    [
        ("istio", "istio"),
        ("appmesh:v1beta2", "appmesh:v1beta2"),
        ("appmesh", "appmesh"),
        ("smi:v1alpha3:istio", "smi"),
        ("gloo:internal", "gloo"),
        ("gatewayapi:v1beta1", "gatewayapi:v1beta1"),
        ("gatewayapi:v1", "gatewayapi:v1"),
        ("kubernetes", "kubernetes"),
        ("linkerd", "linkerd"),
        ("osm", "osm"),
    ],
)
def test_provider_strings_resolve_in_flaggers_order(provider: str, kind: str) -> None:
    """Provider strings map to router kinds as Flagger's factory matches them."""
    assert features.router_kind(provider) == (kind, None)


def test_unknown_provider_falls_back_to_istio_with_flaggers_warning() -> None:
    """A bare `gatewayapi` is unknown: istio is used and Flagger's warning is returned."""
    assert features.router_kind("gatewayapi") == ("istio", "unknown mesh router provider 'gatewayapi', using istio")


def test_requested_features_follow_the_strategy() -> None:
    """stepWeight asks for weights; match+iterations for A/B; iterations for blue/green; mirror and affinity too."""
    assert features.requested(canary(stepWeight=10)) == ["weights"]
    assert features.requested(canary(iterations=5, match=[{}])) == ["ab_testing"]
    assert features.requested(canary(iterations=5, mirror=True)) == ["blue_green", "mirroring"]
    assert features.requested(canary(stepWeight=5, mirror=True)) == ["weights", "canary_mirroring"]
    assert features.requested(canary(stepWeight=5, sessionAffinity={"cookieName": "a", "primaryCookieName": "b"})) == [
        "weights",
        "session_affinity",
        "primary_cookie",
    ]


def test_kubernetes_provider_warnings_are_flaggers_texts() -> None:
    """The kubernetes provider warns with Flagger's exact A/B and progressive-traffic texts."""
    assert features.warnings("kubernetes", canary(stepWeight=10, match=[{}])) == [
        "Progressive traffic is not supported when using the kubernetes provider",
        "A/B testing is not supported when using the kubernetes provider",
    ]


def test_missing_features_per_provider() -> None:
    """nginx lacks mirroring and affinity; gatewayapi mirrors only in blue/green; v1beta1 has no primary cookie;
    istio lacks nothing."""
    everything = canary(stepWeight=5, mirror=True, sessionAffinity={"cookieName": "a", "primaryCookieName": "b"})
    assert features.missing("nginx", everything) == ["canary_mirroring", "session_affinity", "primary_cookie"]
    assert features.missing("gatewayapi:v1", everything) == ["canary_mirroring"]
    assert features.missing("gatewayapi:v1beta1", everything) == ["canary_mirroring", "primary_cookie"]
    assert features.missing("istio", everything) == []
    assert features.missing("linkerd", canary(iterations=3, match=[{}])) == ["ab_testing"]


def test_docs_table_matches_the_code() -> None:
    """docs/routers.md holds exactly the table the router registry renders (features and live routers)."""
    assert registry.markdown_table() in DOCS.read_text()


def test_every_router_kind_but_legacy_appmesh_has_a_live_router() -> None:
    """The operator drives every provider of the support matrix except App Mesh's retired v1beta1 API."""
    assert set(features.SUPPORT) - set(registry.ROUTERS) == {"appmesh"}
    assert set(registry.ROUTERS) <= set(features.SUPPORT)
