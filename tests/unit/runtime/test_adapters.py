"""guard() gives the engine an adapter that keeps its type and its answers, and whose failures are PortErrors."""

from __future__ import annotations

import pytest

from serinus.engine.ports import PortError, Routes
from serinus.errors import RouterError
from serinus.runtime.adapters import Guarded, guard
from serinus.targets.controller import TargetError


class Adapter:
    """A router-like adapter: async methods that answer or fail, a plain method and an attribute."""

    name = "adapter"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail

    async def get_routes(self) -> Routes:
        """(90, 10), or the failure it was given."""
        if self.fail is not None:
            raise self.fail
        return Routes(90, 10)

    def label(self) -> str:
        """A plain method, called as it is."""
        return f"{self.name}-label"


async def test_guarded_adapter_answers_as_itself() -> None:
    """Through the guard, an async method's answer, a plain method's result and an attribute are the adapter's."""
    guarded = guard(Adapter())
    assert isinstance(guarded, Guarded)
    assert await guarded.get_routes() == Routes(90, 10)
    assert guarded.label() == "adapter-label"
    assert guarded.name == "adapter"


@pytest.mark.parametrize(
    ("failure", "retriable"),
    [
        (RouterError("VirtualService podinfo.test query error: not found"), True),
        (TargetError("VirtualService podinfo.test query error: not found", retriable=False), False),
        (PortError("VirtualService podinfo.test query error: not found", retriable=False), False),
    ],
    ids=["serinus-error", "target-error", "port-error"],
)
async def test_guarded_failures_reach_the_engine_as_port_errors(failure: Exception, retriable: bool) -> None:
    """A Serinus error becomes a retriable PortError with its text; a target's own retriable flag is kept."""
    with pytest.raises(PortError, match=r"^VirtualService podinfo\.test query error: not found$") as caught:
        await guard(Adapter(failure)).get_routes()
    assert caught.value.retriable is retriable
