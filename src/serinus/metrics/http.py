"""The HTTP side every metrics provider shares: one client, and errors a person can act on.

Each failure is one of serinus.errors' MetricsError kinds, worded `<provider> <address>: <what>; query: <query>`.
The address never carries credentials and no header value ever reaches a message.

A request, its answer included, is over within `timeout_s` (5 s, as Flagger's providers), and an answer larger than
serinus.net's cap (10 MiB unless `serinus run --max-response-bytes` says otherwise) is refused after reading no
more than that: see serinus.net.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.errors import (
    AuthenticationFailed,
    DeadlineExceeded,
    InvalidSpecError,
    MalformedAnswer,
    MetricsError,
    ProviderUnreachable,
    QueryFailed,
    ResponseTooLarge,
    safe_url,
)
from serinus.metrics.answers import Fail
from serinus.net import Deadline, fetch, url_problem

TIMEOUT_S = 5.0


def collapse(query: str) -> str:
    """Whitespace runs become one space, as Flagger sends queries."""
    return " ".join(query.split())


def snippet(text: str, limit: int = 200) -> str:
    """The start of a response body, on one line, for an error message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


class ProviderHttp:
    """One provider's HTTP client: base address, fixed headers and auth, timeouts, classified errors."""

    def __init__(
        self,
        provider: str,
        address: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx2.Auth | None = None,
        verify: bool = True,
        timeout_s: float = TIMEOUT_S,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        problem = url_problem(address)
        if problem is not None:  # the address is never echoed: it may carry credentials
            raise InvalidSpecError(f"{provider}: the provider address is {problem}")
        self.provider = provider
        self.address = address.rstrip("/")
        self.shown = safe_url(address)
        self.timeout_s = timeout_s
        #: the cap on an answer's size; None for serinus.net's process-wide one
        self.max_response_bytes = max_response_bytes
        self._client = httpx2.AsyncClient(
            timeout=timeout_s, verify=verify, auth=auth, headers=dict(headers or {}), transport=transport
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    def error(self, kind: type[MetricsError], what: str, query: str = "") -> MetricsError:
        """An error of `kind` naming the provider, the address and the query."""
        text = f"{self.provider} {self.shown}: {what}" + (f"; query: {query}" if query else "")
        return kind(text, provider=self.provider, address=self.shown, query=query)

    def malformed(self, query: str) -> Fail:
        """The MalformedAnswer of one query, for serinus.metrics.answers' parsers."""
        return lambda what: self.error(MalformedAnswer, what, query)

    def url(self, path: str) -> str:
        """`path` under the provider's address (a full URL is taken as it is)."""
        return path if path.startswith(("http://", "https://")) else f"{self.address}{path}"

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        check_status: bool = True,
    ) -> httpx2.Response:
        """One request, answer included, within `timeout_s`. Transport failures and running out of time are
        ProviderUnreachable, an answer over the size cap QueryFailed, 401/403 AuthenticationFailed, and (unless
        `check_status` is off) any other status >= 400 is QueryFailed with the start of the body."""
        try:
            response = await fetch(
                self._client,
                method,
                self.url(path),
                deadline=Deadline(self.timeout_s),
                max_bytes=self.max_response_bytes,
                params=params,
                json=json,
                content=content,
                headers=headers,
            )
        except DeadlineExceeded as err:
            raise self.error(ProviderUnreachable, f"timed out after {self.timeout_s:g}s", query) from err
        except ResponseTooLarge as err:
            raise self.error(QueryFailed, str(err), query) from err
        except httpx2.HTTPError as err:
            raise self.error(ProviderUnreachable, f"unreachable ({type(err).__name__})", query) from err
        if response.status_code in (401, 403):
            raise self.error(AuthenticationFailed, f"authentication failed (HTTP {response.status_code})", query)
        if check_status and response.status_code >= 400:
            raise self.error(
                QueryFailed, f"query failed (HTTP {response.status_code}: {snippet(response.text)})", query
            )
        return response

    async def json(self, method: str, path: str, *, query: str = "", **kwargs: Any) -> Any:
        """send(), then the body as JSON (a body that is not JSON is QueryFailed)."""
        return self.decode(await self.send(method, path, query=query, **kwargs), query)

    def decode(self, response: httpx2.Response, query: str = "") -> Any:
        """The body of `response` as JSON; a body that is not JSON is QueryFailed."""
        try:
            return response.json()
        except (ValueError, RecursionError) as err:  # RecursionError: JSON nested deeper than the parser goes
            raise self.error(QueryFailed, f"HTTP {response.status_code}, body is not JSON", query) from err


def as_float(value: Any) -> float | None:
    """A JSON number or numeric string as a float; None for null or anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
