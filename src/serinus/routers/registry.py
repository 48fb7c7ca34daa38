"""Which router serves which provider: serinus.api.capabilities.MESH_PROVIDERS names each router kind's module, and
`make_router` runs that module's ROUTING on the cluster."""

from __future__ import annotations

from dataclasses import dataclass

from lightkube import AsyncClient

from serinus.api import Canary
from serinus.api.capabilities import FEATURE_NAMES, MESH, MESH_PROVIDERS, router_for
from serinus.engine.ports import Router
from serinus.errors import RouterError
from serinus.routers.features import SHORT
from serinus.routers.live import LiveRouter
from serinus.routers.routing import RouterOptions, SaveStatus, load


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


#: Router kinds the operator drives (those with an implementing module).
ROUTERS = tuple(p.router.value for p in MESH_PROVIDERS if p.implementation is not None)


def make_router(ctx: RouterContext) -> Router:
    """The mesh router for the Canary's provider, chosen by Flagger's rules (an unknown provider falls back to
    istio, with the Warning event features.warnings gives); a router kind without a live router is an error."""
    kind, _ = router_for(ctx.provider)
    provider = MESH[kind]
    if provider.implementation is None:
        raise RouterError(
            f"provider {ctx.provider} is not supported by this version of Serinus's operator yet; "
            f"supported: {', '.join(sorted(ROUTERS))}"
        )
    options = RouterOptions(
        kind=kind.value,
        provider=ctx.provider,
        label=ctx.label,
        ingress_prefix=ctx.ingress_prefix,
        ingress_class=ctx.ingress_class,
        include_label_prefixes=ctx.include_label_prefixes,
    )
    return LiveRouter(ctx.client, dict(ctx.canary.to_dict()), ctx.save_status, load(provider), options)


def markdown_table() -> str:
    """docs/routers.md's support table: each router kind's features and what its live router writes, from
    MESH_PROVIDERS, so the docs cannot drift from the code."""
    head = ["Provider", *(SHORT[n] for n in FEATURE_NAMES), "Built-in metrics", "Serinus writes"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for p in MESH_PROVIDERS:
        cells = ["yes" if getattr(p.features, n) else "no" for n in FEATURE_NAMES]
        writes = p.writes if p.implementation else "not supported yet (the operator records a Warning event)"
        lines.append("| " + " | ".join([f"`{p.router.value}`", *cells, p.builtin_metrics, writes]) + " |")
    return "\n".join(lines) + "\n"
