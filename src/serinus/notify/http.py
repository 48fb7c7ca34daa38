"""The one HTTP POST every alert provider uses: JSON, a 5 s timeout, an optional proxy, non-2xx is an error.

Error messages name the receiver by scheme and host only: webhook URLs carry their secret in the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx2

from serinus.engine.gojson import go_json
from serinus.errors import ProviderError

TIMEOUT_S = 5.0


class NotifyError(ProviderError):
    """An alert could not be delivered."""


def redact(url: str) -> str:
    """`scheme://host[:port]` of a URL, without path, query or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


async def post_json(url: str, payload: Any, *, token: str | None = None, proxy: str | None = None,
                    headers: Mapping[str, str] | None = None, timeout_s: float = TIMEOUT_S,
                    transport: httpx2.AsyncBaseTransport | None = None) -> None:
    """POST `payload` as JSON; raise NotifyError on a network error, a timeout or a non-2xx answer."""
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent_headers["Authorization"] = f"Bearer {token}"
    try:
        async with httpx2.AsyncClient(proxy=proxy or None, timeout=timeout_s, transport=transport) as client:
            response = await client.post(url, content=go_json(payload), headers=sent_headers)
    except httpx2.TimeoutException as err:
        raise NotifyError(f"sending notification to {redact(url)} timed out after {timeout_s:g}s") from err
    except httpx2.HTTPError as err:
        raise NotifyError(f"sending notification to {redact(url)} failed: {type(err).__name__}") from err
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"sending notification to {redact(url)} bad response {response.status_code}: "
                          f"{response.text[:200]}")
