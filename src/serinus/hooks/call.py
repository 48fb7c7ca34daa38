"""One webhook call with Flagger's HTTP semantics (go-retryablehttp underneath Flagger).

POST JSON; retry up to `retries` times on connection errors, 429 and 5xx except 501, waiting 1 s, 2 s, 4 s ...
(at most 30 s, or what a 429/503 Retry-After asks); success is a final status <= 202. A refusal's error is the
response body, so a gate can say why it holds.

Time and size are bounded, through serinus.net, where Flagger's are not:

- Each attempt, its answer included, is over within the hook's timeout (default 10 s), as Go's
  http.Client.Timeout bounds each of Flagger's attempts: a server that drips its answer is cut off there.
- The whole call is over within `(retries + 1) x timeout` plus the backoff waits (1 s + 2 s + 4 s ..., each at most
  30 s), the longest Flagger's retries take when the server sends no Retry-After. A Retry-After is obeyed while
  it ends inside that; one asking for longer gives up at once and says so (Flagger would wait an hour for
  `Retry-After: 3600`).
- An answer is read up to serinus.net's cap (10 MiB unless `serinus run --max-response-bytes` says otherwise).
  A refusal or failure larger than that is "response larger than 10 MiB"; a success stays a success, its body
  unread past the cap (Flagger reads it whole and ignores it). As in go-retryablehttp, the body of an answer
  that will be retried is not read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.engine.gojson import go_json
from serinus.errors import DeadlineExceeded, ResponseTooLarge, SerinusError, safe_url
from serinus.net import Deadline, SharedClients, fetch, retry_after, url_problem

DEFAULT_TIMEOUT_S = 10.0


class WebhookError(SerinusError):
    """A webhook refused, failed or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retryable(status: int) -> bool:
    return status == 429 or (500 <= status <= 599 and status != 501)


def _backoff(attempt: int, min_s: float, max_s: float) -> float:
    """go-retryablehttp's DefaultBackoff without a Retry-After: min * 2^attempt, at most max."""
    if attempt >= 64:  # past any max (and 2.0**1024 overflows, where Go's math.Pow gives +Inf and so max)
        return max_s
    return min(max_s, min_s * 2.0**attempt)


def _wait(attempt: int, response: httpx2.Response | None, min_s: float, max_s: float) -> tuple[float, bool]:
    """Seconds to wait before the next attempt, and whether the server asked for them (Retry-After)."""
    if response is not None and response.status_code in (429, 503):
        asked = retry_after(response.headers)
        if asked is not None:
            return asked, True
    return _backoff(attempt, min_s, max_s), False


def call_budget(timeout_s: float, retries: int, backoff_min_s: float = 1.0, backoff_max_s: float = 30.0) -> float:
    """The longest a call may take: every attempt's timeout plus every backoff wait between them."""
    attempts = max(0, retries) + 1
    waits = 0.0
    for i in range(attempts - 1):
        step = _backoff(i, backoff_min_s, backoff_max_s)
        if step >= backoff_max_s or step <= 0:  # every later wait is the same: count them at once
            waits += step * (attempts - 1 - i)
            break
        waits += step
    return attempts * timeout_s + waits


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
    max_response_bytes: int | None = None,
    clients: SharedClients | None = None,
) -> None:
    """POST `payload`; return on a status <= 202, raise WebhookError otherwise. `max_response_bytes` overrides
    serinus.net's process-wide cap. With `clients` (and no `transport`) the call reuses the destination's client
    and connections; without, it makes a client of its own."""
    problem = url_problem(url)
    if problem is not None:  # as Flagger's url.Parse, before any attempt; the URL may carry credentials
        raise WebhookError(f"the webhook URL is {problem}")
    body = go_json(payload)
    headers = {"Content-Type": "application/json"}
    attempts = max(0, retries) + 1
    budget = call_budget(timeout_s, retries, backoff_min_s, backoff_max_s)
    call = Deadline(budget)
    where = safe_url(url)
    made = 0
    async with contextlib.AsyncExitStack() as stack:
        if clients is not None and transport is None:
            client = clients.client(url, verify=not disable_tls)
        else:
            client = await stack.enter_async_context(
                httpx2.AsyncClient(timeout=timeout_s, verify=not disable_tls, transport=transport)
            )
        while True:
            made += 1
            response: httpx2.Response | None = None
            failure: str
            try:
                response = await fetch(
                    client,
                    "POST",
                    url,
                    deadline=call.within(timeout_s),
                    max_bytes=max_response_bytes,
                    read_body=lambda answer: not _retryable(answer.status_code),
                    content=body,
                    headers=headers,
                    timeout=timeout_s,
                )
            except DeadlineExceeded:
                failure = f"timed out after {timeout_s:g}s"
            except ResponseTooLarge as err:
                if err.status is not None and err.status <= 202:
                    return
                raise WebhookError(f"POST {where}: {err}", err.status) from err
            except httpx2.HTTPError as err:
                failure = f"{type(err).__name__}: {err}"
            else:
                if not _retryable(response.status_code):
                    if response.status_code > 202:
                        raise WebhookError(response.text, response.status_code)
                    return
                failure = f"status {response.status_code}"
            if made >= attempts:
                break
            wait, asked = _wait(made - 1, response, backoff_min_s, backoff_max_s)
            if asked and wait >= call.left():
                failure += f" (Retry-After {wait:g}s is past the call's {budget:g}s limit)"
                break
            await asyncio.sleep(min(wait, call.left()))
    status = response.status_code if response is not None else None
    raise WebhookError(f"POST {where} giving up after {made} attempt(s): {failure}", status)
