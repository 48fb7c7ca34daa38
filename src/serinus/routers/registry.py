"""Which router serves which provider: one line per router module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient

from serinus.api import Canary
from serinus.errors import RouterError
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

ROUTERS: dict[str, RouterFactory] = {
    "kubernetes": lambda ctx: NopRouter(ctx.canary),
    "istio": lambda ctx: IstioRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status),
    "gatewayapi": lambda ctx: GatewayRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, "v1"),
    "gatewayapi:v1": lambda ctx: GatewayRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, "v1"),
    "gatewayapi:v1beta1": lambda ctx: GatewayRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, "v1beta1"),
    "linkerd": lambda ctx: SmiRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.provider),
    "osm": lambda ctx: SmiRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.provider),
    "smi": lambda ctx: SmiRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.provider),
    "contour": lambda ctx: ContourRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.ingress_class),
    "skipper": lambda ctx: SkipperRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status),
    "traefik": lambda ctx: TraefikRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status),
    "appmesh:v1beta2": lambda ctx: AppMeshRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.label),
    "knative": lambda ctx: KnativeRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status),
    "kuma": lambda ctx: KumaRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status),
    "apisix": lambda ctx: ApisixRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status),
    "gloo": lambda ctx: GlooRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.include_label_prefixes),
    "nginx": lambda ctx: NginxRouter(ctx.client, ctx.canary.to_dict(), ctx.save_status, ctx.ingress_prefix),
}


def make_router(ctx: RouterContext) -> Any:
    """The mesh router for the Canary's provider; a provider without a live router is an error on the Canary."""
    factory = ROUTERS.get(ctx.provider) or ROUTERS.get(ctx.provider.split(":")[0])
    if factory is None:
        raise RouterError(f"provider {ctx.provider} is not supported by this version of Serinus's operator yet; "
                          f"supported: {', '.join(sorted(ROUTERS))}")
    return factory(ctx)
