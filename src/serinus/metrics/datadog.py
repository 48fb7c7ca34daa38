"""Datadog: the v1 timeseries query API, as Flagger calls it.

`GET <address>/api/v1/query?query=&from=<now - 10 intervals>&to=<now>` (Unix seconds) with the `DD-API-KEY` and
`DD-APPLICATION-KEY` headers. The value is the first point of the first series: the oldest point of the window,
whose bucket is complete. `GET /api/v1/validate` tells whether the keys are accepted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from serinus.errors import NoValuesFound
from serinus.metrics.answers import items, number, obj, shown
from serinus.metrics.http import ProviderHttp, collapse
from serinus.metrics.secrets import required

DEFAULT_ADDRESS = "https://api.datadoghq.com"
API_KEY = "datadog_api_key"
APPLICATION_KEY = "datadog_application_key"


class DatadogProvider:
    """Runs a Datadog metrics query over the last ten metric intervals."""

    name = "datadog"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        interval_s: float,
        now: Callable[[], float] = time.time,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        api_key, app_key = required(self.name, secret, API_KEY, APPLICATION_KEY)
        self.window_s = 10 * interval_s
        self.now = now
        self.http = ProviderHttp(
            self.name,
            address or DEFAULT_ADDRESS,
            transport=transport,
            headers={"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key, "Accept": "application/json"},
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def query(self, query: str) -> float:
        """The oldest point of the first series the query returns over the window."""
        query = collapse(query)
        end = int(self.now())
        body = await self.http.json(
            "GET", "/api/v1/query", query=query, params={"query": query, "from": end - int(self.window_s), "to": end}
        )
        return self.answer(body, query)

    def answer(self, body: Any, query: str) -> float:
        """The first non-null point of the first series; null and NaN points are skipped, no point is "no values
        found", and ±Inf or a body of the wrong shape is MalformedAnswer."""

        fail = self.http.malformed(query)

        series = items(obj(body, "the answer", fail).get("series"), "series", fail)
        if series:
            for point in items(obj(series[0], "a series", fail).get("pointlist"), "pointlist", fail):
                if not isinstance(point, list) or len(point) != 2:
                    raise fail(f"a point is {shown(point)}, not [<time>, <value>]")
                value = number(point[1], "a point's value", fail)
                if value is not None and not math.isnan(value):
                    return value
        raise self.http.error(NoValuesFound, "no values found", query)

    async def is_online(self) -> bool:
        """True when Datadog accepts the keys (`/api/v1/validate` answers 200)."""
        await self.http.send("GET", "/api/v1/validate")
        return True
