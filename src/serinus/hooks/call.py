"""One webhook call with Flagger's HTTP semantics (go-retryablehttp underneath Flagger).

POST JSON with a timeout (default 10 s); retry up to `retries` times on connection errors, 429 and 5xx except
501, waiting 1 s, 2 s, 4 s ... (at most 30 s, or what a 429/503 Retry-After asks); success is a final status
<= 202. A refusal's error is the response body, so a gate can say why it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.engine.gojson import go_json
from serinus.errors import SerinusError, safe_url

DEFAULT_TIMEOUT_S = 10.0


class WebhookError(SerinusError):
    """A webhook refused, failed or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retryable(status: int) -> bool:
    return status == 429 or (500 <= status <= 599 and status != 501)


def _wait(attempt: int, response: httpx2.Response | None, min_s: float, max_s: float) -> float:
    if response is not None and response.status_code in (429, 503):
        after = response.headers.get("Retry-After", "")
        if after.isdigit():
            return float(after)
    return min(max_s, min_s * 2.0**attempt)


async def call_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = 0,
    disable_tls: bool = False,
    backoff_min_s: float = 1.0,
    backoff_max_s: float = 30.0,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> None:
    """POST `payload`; return on a status <= 202, raise WebhookError otherwise."""
    body = go_json(payload)
    headers = {"Content-Type": "application/json"}
    attempts = max(0, retries) + 1
    async with httpx2.AsyncClient(timeout=timeout_s, verify=not disable_tls, transport=transport) as client:
        for attempt in range(attempts):
            response: httpx2.Response | None = None
            failure: str
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx2.TimeoutException:
                failure = f"timed out after {timeout_s:g}s"
            except httpx2.HTTPError as err:
                failure = f"{type(err).__name__}: {err}"
            else:
                if not _retryable(response.status_code):
                    if response.status_code > 202:
                        raise WebhookError(response.text, response.status_code)
                    return
                failure = f"status {response.status_code}"
            if attempt + 1 < attempts:
                await asyncio.sleep(_wait(attempt, response, backoff_min_s, backoff_max_s))
    status = response.status_code if response is not None else None
    raise WebhookError(f"POST {safe_url(url)} giving up after {attempts} attempt(s): {failure}", status)
