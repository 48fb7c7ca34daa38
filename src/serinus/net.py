"""Outgoing HTTP with one deadline for the whole request and a cap on the size of the answer.

Whoever writes a Canary, a MetricTemplate or an AlertProvider chooses the addresses Serinus calls, so no server
at one of them may hold the operator or fill its memory. Metric providers, webhooks and alerts read answers here:

- `fetch` gives a request one deadline for everything: connecting, sending, the headers and every byte of the
  body, as Go's http.Client.Timeout does in Flagger. httpx's own timeouts bound each read, so on their own a
  server that sends one byte a second never times out.
- The body is read as a stream and reading stops at a cap (`max_response_bytes()`: 10 MiB unless `serinus run
  --max-response-bytes` says otherwise), counted after decompression, so neither a huge answer nor a small gzip
  bomb is ever held whole. A Content-Length over the cap is refused before any of the body is read.
- `retry_after` reads a Retry-After header, for callers that wait no longer than their deadline allows.
- `fetch_blocking` is fetch for libraries that call a blocking transport from a worker thread (botocore,
  google-auth), and `DeadlineTransport` puts the same deadline under a client that reads answers itself
  (lightkube, the Kubernetes client).

This layer sits below the adapters and above the engine: metrics, hooks, notify and kube share it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import json
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2
import msgspec

from serinus.errors import DeadlineExceeded, ResponseTooLarge

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
DEFAULT_MAX_RESPONSE_BYTES = 10 * MiB

#: query parameters that make a Kubernetes request a stream the client keeps open (watches, followed logs)
STREAM_PARAMS = ("watch", "follow")

#: every exception a call to an HTTP API (a lightkube call above all) raises because the call failed, as opposed
#: to a bug in the caller: httpx2's HTTPError covers TransportError (ConnectError, ReadError, timeouts,
#: RemoteProtocolError, ...), DecodingError, TooManyRedirects and HTTPStatusError (so lightkube's ApiError); OSError
#: covers ssl.SSLError and sockets used directly; msgspec and json decoding errors are what lightkube raises on a
#: body that is not an object. serinus.kube.transient says which of them a retry may cure.
API_ERRORS: tuple[type[Exception], ...] = (
    httpx2.HTTPError,
    OSError,
    TimeoutError,
    msgspec.DecodeError,
    json.JSONDecodeError,
)

#: headers that describe the body on the wire, not the decoded body a loaded response carries
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB|Ki|Mi|Gi)?")
_UNITS = {None: 1, "B": 1, "Ki": KiB, "KiB": KiB, "Mi": MiB, "MiB": MiB, "Gi": GiB, "GiB": GiB}


class _Settings:
    """Process-wide settings, set once by `serinus run` before any request."""

    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


def set_max_response_bytes(limit: int) -> None:
    """Cap every answer read from now on in this process (`serinus run --max-response-bytes`)."""
    if limit < 1:
        raise ValueError("the response size cap must be at least 1 byte")
    _Settings.max_response_bytes = limit


def max_response_bytes() -> int:
    """The cap on the size of an answer, in bytes."""
    return _Settings.max_response_bytes


def size_text(size: int) -> str:
    """A byte count for a message: `10 MiB`, `1.5 KiB`, `100 bytes`."""
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"


def parse_size(text: str) -> int:
    """`10485760`, `10MiB`, `10Mi`, `512KiB`, `1GiB` as a number of bytes; ValueError for anything else."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size: use bytes, or a number with KiB, MiB or GiB (10MiB)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def url_problem(url: str) -> str | None:
    """Why `url` cannot be requested (not http or https, no host, unparsable), or None when it can."""
    # Both parsers must take it: httpx sends it, and messages show it through urllib (serinus.errors.safe_url).
    try:
        parts = urlsplit(url)
        _ = parts.port  # urllib checks the port only when asked
        httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError) as err:
        return f"not a valid URL ({err})"
    if parts.scheme not in ("http", "https"):
        return "not an http:// or https:// URL"
    if not parts.hostname:
        return "a URL without a host"
    return None


class Deadline:
    """The moment a call must be over by, on the monotonic clock; `seconds` is the time it was given."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.end = clock() + seconds

    def left(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.end - self.clock())

    def expired(self) -> bool:
        """Whether no time is left."""
        return self.left() <= 0.0

    def within(self, seconds: float) -> Deadline:
        """A deadline `seconds` from now, or this one if it comes sooner (one attempt inside a whole call)."""
        inner = Deadline(seconds, clock=self.clock)
        inner.end = min(inner.end, self.end)
        return inner


def timed_out(deadline: Deadline) -> DeadlineExceeded:
    """The error of a request that ran out of time."""
    return DeadlineExceeded(f"timed out after {deadline.seconds:g}s", timeout_s=deadline.seconds)


async def read_capped(response: httpx2.Response, limit: int) -> bytes:
    """The body of a streamed response, decoded, or ResponseTooLarge as soon as it passes `limit` bytes."""
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    if declared.isdigit() and not encoded and int(declared) > limit:
        raise ResponseTooLarge(
            f"response larger than {size_text(limit)} ({size_text(int(declared))} announced)",
            limit=limit,
            read=0,
            status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    # httpx decodes gzip and deflate in pieces of at most 1 MiB, so a compressed answer is stopped here too.
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(
                f"response larger than {size_text(limit)}", limit=limit, read=size, status=response.status_code
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _loaded(response: httpx2.Response, body: bytes) -> httpx2.Response:
    """A response like `response`, with `body` (already decoded) as its content."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    out = httpx2.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )
    out.default_encoding = response.default_encoding
    return out


async def fetch(
    client: httpx2.AsyncClient,
    method: str,
    url: str,
    *,
    deadline: Deadline,
    max_bytes: int | None = None,
    read_body: Callable[[httpx2.Response], bool] | None = None,
    **request: Any,
) -> httpx2.Response:
    """Send one request and read its answer, everything within `deadline`, at most `max_bytes` of body
    (`max_response_bytes()` when None). `request` is what httpx's build_request takes (params, json, headers...).

    Returns the response with its body loaded; when `read_body` says the body is not wanted it is not read at all
    and the content is empty. Raises DeadlineExceeded when time runs out, ResponseTooLarge past the cap, and
    httpx2's errors for everything else (refused, TLS, protocol).
    """
    limit = max_response_bytes() if max_bytes is None else max_bytes
    built = client.build_request(method, url, **request)
    try:
        async with asyncio.timeout(deadline.left()):
            response = await client.send(built, stream=True)
            try:
                wanted = read_body is None or read_body(response)
                body = await read_capped(response, limit) if wanted else b""
            finally:
                await response.aclose()
    except (TimeoutError, httpx2.TimeoutException) as err:
        raise timed_out(deadline) from err
    return _loaded(response, body)


def fetch_blocking(
    method: str,
    url: str,
    *,
    deadline: Deadline,
    max_bytes: int | None = None,
    verify: Any = True,
    **request: Any,
) -> httpx2.Response:
    """fetch() for a library that calls a blocking transport (botocore, google-auth): one request on a client of
    its own, on an event loop of its own, so the deadline and the cap are exactly fetch()'s."""

    async def once() -> httpx2.Response:
        # The TLS context is shared (see ssl_context); the client is not: it belongs to this call's event loop.
        shared = ssl_context(verify) if isinstance(verify, bool) else verify
        async with httpx2.AsyncClient(timeout=max(deadline.left(), 0.001), verify=shared) as client:
            return await fetch(client, method, url, deadline=deadline, max_bytes=max_bytes, **request)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(once())  # a worker thread: the usual case
    # Called on a thread that runs an event loop: that loop is blocked until we return either way, so the request
    # runs on a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(once())).result()


def retry_after(headers: httpx2.Headers, *, now: Callable[[], float] = time.time) -> float | None:
    """The seconds a Retry-After header asks to wait (a number of seconds or an HTTP date, as go-retryablehttp
    reads it); None when there is none or it cannot be read."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())


class _TimedStream(httpx2.AsyncByteStream):
    """A response body whose every read must come within `budget()` seconds."""

    def __init__(self, inner: Any, budget: Callable[[], float], expired: Callable[[], Exception]) -> None:
        self.inner = inner
        self.budget = budget
        self.expired = expired

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self.inner.__aiter__()
        while True:
            try:
                async with asyncio.timeout(self.budget()):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError as err:
                raise self.expired() from err
            yield chunk

    async def aclose(self) -> None:
        """Close the underlying stream."""
        await self.inner.aclose()


class DeadlineTransport(httpx2.AsyncBaseTransport):
    """An httpx transport that ends every request within `timeout_s`, the headers and the whole body together,
    for a client that reads answers itself (lightkube).

    A stream the client keeps open on purpose (`watch=true`, `follow=true`) has no end to bound: it gets `idle_s`
    for its headers and for each read instead, so a stream silent that long is given up as dead (ask the server
    for bookmarks or a `timeoutSeconds` below it).
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, *, timeout_s: float, idle_s: float) -> None:
        self.inner = inner
        self.timeout_s = timeout_s
        self.idle_s = idle_s

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send `request` through the wrapped transport, within the deadline."""
        streaming = any(request.url.params.get(name) in ("true", "1") for name in STREAM_PARAMS)
        deadline = Deadline(self.idle_s if streaming else self.timeout_s)

        def expired() -> Exception:
            if streaming:
                return httpx2.ReadTimeout(f"no data on the stream for {self.idle_s:g}s", request=request)
            return DeadlineExceeded(
                f"{request.method} {request.url.path}: no complete answer in {self.timeout_s:g}s",
                timeout_s=self.timeout_s,
            )

        try:
            async with asyncio.timeout(deadline.left()):
                response = await self.inner.handle_async_request(request)
        except TimeoutError as err:
            raise expired() from err
        budget = (lambda: self.idle_s) if streaming else deadline.left
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_TimedStream(response.stream, budget, expired),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


_SSL_CONTEXTS: dict[bool, ssl.SSLContext] = {}
_SSL_LOCK = threading.Lock()


def ssl_context(verify: bool) -> ssl.SSLContext:
    """httpx's TLS context for `verify` (the system's CAs, or no verification), built once per process.

    Building one loads every CA of the trust store, which costs milliseconds: a client per request paid that for
    every webhook, alert and CloudWatch call, even over http://. A context is safe to share across threads."""
    with _SSL_LOCK:
        context = _SSL_CONTEXTS.get(verify)
        if context is None:
            context = _SSL_CONTEXTS[verify] = httpx2.create_ssl_context(verify=verify)
        return context


#: connections kept open per destination between calls (more than this are closed once answered)
KEEPALIVE_PER_DESTINATION = 20
#: Seconds an idle connection is kept: less than the shortest idle timeout common servers default to (Node.js's
#: 5 s), so a request never goes out on a connection the server is closing (httpx would not retry it, where Go's
#: client does). A burst of Canaries calling one load tester shares connections; ticks 10 s apart do not.
KEEPALIVE_EXPIRY_S = 4.0


class SharedClients:
    """One httpx client per destination (scheme, host, port, TLS verification, proxy), kept across calls, so
    webhooks and alerts reuse their TLS context and connections (keep-alive, as Flagger's Go clients do).

    A pool never makes a caller wait: the number of connections is unbounded, as it was with a client per call;
    only KEEPALIVE_PER_DESTINATION of them stay open once idle. Clients belong to the event loop that made them:
    use one SharedClients per loop, and `aclose()` it before the loop ends."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, int | None, bool, str | None], httpx2.AsyncClient] = {}

    def client(self, url: str, *, verify: bool = True, proxy: str | None = None) -> httpx2.AsyncClient:
        """The client for `url`'s destination; per-request settings (timeout, headers) go on each request."""
        parts = urlsplit(url)
        key = (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, verify, proxy or None)
        found = self._clients.get(key)
        if found is None or found.is_closed:
            limits = httpx2.Limits(
                max_connections=None,
                max_keepalive_connections=KEEPALIVE_PER_DESTINATION,
                keepalive_expiry=KEEPALIVE_EXPIRY_S,
            )
            found = self._clients[key] = httpx2.AsyncClient(verify=ssl_context(verify), proxy=proxy, limits=limits)
        return found

    def __len__(self) -> int:
        return len(self._clients)

    async def aclose(self) -> None:
        """Close every client and its connections."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
