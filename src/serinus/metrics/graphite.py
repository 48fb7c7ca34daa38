"""Graphite: the render API, as Flagger calls it.

`GET <address>/render?<query>&format=json`, where the query is the render API's own query string
(`target=...&from=-5min`). The value is the last non-null datapoint across all returned targets; values and
timestamps may be numbers or strings. Basic auth when the Secret gives `username` and `password`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx2

from serinus.errors import NoValuesFound, QueryFailed
from serinus.metrics.answers import items, number, obj, shown
from serinus.metrics.http import ProviderHttp, collapse
from serinus.metrics.secrets import basic_auth_pair


class GraphiteProvider:
    """Runs a Graphite render query."""

    name = "graphite"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        insecure_skip_verify: bool = False,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        pair = basic_auth_pair(self.name, secret)
        self.http = ProviderHttp(
            self.name,
            address,
            auth=httpx2.BasicAuth(*pair) if pair else None,
            verify=not insecure_skip_verify,
            transport=transport,
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def query(self, query: str) -> float:
        """The last non-null datapoint of the render query's targets."""
        query = "&".join(part.strip() for part in collapse(query).split("&"))
        params = [pair for pair in parse_qsl(query, keep_blank_values=True) if pair[0] != "format"]
        if not any(key == "target" for key, _ in params):
            raise self.http.error(QueryFailed, "the query has no target= parameter", query)
        body = await self.http.json("GET", "/render", query=query, params=[*params, ("format", "json")])
        return self.answer(body, query)

    def answer(self, body: Any, query: str) -> float:
        """The last non-null datapoint across the targets (numbers or numeric strings, as graphite-web and Flagger
        allow); null and NaN points are skipped, none is "no values found", and ±Inf, a value that is no number
        or a body of the wrong shape is MalformedAnswer."""

        fail = self.http.malformed(query)

        value: float | None = None
        for series in items(body, "the answer", fail):
            for point in items(obj(series, "a target", fail).get("datapoints"), "datapoints", fail):
                if not isinstance(point, list) or not point:
                    raise fail(f"a datapoint is {shown(point)}, not [<value>, <time>]")
                got = number(point[0], "a datapoint's value", fail)
                if got is not None and not math.isnan(got):
                    value = got
        if value is None:
            raise self.http.error(NoValuesFound, "no values found", query)
        return value

    async def is_online(self) -> bool:
        """True when a render query answers, with or without data."""
        with contextlib.suppress(NoValuesFound):
            await self.query("target=test")
        return True
