"""Splunk Observability (SignalFx): a SignalFlow program over the last ten intervals.

Flagger's client speaks SignalFlow over a WebSocket; Serinus uses SignalFlow's documented HTTP form, which runs the
same program with the same window and answers as Server-Sent Events:
`POST https://stream.<realm>.signalfx.com/v2/signalflow/execute?start=&stop=&immediate=true` with the program as
the body and `X-SF-Token`. The provider address is the API address (`https://api.<realm>.signalfx.com`); the
stream address is derived from it as Flagger does. Null values are dropped, more than one time series is
"multiple values", and the value is the last one received. `GET <api>/v2/metric?limit=1` tells whether the token
works.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

from serinus.errors import InvalidSpecError, MultipleValues, NoValuesFound, QueryFailed
from serinus.metrics.answers import items, number, obj
from serinus.metrics.http import ProviderHttp
from serinus.metrics.secrets import required

TOKEN = "sf_token_key"


def stream_address(address: str) -> str:
    """`https://api.<realm>.signalfx.com` becomes `https://stream.<realm>.signalfx.com`; others stay."""
    parts = urlsplit(address.rstrip("/"))
    host = parts.netloc
    if host.startswith("api."):
        host = "stream." + host.removeprefix("api.")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def events(text: str) -> Iterator[tuple[str, Any]]:
    """(event name, parsed data) for every Server-Sent Event of a finished stream."""
    name, lines = "message", list[str]()
    for line in [*text.splitlines(), ""]:
        if not line:
            if lines:
                try:
                    yield name, json.loads("\n".join(lines))
                except (ValueError, RecursionError):
                    yield name, None
            name, lines = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            lines.append(line.removeprefix("data:").removeprefix(" "))


class SplunkProvider:
    """Runs a SignalFlow program and returns its single series' last value."""

    name = "splunk"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        interval_s: float,
        now: Callable[[], float] = time.time,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        if not address:
            raise InvalidSpecError("splunk: spec.provider.address is required (https://api.<realm>.signalfx.com)")
        (token,) = required(self.name, secret, TOKEN)
        self.window_ms = int(10 * interval_s * 1000)
        self.now = now
        self.api = address.rstrip("/")
        self.http = ProviderHttp(self.name, stream_address(address), transport=transport, headers={"X-SF-Token": token})

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def query(self, query: str) -> float:
        """The last non-null value of the program's one time series over the window."""
        program = query.strip()
        end = int(self.now() * 1000)
        response = await self.http.send(
            "POST",
            "/v2/signalflow/execute",
            query=program,
            params={"start": end - self.window_ms, "stop": end, "immediate": "true"},
            headers={"Content-Type": "text/plain"},
            content=program,
        )
        return self.answer(response.text, program)

    def answer(self, text: str, program: str) -> float:
        """The last non-null value of the stream's one time series; null and NaN values are skipped, several
        series are "multiple values", none is "no values found", and ±Inf, a value that is no number or a data
        message of the wrong shape is MalformedAnswer."""

        fail = self.http.malformed(program)

        series: set[str] = set()
        value: float | None = None
        for name, data in events(text):
            if not isinstance(data, dict):
                continue
            if name == "error" or data.get("type") == "error" or data.get("event") == "JOB_START_FAILED":
                raise self.http.error(QueryFailed, f"SignalFlow error: {data.get('message') or data}", program)
            if name != "data":
                continue
            for payload in items(data.get("data"), "a data message's data", fail):
                got = number(obj(payload, "a data point", fail).get("value"), "a data point's value", fail)
                if got is None or math.isnan(got):
                    continue
                series.add(str(payload.get("tsId")))
                value = got
        if len(series) > 1:
            raise self.http.error(
                MultipleValues, f"query returned multiple values ({len(series)} time series)", program
            )
        if value is None:
            raise self.http.error(NoValuesFound, "no values found", program)
        return value

    async def is_online(self) -> bool:
        """True when the API accepts the token (`/v2/metric?limit=1` answers 200)."""
        await self.http.send("GET", f"{self.api}/v2/metric", params={"limit": 1})
        return True
