"""The one HTTP POST every alert provider uses: JSON, a 5 s timeout, an optional proxy, non-2xx is an error.

Error messages name the receiver by scheme and host only: webhook URLs carry their secret in the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.engine.gojson import go_json
from serinus.errors import ProviderError, safe_url

TIMEOUT_S = 5.0


class NotifyError(ProviderError):
    """An alert could not be delivered."""


async def post_json(
    url: str,
    payload: Any,
    *,
    token: str | None = None,
    proxy: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = TIMEOUT_S,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> None:
    """POST `payload` as JSON; raise NotifyError on a network error, a timeout or a non-2xx answer."""
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent_headers["Authorization"] = f"Bearer {token}"
    where = safe_url(url, keep_path=False)
    try:
        async with httpx2.AsyncClient(proxy=proxy or None, timeout=timeout_s, transport=transport) as client:
            response = await client.post(url, content=go_json(payload), headers=sent_headers)
    except httpx2.TimeoutException as err:
        raise NotifyError(f"sending notification to {where} timed out after {timeout_s:g}s") from err
    except httpx2.HTTPError as err:
        raise NotifyError(f"sending notification to {where} failed: {type(err).__name__}") from err
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"sending notification to {where} bad response {response.status_code}: {response.text[:200]}")
