"""Which router serves which provider: one line per router module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient

from serinus.api import Canary
from serinus.errors import RouterError
from serinus.routers.features import FEATURE_NAMES, SHORT, SUPPORT, router_kind
from serinus.routers.live import (
    ApisixRouter,
    AppMeshRouter,
    ContourRouter,
    GatewayRouter,
    GlooRouter,
    IstioRouter,
    KnativeRouter,
    KumaRouter,
    NginxRouter,
    SaveStatus,
    SkipperRouter,
    SmiRouter,
    TraefikRouter,
)
from serinus.routers.nop import NopRouter


async def _discard(_: dict[str, str]) -> None:
    return None


@dataclass(frozen=True)
class RouterContext:
    """What a router needs to be built for one Canary."""

    client: AsyncClient
    canary: Canary
    label: str
    provider: str
    #: persists status fields a router produces (session-affinity cookies)
    save_status: SaveStatus = _discard
    #: the operator's --ingress-annotations-prefix (nginx)
    ingress_prefix: str = "nginx.ingress.kubernetes.io"
    #: the operator's --ingress-class (contour)
    ingress_class: str = ""
    #: the operator's --include-label-prefix (labels copied onto Gloo upstreams)
    include_label_prefixes: tuple[str, ...] = ()


RouterFactory = Callable[[RouterContext], Any]


@dataclass(frozen=True)
class Entry:
    """One router kind: what it writes on the cluster, and how it is built."""

    writes: str
    build: RouterFactory


def _raw(ctx: RouterContext) -> dict[str, Any]:
    return dict(ctx.canary.to_dict())


#: Router kind (features.router_kind of the provider string) -> the live router. docs/routers.md's support table is
#: rendered from this and features.SUPPORT together.
ROUTERS: dict[str, Entry] = {
    "kubernetes": Entry("the Services only (blue/green)", lambda ctx: NopRouter(ctx.canary)),
    "istio": Entry(
        "DestinationRules `<apex>-primary`, `<apex>-canary`; VirtualService `<apex>`",
        lambda ctx: IstioRouter(ctx.client, _raw(ctx), ctx.save_status),
    ),
    "gatewayapi:v1": Entry(
        "HTTPRoute `<apex>` (gateway.networking.k8s.io/v1)",
        lambda ctx: GatewayRouter(ctx.client, _raw(ctx), ctx.save_status, "v1"),
    ),
    "gatewayapi:v1beta1": Entry(
        "HTTPRoute `<apex>` (gateway.networking.k8s.io/v1beta1)",
        lambda ctx: GatewayRouter(ctx.client, _raw(ctx), ctx.save_status, "v1beta1"),
    ),
    "linkerd": Entry(
        "TrafficSplit `<apex>` (split.smi-spec.io/v1alpha1)",
        lambda ctx: SmiRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.provider),
    ),
    "osm": Entry(
        "TrafficSplit `<apex>` (split.smi-spec.io/v1alpha2)",
        lambda ctx: SmiRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.provider),
    ),
    "smi": Entry(
        "TrafficSplit `<apex>` (the version in the provider string)",
        lambda ctx: SmiRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.provider),
    ),
    "contour": Entry(
        "HTTPProxy `<apex>`", lambda ctx: ContourRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.ingress_class)
    ),
    "skipper": Entry("Ingress `<ingress>-canary`", lambda ctx: SkipperRouter(ctx.client, _raw(ctx), ctx.save_status)),
    "traefik": Entry("TraefikService `<apex>`", lambda ctx: TraefikRouter(ctx.client, _raw(ctx), ctx.save_status)),
    "appmesh:v1beta2": Entry(
        "VirtualNodes `<apex>-primary`, `<apex>-canary`; VirtualRouters and VirtualServices `<apex>`, `<apex>-canary`",
        lambda ctx: AppMeshRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.label),
    ),
    "knative": Entry(
        "the Knative Service's `spec.traffic` and its primary-revision annotation",
        lambda ctx: KnativeRouter(ctx.client, _raw(ctx), ctx.save_status),
    ),
    "kuma": Entry(
        "TrafficRoute `<apex>` (cluster scoped)", lambda ctx: KumaRouter(ctx.client, _raw(ctx), ctx.save_status)
    ),
    "apisix": Entry(
        "ApisixRoute `<route>-<apex>-canary`", lambda ctx: ApisixRouter(ctx.client, _raw(ctx), ctx.save_status)
    ),
    "gloo": Entry(
        "Upstreams `<ns>-<apex>-{primary,canary}upstream-<port>`; RouteTable `<apex>`",
        lambda ctx: GlooRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.include_label_prefixes),
    ),
    "nginx": Entry(
        "Ingress `<ingress>-canary`",
        lambda ctx: NginxRouter(ctx.client, _raw(ctx), ctx.save_status, ctx.ingress_prefix),
    ),
}


def make_router(ctx: RouterContext) -> Any:
    """The mesh router for the Canary's provider, chosen by Flagger's rules (an unknown provider falls back to
    istio, with the Warning event features.warnings gives); a router kind without a live router is an error."""
    kind, _ = router_kind(ctx.provider)
    entry = ROUTERS.get(kind)
    if entry is None:
        raise RouterError(
            f"provider {ctx.provider} is not supported by this version of Serinus's operator yet; "
            f"supported: {', '.join(sorted(ROUTERS))}"
        )
    return entry.build(ctx)


def markdown_table() -> str:
    """docs/routers.md's support table: each router kind's features (features.SUPPORT) and what its live router
    writes (ROUTERS), so neither can drift from the code."""
    head = ["Provider", *(SHORT[n] for n in FEATURE_NAMES), "Built-in metrics", "Serinus writes"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for kind, support in SUPPORT.items():
        cells = ["yes" if getattr(support, n) else "no" for n in FEATURE_NAMES]
        entry = ROUTERS.get(kind)
        writes = entry.writes if entry else "not supported yet (the operator records a Warning event)"
        lines.append("| " + " | ".join([f"`{kind}`", *cells, support.builtin_metrics, writes]) + " |")
    return "\n".join(lines) + "\n"
