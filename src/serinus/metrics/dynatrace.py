"""Dynatrace: the metrics v2 query API, as Flagger calls it.

`GET <address>/api/v2/metrics/query?metricSelector=<query>&resolution=Inf&from=<ms>&to=<ms>` over the last ten
intervals, with `Authorization: Api-Token <dynatrace_token>`. The value is the first value of the last data
entry of the first result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from serinus.errors import InvalidSpecError, NoValuesFound
from serinus.metrics.answers import items, number, obj
from serinus.metrics.http import ProviderHttp, collapse
from serinus.metrics.secrets import required

TOKEN = "dynatrace_token"


class DynatraceProvider:
    """Runs a Dynatrace metric selector over the last ten metric intervals."""

    name = "dynatrace"

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
            raise InvalidSpecError("dynatrace: spec.provider.address is required (https://<env>.live.dynatrace.com)")
        (token,) = required(self.name, secret, TOKEN)
        self.window_ms = int(10 * interval_s * 1000)
        self.now = now
        self.http = ProviderHttp(
            self.name,
            address,
            transport=transport,
            headers={"Authorization": f"Api-Token {token}", "Accept": "application/json"},
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def query(self, query: str) -> float:
        """The first value of the last data entry of the selector's first result."""
        query = collapse(query)
        end = int(self.now() * 1000)
        body = await self.http.json(
            "GET",
            "/api/v2/metrics/query",
            query=query,
            params={"metricSelector": query, "resolution": "Inf", "from": end - self.window_ms, "to": end},
        )
        return self.answer(body, query)

    def answer(self, body: Any, query: str) -> float:
        """The first value of the last data entry of the first result; nothing or null (or NaN) there is "no
        values found", and ±Inf, a value that is no number or a body of the wrong shape is MalformedAnswer."""

        fail = self.http.malformed(query)

        results = items(obj(body, "the answer", fail).get("result"), "result", fail)
        data = items(obj(results[0], "a result", fail).get("data"), "data", fail) if results else []
        values = items(obj(data[-1], "a data entry", fail).get("values"), "values", fail) if data else []
        value = number(values[0], "the value", fail) if values else None
        if value is None or math.isnan(value):
            raise self.http.error(NoValuesFound, "no values found", query)
        return value

    async def is_online(self) -> bool:
        """True when the token may list metrics (`/api/v2/metrics?pageSize=1` answers 200)."""
        await self.http.send("GET", "/api/v2/metrics", params={"pageSize": 1})
        return True
