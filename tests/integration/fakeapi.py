"""A local HTTP server standing in for a SaaS API: routes answer with the provider's documented shapes, and every
request is recorded so a test can check path, parameters, headers and auth against the provider's docs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from tests.integration.receivers import free_port, serving


@dataclass
class Call:
    """One recorded request."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


#: an answer: (status, body), where a dict or list body is sent as JSON and a str as text
Answer = tuple[int, Any]


@dataclass
class FakeApi:
    """Routes by (method, path); unknown routes answer 404 like a real API."""

    url: str
    calls: list[Call] = field(default_factory=list)
    routes: dict[tuple[str, str], Answer | Callable[[Call], Answer]] = field(default_factory=dict)
    content_type: dict[tuple[str, str], str] = field(default_factory=dict)

    def on(self, method: str, path: str, answer: Answer | Callable[[Call], Answer], content_type: str = "") -> None:
        """Answer `method path` with `answer` (or with what a function of the call returns)."""
        self.routes[(method, path)] = answer
        if content_type:
            self.content_type[(method, path)] = content_type

    def only(self, method: str, path: str) -> Call:
        """The one call made to `method path`."""
        calls = [c for c in self.calls if (c.method, c.path) == (method, path)]
        assert len(calls) == 1, f"expected one {method} {path}, got {[(c.method, c.path) for c in self.calls]}"
        return calls[0]


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeApi]:
    """A FakeApi on 127.0.0.1."""
    port = free_port()
    api = FakeApi(url=f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        params = {k: v[-1] for k, v in parse_qs(request.query_string, keep_blank_values=True).items()}
        call = Call(request.method, request.path, params, dict(request.headers), await request.read())
        api.calls.append(call)
        answer = api.routes.get((request.method, request.path))
        if answer is None:
            return web.json_response({"errors": [f"no route {request.method} {request.path}"]}, status=404)
        status, body = answer(call) if callable(answer) else answer
        content_type = api.content_type.get((request.method, request.path))
        if isinstance(body, (dict, list)):
            return web.json_response(body, status=status)
        return web.Response(status=status, text=str(body), content_type=content_type or "text/plain")

    async with serving(handle, port):
        yield api
