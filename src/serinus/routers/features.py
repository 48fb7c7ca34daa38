"""Which traffic features each provider supports (the feature tables of Flagger's README.md, corrected where the
routers of pkg/router do more), which ones a Canary asks for, and the Warning event Serinus records when a Canary
asks a provider for something it cannot do.

The table is data, shared by every router and by docs/routers.md (tests check the two agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Features:
    """What one router can do with traffic."""

    weights: bool
    ab_testing: bool
    blue_green: bool
    mirroring: bool
    canary_mirroring: bool
    session_affinity: bool
    primary_cookie: bool
    builtin_metrics: str


#: Label of each feature in Warning events and in the docs table.
LABELS = {
    "weights": "Progressive traffic",
    "ab_testing": "A/B testing",
    "blue_green": "Blue/green",
    "mirroring": "Traffic mirroring",
    "canary_mirroring": "Traffic mirroring during a progressive canary",
    "session_affinity": "Session affinity",
    "primary_cookie": "A primary session affinity cookie (primaryCookieName)",
}

#: Column heads of the docs table.
SHORT = {
    "weights": "Weights",
    "ab_testing": "A/B",
    "blue_green": "Blue/green",
    "mirroring": "B/G mirroring",
    "canary_mirroring": "Canary mirroring",
    "session_affinity": "Session affinity",
    "primary_cookie": "Primary cookie",
}

#: What happens when a Canary asks for a feature anyway: Flagger's behaviour, which Serinus keeps.
CONSEQUENCES = {
    "weights": "the kubernetes provider runs the analysis as blue/green (iterations set to 10 when unset)",
    "ab_testing": "the match conditions are ignored: the A/B run sends all traffic to the canary, as blue/green "
    "does (the kubernetes provider drops the match and runs blue/green)",
    "blue_green": "the canary gets all traffic for the whole analysis, with no gradual shift",
    "mirroring": "no request is mirrored: the canary gets no traffic until the switch",
    "canary_mirroring": "no request is mirrored, and the run waits at the mirror step",
    "session_affinity": "requests are split by weight alone; no sticky cookie is set",
    "primary_cookie": "only the canary cookie is set",
}

_YES = dict(weights=True, ab_testing=True, blue_green=True)
_WEIGHTED_ONLY = dict(
    weights=True,
    ab_testing=False,
    blue_green=True,
    mirroring=False,
    canary_mirroring=False,
    session_affinity=False,
    primary_cookie=False,
)

#: Router kind -> features, per the feature tables of Flagger's README.md, and pkg/router where the code differs.
SUPPORT: dict[str, Features] = {
    "istio": Features(
        **_YES, mirroring=True, canary_mirroring=True, session_affinity=True, primary_cookie=True, builtin_metrics="yes"
    ),
    "gatewayapi:v1": Features(
        **_YES,
        mirroring=True,
        canary_mirroring=False,
        session_affinity=True,
        primary_cookie=True,
        builtin_metrics="http observer only; use MetricTemplates",
    ),
    "gatewayapi:v1beta1": Features(
        **_YES,
        mirroring=True,
        canary_mirroring=False,
        session_affinity=True,
        primary_cookie=False,
        builtin_metrics="http observer only; use MetricTemplates",
    ),
    "linkerd": Features(**_WEIGHTED_ONLY, builtin_metrics="yes (linkerd observer)"),
    "smi": Features(**_WEIGHTED_ONLY, builtin_metrics="yes"),
    "osm": Features(**_WEIGHTED_ONLY, builtin_metrics="yes (osm observer)"),
    "kuma": Features(**_WEIGHTED_ONLY, builtin_metrics="yes"),
    "knative": Features(
        weights=True,
        ab_testing=False,
        blue_green=False,
        mirroring=False,
        canary_mirroring=False,
        session_affinity=False,
        primary_cookie=False,
        builtin_metrics="yes (knative observer)",
    ),
    "kubernetes": Features(
        weights=False,
        ab_testing=False,
        blue_green=True,
        mirroring=False,
        canary_mirroring=False,
        session_affinity=False,
        primary_cookie=False,
        builtin_metrics="yes (http observer; needs app metrics)",
    ),
    "contour": Features(**{**_WEIGHTED_ONLY, "ab_testing": True}, builtin_metrics="yes"),
    "gloo": Features(**{**_WEIGHTED_ONLY, "ab_testing": True}, builtin_metrics="yes"),
    "nginx": Features(**{**_WEIGHTED_ONLY, "ab_testing": True}, builtin_metrics="yes"),
    "skipper": Features(**_WEIGHTED_ONLY, builtin_metrics="yes"),
    "traefik": Features(**_WEIGHTED_ONLY, builtin_metrics="yes"),
    "apisix": Features(**_WEIGHTED_ONLY, builtin_metrics="yes"),
    "appmesh": Features(**{**_WEIGHTED_ONLY, "ab_testing": True}, builtin_metrics="yes"),
    "appmesh:v1beta2": Features(**{**_WEIGHTED_ONLY, "ab_testing": True}, builtin_metrics="yes"),
}

FEATURE_NAMES = tuple(f.name for f in fields(Features) if f.name != "builtin_metrics")


def router_kind(provider: str) -> tuple[str, str | None]:
    """(router kind, warning or None) for a provider string, matched in Flagger's factory order; anything unknown
    (including a bare `gatewayapi`) falls back to istio with Flagger's warning."""
    exact = {
        "appmesh",
        "linkerd",
        "istio",
        "contour",
        "knative",
        "nginx",
        "skipper",
        "traefik",
        "apisix",
        "osm",
        "kuma",
        "kubernetes",
    }
    if provider.startswith("appmesh:v1beta2"):
        return "appmesh:v1beta2", None
    if provider in exact:
        return provider, None
    if any(provider.startswith(f"smi:v1alpha{n}") for n in (1, 2, 3)):
        return "smi", None
    if provider.startswith("gloo"):
        return "gloo", None
    if provider.startswith("gatewayapi:v1beta1"):
        return "gatewayapi:v1beta1", None
    if provider.startswith("gatewayapi:v1"):
        return "gatewayapi:v1", None
    return "istio", f"unknown mesh router provider '{provider}', using istio"


def requested(canary: Obj) -> list[str]:
    """The features a Canary asks for, in FEATURE_NAMES order."""
    spec = canary.get("spec") or {}
    analysis = spec.get("analysis") or spec.get("canaryAnalysis")
    if not analysis:
        return []
    iterations = int(analysis.get("iterations") or 0)
    out = []
    if iterations == 0:
        out.append("weights")
    if analysis.get("match"):
        out.append("ab_testing")
    elif iterations > 0:
        out.append("blue_green")
    if analysis.get("mirror"):
        out.append("mirroring" if iterations > 0 else "canary_mirroring")
    sa = analysis.get("sessionAffinity")
    if sa:
        out.append("session_affinity")
        if sa.get("primaryCookieName"):
            out.append("primary_cookie")
    return out


def missing(provider: str, canary: Obj) -> list[str]:
    """The features the Canary asks for that its provider lacks."""
    support = SUPPORT[router_kind(provider)[0]]
    return [name for name in requested(canary) if not getattr(support, name)]


def warning(provider: str, feature: str) -> str:
    """The Warning event for one missing feature (Flagger's own text for the kubernetes provider)."""
    return f"{LABELS[feature]} is not supported when using the {provider} provider"


def warnings(provider: str, canary: Obj) -> list[str]:
    """Every Warning event to record for this Canary and provider, the unknown-provider warning first."""
    out = [w] if (w := router_kind(provider)[1]) else []
    return out + [warning(provider, name) for name in missing(provider, canary)]


def markdown_consequences() -> str:
    """The docs list of what happens when a Canary asks for a feature its provider lacks."""
    return "".join(f"- **{LABELS[n]}**: {CONSEQUENCES[n]}.\n" for n in FEATURE_NAMES)
