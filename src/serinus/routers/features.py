"""Which traffic features a Canary asks for, and the Warning event Serinus records when its provider cannot do one.

What each router can do is a fact of serinus.api.capabilities.MESH_PROVIDERS (the feature tables of Flagger's
README.md, corrected where the routers of pkg/router do more); `SUPPORT` is that table's view by router kind, shared
by every router and by docs/routers.md (tests check the two agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serinus.api.capabilities import FEATURE_NAMES, MESH_PROVIDERS, Features, router_for, unknown_provider_warning

Obj = Mapping[str, Any]

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

#: Router kind -> what it can do (the rows of docs/routers.md's table).
SUPPORT: dict[str, Features] = {p.router.value: p.features for p in MESH_PROVIDERS}


def router_kind(provider: str) -> tuple[str, str | None]:
    """(router kind, warning or None) for a provider string, matched in Flagger's factory order; anything unknown
    (including a bare `gatewayapi`) falls back to istio with Flagger's warning."""
    router, fell_back = router_for(provider)
    return router.value, unknown_provider_warning(provider) if fell_back else None


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
