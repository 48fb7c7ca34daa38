"""Servers on 127.0.0.1 that answer the way a careless or hostile endpoint does: one byte at a time, or with a
body far larger than anything Serinus needs. Raw asyncio sockets, so the tests control every byte on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tests.integration.receivers import free_port

MiB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Hostile:
    """A running hostile server: its URL, the requests it took and the bytes it managed to send."""

    url: str
    requests: int = 0
    sent: int = 0


async def _read_request(reader: asyncio.StreamReader) -> None:
    """Read one request (headers and a Content-Length body) so the client is done sending."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            await reader.readexactly(int(value.strip()))


def response_head(status: int, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 status line and headers, ending the connection after the body."""
    lines = [f"HTTP/1.1 {status} Whatever", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


@asynccontextmanager
async def _serve(
    handle: Callable[[asyncio.StreamWriter], Awaitable[None]], server: Hostile, port: int
) -> AsyncIterator[Hostile]:
    handlers: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        # A client that gives up (ConnectionError, IncompleteReadError) is the point of these servers; a handler
        # cancelled at the end of a test is not an error, though asyncio's stream server would log it as one.
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                await _read_request(reader)
                server.requests += 1
                await handle(writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", port)
    try:
        yield server
    finally:
        listener.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.wait_closed(), 5)


@asynccontextmanager
async def drip(
    *, status: int = 200, body: bytes = b'{"status":"success"}' + b" " * 4000, every_s: float = 0.5, head_too: bool
) -> AsyncIterator[Hostile]:
    """A server that sends its answer one byte every `every_s` seconds: the headers too when `head_too`, else the
    headers at once and then the body byte by byte (4 KB take more than half an hour)."""
    port = free_port()
    server = Hostile(f"http://127.0.0.1:{port}")
    head = response_head(status, {"Content-Type": "application/json", "Content-Length": str(len(body))})

    async def handle(writer: asyncio.StreamWriter) -> None:
        wire = head + body
        if not head_too:
            writer.write(head)
            await writer.drain()
            server.sent += len(head)
            wire = body
        for i in range(len(wire)):
            writer.write(wire[i : i + 1])
            await writer.drain()
            server.sent += 1
            await asyncio.sleep(every_s)

    async with _serve(handle, server, port) as running:
        yield running


@asynccontextmanager
async def huge(
    *, size: int = 64 * MiB, status: int = 200, announce: bool = False, gzipped: bool = False
) -> AsyncIterator[Hostile]:
    """A server that streams `size` bytes of body (spaces, which a JSON reader would skip) in 64 KiB writes, as
    fast as the client reads them; with `announce` it says so in Content-Length first, with `gzipped` it sends
    them gzip-compressed (64 MiB of spaces are about 64 KiB on the wire)."""
    port = free_port()
    server = Hostile(f"http://127.0.0.1:{port}")
    payload = gzip.compress(b" " * size, compresslevel=9) if gzipped else b""
    headers = {"Content-Type": "application/json"}
    if gzipped:
        headers |= {"Content-Encoding": "gzip", "Content-Length": str(len(payload))}
    elif announce:
        headers["Content-Length"] = str(size)

    async def handle(writer: asyncio.StreamWriter) -> None:
        writer.write(response_head(status, headers))
        await writer.drain()
        if gzipped:
            for start in range(0, len(payload), CHUNK):
                writer.write(payload[start : start + CHUNK])
                await writer.drain()
                server.sent += len(payload[start : start + CHUNK])
            return
        block = b" " * CHUNK
        left = size
        while left > 0:
            piece = block[: min(CHUNK, left)]
            writer.write(piece)
            await writer.drain()  # waits while the client does not read: what was sent is what it took
            server.sent += len(piece)
            left -= len(piece)

    async with _serve(handle, server, port) as running:
        yield running


@asynccontextmanager
async def answering(status: int, headers: dict[str, str], body: bytes = b"") -> AsyncIterator[Hostile]:
    """A server that answers every request at once with `status`, `headers` and `body`."""
    port = free_port()
    server = Hostile(f"http://127.0.0.1:{port}")

    async def handle(writer: asyncio.StreamWriter) -> None:
        writer.write(response_head(status, {**headers, "Content-Length": str(len(body))}) + body)
        await writer.drain()
        server.sent += len(body)

    async with _serve(handle, server, port) as running:
        yield running


@asynccontextmanager
async def streaming(lines: list[bytes], *, every_s: float) -> AsyncIterator[Hostile]:
    """A server that answers 200 and sends one of `lines` every `every_s` seconds, then stays silent with the
    connection open, as a watch with nothing more to say does (no bookmarks)."""
    port = free_port()
    server = Hostile(f"http://127.0.0.1:{port}")

    async def handle(writer: asyncio.StreamWriter) -> None:
        writer.write(response_head(200, {"Content-Type": "application/json"}))
        for line in lines:
            writer.write(line + b"\n")
            await writer.drain()
            server.sent += len(line) + 1
            await asyncio.sleep(every_s)
        await asyncio.sleep(3600)

    async with _serve(handle, server, port) as running:
        yield running
