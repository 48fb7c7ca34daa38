"""Webhooks and alerts reuse one client per destination: their connections stay open across calls, and a burst of
concurrent calls never waits for a connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from serinus.hooks.call import WebhookError, call_webhook
from serinus.hooks.payload import hook_payload
from serinus.net import SharedClients
from serinus.notify.http import post_json
from tests.integration.receivers import free_port, serving

pytestmark = pytest.mark.integration
PAYLOAD = hook_payload("podinfo", "test", "Progressing", "85d557f47b", {})


class Peers:
    """A local server that answers every request (after `delay` s) and records the client port it came from."""

    def __init__(self, delay: float = 0.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.delay = delay
        self.ports: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        """Record the caller's port; answer 200, or 403 to a body asking for it."""
        assert request.transport is not None
        self.ports.append(request.transport.get_extra_info("peername")[1])
        body: Any = await request.json()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=403 if body.get("refuse") else 200, text="no" if body.get("refuse") else "ok")


async def test_webhook_calls_share_one_connection() -> None:
    """Five calls through SharedClients arrive over one TCP connection; five calls without arrive over five."""
    peers = Peers()
    async with serving(peers.handle, peers.port):
        clients = SharedClients()
        try:
            for _ in range(5):
                await call_webhook(peers.url, PAYLOAD, clients=clients)
        finally:
            await clients.aclose()
        assert len(peers.ports) == 5
        assert len(set(peers.ports)) == 1
        peers.ports.clear()
        for _ in range(5):
            await call_webhook(peers.url, PAYLOAD)
        assert len(set(peers.ports)) == 5


async def test_a_refusal_through_a_shared_client_is_still_a_refusal() -> None:
    """The shared client changes no verdict: a 403 is a WebhookError carrying the body, the next call succeeds."""
    peers = Peers()
    async with serving(peers.handle, peers.port):
        clients = SharedClients()
        try:
            with pytest.raises(WebhookError) as refused:
                await call_webhook(peers.url, {**PAYLOAD, "refuse": True}, clients=clients)
            await call_webhook(peers.url, PAYLOAD, clients=clients)
        finally:
            await clients.aclose()
    assert (str(refused.value), refused.value.status) == ("no", 403)


async def test_a_burst_never_waits_for_a_connection() -> None:
    """150 concurrent calls to a server answering after 0.5 s all succeed within their 5 s timeout: the pool has no
    cap to queue them behind (httpx's default is 100)."""
    peers = Peers(delay=0.5)
    async with serving(peers.handle, peers.port):
        clients = SharedClients()
        try:
            started = asyncio.get_running_loop().time()
            await asyncio.gather(*(call_webhook(peers.url, PAYLOAD, timeout_s=5, clients=clients) for _ in range(150)))
            took = asyncio.get_running_loop().time() - started
        finally:
            await clients.aclose()
    assert len(peers.ports) == 150
    assert took < 5


async def test_alerts_share_the_receivers_client() -> None:
    """Alerts posted through SharedClients are all delivered through one client (one TLS context). Each still opens
    a connection: as in Flagger, a 2xx answer's body is never read, and a connection with an unread answer is not
    reused."""
    peers = Peers()
    async with serving(peers.handle, peers.port):
        clients = SharedClients()
        try:
            for _ in range(3):
                await post_json(peers.url, {"text": "hi"}, clients=clients)
            assert len(clients) == 1
        finally:
            await clients.aclose()
    assert len(peers.ports) == 3


async def test_one_client_per_destination() -> None:
    """Destinations differing in host, port, scheme, TLS verification or proxy get clients of their own; paths do
    not."""
    clients = SharedClients()
    try:
        a = clients.client("http://127.0.0.1:8080/a")
        assert clients.client("http://127.0.0.1:8080/b?x=1") is a
        assert clients.client("http://127.0.0.1:8081/a") is not a
        assert clients.client("https://127.0.0.1:8080/a") is not a
        assert clients.client("http://127.0.0.1:8080/a", verify=False) is not a
        assert len(clients) == 4
    finally:
        await clients.aclose()
    assert len(clients) == 0
