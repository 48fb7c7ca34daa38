"""Dynatrace: the metrics v2 query API, as Flagger calls it.

`GET <address>/api/v2/metrics/query?metricSelector=<query>&resolution=Inf&from=<ms>&to=<ms>` over the last ten
intervals, with `Authorization: Api-Token <dynatrace_token>`. The value is the first value of the last data
entry of the first result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx2

from serinus.errors import InvalidSpecError, NoValuesFound
from serinus.metrics.http import ProviderHttp, as_float, collapse
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
        results = body.get("result") or [] if isinstance(body, dict) else []
        data = (results[0].get("data") or []) if results else []
        values = (data[-1].get("values") or []) if data else []
        value = as_float(values[0]) if values else None
        if value is None:
            raise self.http.error(NoValuesFound, "no values found", query)
        return value

    async def is_online(self) -> bool:
        """True when the token may list metrics (`/api/v2/metrics?pageSize=1` answers 200)."""
        await self.http.send("GET", "/api/v2/metrics", params={"pageSize": 1})
        return True
