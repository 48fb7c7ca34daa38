"""The router of the `kubernetes` provider: plain Services cannot split traffic (Flagger's NopRouter)."""

from __future__ import annotations

from serinus.engine.ports import Routes
from serinus.routers.routing import Routing, Session, nothing


async def _no_routes(_session: Session, _primary: int, _canary: int, _mirrored: bool) -> None:
    """Nothing to route."""


async def _get_routes(session: Session) -> Routes:
    """(0, 100) once the Canary's iterations started, else (100, 0), as Flagger reports them."""
    if ((session.canary.get("status") or {}).get("iterations") or 0) > 0:
        return Routes(0, 100, False)
    return Routes(100, 0, False)


#: No object to create, route or revert: the canary serves all traffic once blue/green iterations started.
ROUTING = Routing(kinds=(), reconcile=nothing, set_routes=_no_routes, get_routes=_get_routes, finalize=nothing)
