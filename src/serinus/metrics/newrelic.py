"""New Relic: NRQL over the Insights query API, as Flagger calls it.

`GET <address>/v1/accounts/<newrelic_account_id>/query?nrql=<query> SINCE <interval seconds> seconds ago` with the
`X-Query-Key` header. The answer must hold exactly one result, and its `result` (or lone aggregate) must not be null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.errors import NoValuesFound
from serinus.metrics.answers import items, number, obj
from serinus.metrics.http import ProviderHttp, collapse
from serinus.metrics.secrets import required

DEFAULT_ADDRESS = "https://insights-api.newrelic.com"
ACCOUNT_ID = "newrelic_account_id"
QUERY_KEY = "newrelic_query_key"


class NewRelicProvider:
    """Runs an NRQL query over the metric's interval."""

    name = "newrelic"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        interval_s: float,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        account, key = required(self.name, secret, ACCOUNT_ID, QUERY_KEY)
        self.path = f"/v1/accounts/{account}/query"
        self.since = f"SINCE {int(interval_s)} seconds ago"
        self.http = ProviderHttp(
            self.name,
            address or DEFAULT_ADDRESS,
            transport=transport,
            headers={"X-Query-Key": key, "Accept": "application/json"},
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def _nrql(self, nrql: str) -> object:
        return await self.http.json("GET", self.path, query=nrql, params={"nrql": nrql})

    async def query(self, query: str) -> float:
        """The single result of the NRQL query over the interval."""
        nrql = f"{collapse(query)} {self.since}"
        return self.answer(await self._nrql(nrql), nrql)

    def answer(self, body: Any, nrql: str) -> float:
        """The single result's `result` (or lone aggregate); zero, several or null results are "no values found",
        and ±Inf, a value that is no number or a body of the wrong shape is MalformedAnswer."""

        fail = self.http.malformed(nrql)

        results = items(obj(body, "the answer", fail).get("results"), "results", fail)
        if len(results) != 1:
            raise self.http.error(NoValuesFound, f"no values found (expected one result, got {len(results)})", nrql)
        row = obj(results[0], "the result", fail)
        # Flagger reads `result` (an arithmetic NRQL expression's key); a lone aggregate (`count`, `average`) is
        # taken too.
        raw = row["result"] if "result" in row else next(iter(row.values())) if len(row) == 1 else None
        value = number(raw, "the result", fail)
        if value is None or math.isnan(value):
            raise self.http.error(NoValuesFound, "no values found (the result is null)", nrql)
        return value

    async def is_online(self) -> bool:
        """True when New Relic answers `SELECT * FROM Metric` with 200."""
        await self._nrql(f"SELECT * FROM Metric {self.since}")
        return True
