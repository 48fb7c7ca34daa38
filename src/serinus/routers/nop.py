"""The router of the `kubernetes` provider: plain Services cannot split traffic (Flagger's NopRouter)."""

from __future__ import annotations

from serinus.api import Canary
from serinus.engine.ports import Routes


class NopRouter:
    """No weights to set; the canary serves all traffic once blue/green iterations started."""

    def __init__(self, canary: Canary) -> None:
        self.canary = canary

    async def reconcile(self) -> None:
        """Nothing to create."""

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Nothing to route."""

    async def get_routes(self) -> Routes:
        """(0, 100) once the Canary's iterations started, else (100, 0), as Flagger reports them."""
        if self.canary.status.iterations > 0:
            return Routes(0, 100, False)
        return Routes(100, 0, False)

    async def finalize(self) -> None:
        """Nothing to revert."""
