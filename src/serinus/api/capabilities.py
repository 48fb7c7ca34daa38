"""Which router a provider string selects, and what each router can do (Flagger's router factory and matrix)."""

from __future__ import annotations

from enum import StrEnum


class Router(StrEnum):
    """The traffic routers, one per family of provider strings."""

    APPMESH_V1BETA2 = "appmesh:v1beta2"
    APPMESH = "appmesh"
    SMI = "smi"
    ISTIO = "istio"
    CONTOUR = "contour"
    KNATIVE = "knative"
    GLOO = "gloo"
    NGINX = "nginx"
    SKIPPER = "skipper"
    TRAEFIK = "traefik"
    APISIX = "apisix"
    KUMA = "kuma"
    GATEWAYAPI_V1BETA1 = "gatewayapi:v1beta1"
    GATEWAYAPI_V1 = "gatewayapi:v1"
    KUBERNETES = "kubernetes"


def router_for(provider: str) -> tuple[Router, bool]:
    """The router Flagger picks for a provider string (first match wins), and whether it fell back to istio."""
    exact = {
        "appmesh": Router.APPMESH,
        "linkerd": Router.SMI,
        "istio": Router.ISTIO,
        "contour": Router.CONTOUR,
        "knative": Router.KNATIVE,
        "nginx": Router.NGINX,
        "skipper": Router.SKIPPER,
        "traefik": Router.TRAEFIK,
        "apisix": Router.APISIX,
        "osm": Router.SMI,
        "kuma": Router.KUMA,
        "kubernetes": Router.KUBERNETES,
    }
    if provider.startswith("appmesh:v1beta2"):
        return Router.APPMESH_V1BETA2, False
    if provider in exact:
        return exact[provider], False
    if provider.startswith(("smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3")):
        return Router.SMI, False
    if provider.startswith("gloo"):
        return Router.GLOO, False
    if provider.startswith("gatewayapi:v1beta1"):
        return Router.GATEWAYAPI_V1BETA1, False
    if provider.startswith("gatewayapi:v1"):
        return Router.GATEWAYAPI_V1, False
    return Router.ISTIO, True


GATEWAY_API = frozenset({Router.GATEWAYAPI_V1, Router.GATEWAYAPI_V1BETA1})
#: Routers that send A/B (analysis.match) traffic to the canary.
AB_TESTING = frozenset(
    {Router.ISTIO, Router.CONTOUR, Router.GLOO, Router.NGINX, Router.APPMESH, Router.APPMESH_V1BETA2, *GATEWAY_API}
)
#: Routers that mirror traffic in a weighted canary release (the others never report the mirror step done).
CANARY_MIRRORING = frozenset({Router.ISTIO})
#: Routers that mirror traffic in a blue/green release.
BLUE_GREEN_MIRRORING = frozenset({Router.ISTIO, *GATEWAY_API})
#: Routers that implement cookie session affinity, and those that also keep a primary cookie.
SESSION_AFFINITY = frozenset({Router.ISTIO, *GATEWAY_API})
PRIMARY_COOKIE = frozenset({Router.ISTIO, Router.GATEWAYAPI_V1})
#: Routers that copy an Ingress named by spec.ingressRef.
INGRESS_REF = frozenset({Router.NGINX, Router.SKIPPER})
