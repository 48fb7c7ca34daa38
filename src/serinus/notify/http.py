"""The one HTTP POST every alert provider uses: JSON, a 5 s timeout, an optional proxy, non-2xx is an error.

The 5 s cover the whole request, answer included, as Flagger's context deadline does (through serinus.net). As in
Flagger a 2xx answer's body is never read; a refusal's is read up to serinus.net's cap (10 MiB unless `serinus run
--max-response-bytes` says otherwise) and its start goes into the error.

Error messages name the receiver by scheme and host only: webhook URLs carry their secret in the path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.engine.gojson import go_json
from serinus.errors import DeadlineExceeded, ProviderError, ResponseTooLarge, safe_url
from serinus.net import Deadline, SharedClients, fetch, url_problem

TIMEOUT_S = 5.0


class NotifyError(ProviderError):
    """An alert could not be delivered."""


def _refused(response: httpx2.Response) -> bool:
    return not 200 <= response.status_code < 300


async def post_json(
    url: str,
    payload: Any,
    *,
    token: str | None = None,
    proxy: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = TIMEOUT_S,
    transport: httpx2.AsyncBaseTransport | None = None,
    max_response_bytes: int | None = None,
    clients: SharedClients | None = None,
) -> None:
    """POST `payload` as JSON; raise NotifyError on a network error, a timeout or a non-2xx answer.
    `max_response_bytes` overrides serinus.net's process-wide cap. With `clients` (and no `transport`) the
    receiver's client and connections are reused; without, the call makes a client of its own."""
    problem = url_problem(url)
    if problem is not None:  # the URL is never echoed: it carries the receiver's secret
        raise NotifyError(f"sending notification failed: the receiver URL is {problem}")
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent_headers["Authorization"] = f"Bearer {token}"
    where = safe_url(url, keep_path=False)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if clients is not None and transport is None:
                client = clients.client(url, proxy=proxy or None)
            else:
                client = await stack.enter_async_context(
                    httpx2.AsyncClient(proxy=proxy or None, timeout=timeout_s, transport=transport)
                )
            response = await fetch(
                client,
                "POST",
                url,
                deadline=Deadline(timeout_s),
                max_bytes=max_response_bytes,
                read_body=_refused,
                content=go_json(payload),
                headers=sent_headers,
                timeout=timeout_s,
            )
    except DeadlineExceeded as err:
        raise NotifyError(f"sending notification to {where} timed out after {timeout_s:g}s") from err
    except ResponseTooLarge as err:
        raise NotifyError(f"sending notification to {where} bad response {err.status}: {err}") from err
    except httpx2.HTTPError as err:
        raise NotifyError(f"sending notification to {where} failed: {type(err).__name__}") from err
    if _refused(response):
        raise NotifyError(f"sending notification to {where} bad response {response.status_code}: {response.text[:200]}")
