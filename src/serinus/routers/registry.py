"""Which router serves which provider: one line per router module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient

from serinus.api import Canary
from serinus.errors import RouterError
from serinus.routers.nop import NopRouter


@dataclass(frozen=True)
class RouterContext:
    """What a router needs to be built for one Canary."""

    client: AsyncClient
    canary: Canary
    label: str
    provider: str


RouterFactory = Callable[[RouterContext], Any]

ROUTERS: dict[str, RouterFactory] = {
    "kubernetes": lambda ctx: NopRouter(ctx.canary),
}


def make_router(ctx: RouterContext) -> Any:
    """The mesh router for the Canary's provider; a provider without a live router is an error on the Canary."""
    factory = ROUTERS.get(ctx.provider) or ROUTERS.get(ctx.provider.split(":")[0])
    if factory is None:
        raise RouterError(f"provider {ctx.provider} is not supported by this version of Serinus's operator yet; "
                          f"supported: {', '.join(sorted(ROUTERS))}")
    return factory(ctx)
