"""Manual gates: /gate/* and /rollback/*, kept in memory (lost on restart, as in Flagger)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from serinus.loadtester.payload import WebhookPayload

log = logging.getLogger("serinus.loadtester")

#: Reads the webhook payload of a request, answering 400 / 403 itself (by raising) when it must.
PayloadReader = Callable[[web.Request], Awaitable[WebhookPayload]]
Handler = Callable[[web.Request], Awaitable[web.Response]]


class GateStore:
    """Open/closed state per gate key; a gate never opened is closed."""

    def __init__(self) -> None:
        self._open: dict[str, bool] = {}

    def open(self, key: str) -> None:
        """Open the gate `key`."""
        self._open[key] = True

    def close(self, key: str) -> None:
        """Close the gate `key`."""
        self._open[key] = False

    def is_open(self, key: str) -> bool:
        """Whether the gate `key` is open."""
        return self._open.get(key, False)


def gate_key(payload: WebhookPayload) -> str:
    """The promotion gate of a canary: `<name>.<namespace>`."""
    return payload.canary


def rollback_key(payload: WebhookPayload) -> str:
    """The rollback gate of a canary: `rollback.<name>.<namespace>`."""
    return f"rollback.{payload.canary}"


async def approve(_: web.Request) -> web.Response:
    """/gate/approve: always 200 `OK`."""
    return web.Response(text="OK")


async def halt(_: web.Request) -> web.Response:
    """/gate/halt: always 403 `Forbidden`."""
    return web.Response(status=403, text="Forbidden")


def gate_routes(store: GateStore, read: PayloadReader) -> list[web.RouteDef]:
    """The gate endpoints of Flagger's pkg/loadtester/server.go ListenAndServe, any method, on `store`."""

    def check(key_of: Callable[[WebhookPayload], str], what: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            key = key_of(await read(request))
            approved = store.is_open(key)
            log.info("%s %s check: approved %s", key, what, str(approved).lower())
            if approved:
                return web.Response(text="Approved")
            return web.Response(status=403, text="Forbidden")

        return handler

    def setter(key_of: Callable[[WebhookPayload], str], what: str, opening: bool) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            key = key_of(await read(request))
            if opening:
                store.open(key)
            else:
                store.close(key)
            log.info("%s %s %s", key, what, "opened" if opening else "closed")
            return web.Response(status=202)

        return handler

    return [
        web.route("*", "/gate/approve", approve),
        web.route("*", "/gate/halt", halt),
        web.route("*", "/gate/check", check(gate_key, "gate")),
        web.route("*", "/gate/open", setter(gate_key, "gate", opening=True)),
        web.route("*", "/gate/close", setter(gate_key, "gate", opening=False)),
        web.route("*", "/rollback/check", check(rollback_key, "rollback")),
        web.route("*", "/rollback/open", setter(rollback_key, "rollback", opening=True)),
        web.route("*", "/rollback/close", setter(rollback_key, "rollback", opening=False)),
    ]
