"""Fixtures of the command tests: a guard that sees every attempt to reach another socket, and a local HTTP server
that records what reaches it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def _is_loopback(host: object) -> bool:
    if host in (None, "localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host)).is_loopback
    except ValueError:
        return False


@dataclass
class NetworkGuard:
    """Every connection, name lookup and datagram the code under test attempted, as `what host`.

    In strict mode every attempt is recorded (the test asserts there were none) and loopback ones still go through,
    so a local server can witness them too; otherwise only attempts beyond loopback are recorded. Attempts beyond
    loopback are always refused with an OSError, so nothing leaves the machine."""

    strict: bool = True
    attempts: list[str] = field(default_factory=list)

    def check(self, what: str, host: object) -> None:
        """Record the attempt; refuse it unless it stays on this machine."""
        local = _is_loopback(host) or (isinstance(host, str) and host.startswith("/"))  # a Unix socket path
        if self.strict or not local:
            self.attempts.append(f"{what} {host!r}")
        if not local:
            raise OSError(f"the test forbids network access: {what} {host!r}")


def _address_host(address: Any) -> object:
    return address[0] if isinstance(address, tuple) else address


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> NetworkGuard:
    """Patch socket connect / connect_ex / sendto / getaddrinfo and asyncio's create_connection, getaddrinfo and
    sock_connect, so every attempt to reach a socket is seen (and refused beyond loopback)."""
    guard = NetworkGuard()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto, real_getaddrinfo = socket.socket.sendto, socket.getaddrinfo
    loop_class = asyncio.base_events.BaseEventLoop
    real_create, real_loop_getaddrinfo = loop_class.create_connection, loop_class.getaddrinfo
    real_sock_connect = loop_class.sock_connect

    def connect(self: socket.socket, address: Any) -> None:
        guard.check("connect", _address_host(address))
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard.check("connect_ex", _address_host(address))
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        guard.check("sendto", _address_host(args[-1]))
        return real_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        guard.check("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)

    async def create_connection(self: Any, protocol_factory: Any, host: Any = None, *args: Any, **kwargs: Any) -> Any:
        guard.check("create_connection", host if host is not None else kwargs.get("sock"))
        return await real_create(self, protocol_factory, host, *args, **kwargs)

    async def loop_getaddrinfo(self: Any, host: Any, *args: Any, **kwargs: Any) -> Any:
        guard.check("loop.getaddrinfo", host)
        return await real_loop_getaddrinfo(self, host, *args, **kwargs)

    async def sock_connect(self: Any, sock: socket.socket, address: Any) -> None:
        guard.check("sock_connect", _address_host(address))
        return await real_sock_connect(self, sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(loop_class, "create_connection", create_connection)
    monkeypatch.setattr(loop_class, "getaddrinfo", loop_getaddrinfo)
    monkeypatch.setattr(loop_class, "sock_connect", sock_connect)
    return guard


@dataclass
class Recorder:
    """A local HTTP server's address and the requests (method, path) it received."""

    url: str
    requests: list[tuple[str, str]]
    #: what every request is answered with: status and JSON body
    answer: tuple[int, bytes] = (200, b"{}")


@pytest.fixture
def http_recorder() -> Iterator[Recorder]:
    """A real HTTP server on 127.0.0.1 that answers every request with `answer` and records it."""
    requests: list[tuple[str, str]] = []
    recorder = Recorder("", requests)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            requests.append((self.command, self.path))
            status, body = recorder.answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
