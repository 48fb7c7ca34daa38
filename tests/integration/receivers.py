"""A local HTTP receiver that records every request: the stand-in for SaaS endpoints in integration tests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One recorded request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Recorder:
    """A local HTTP receiver: records every request and answers with `status` after `delay` seconds."""

    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    #: statuses to answer in turn before falling back to `status`
    script: list[int] = field(default_factory=list)
    #: the body to answer with; by default "ok" below 300 and "receiver says no" otherwise
    body: str | None = None


@pytest.fixture
async def receiver() -> AsyncIterator[Recorder]:
    """An HTTP server on 127.0.0.1 that records requests to any path."""
    port = free_port()
    rec = Recorder(url=f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        rec.requests.append(Received(request.method, request.path_qs, dict(request.headers), await request.read()))
        if rec.delay:
            await asyncio.sleep(rec.delay)
        status = rec.script.pop(0) if rec.script else rec.status
        text = rec.body if rec.body is not None else ("ok" if status < 300 else "receiver says no")
        return web.Response(status=status, text=text)

    async with serving(handle, port):
        yield rec


@asynccontextmanager
async def serving(handle: Callable[[web.Request], Awaitable[web.StreamResponse]], port: int) -> AsyncIterator[None]:
    """An aiohttp server on 127.0.0.1:`port` answering every method and path with `handle`."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()
