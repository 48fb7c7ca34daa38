"""InfluxDB 2: Flux over the v2 query API, as Flagger's client sends it.

`POST <address>/api/v2/query?org=<org>` with `Authorization: Token <token>` and a Flux query; the answer is
annotated CSV. The value is the `_value` of the first record. Unlike Flagger, which returns 0 for a query that
finds no records, Serinus reports "no values found": a missing series must halt a canary, not pass it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping

import httpx2

from serinus.errors import NoValuesFound, QueryFailed
from serinus.metrics.answers import number
from serinus.metrics.http import ProviderHttp
from serinus.metrics.secrets import required

TIMEOUT_S = 15.0
DIALECT = {
    "header": True,
    "delimiter": ",",
    "annotations": ["datatype", "group", "default"],
    "commentPrefix": "#",
    "dateTimeFormat": "RFC3339",
}
NUMERIC = {"double", "long", "unsignedLong"}


def records(text: str) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """(row, datatypes) for every record of an annotated-CSV answer, table after table."""
    datatypes: list[str] = []
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or all(not cell for cell in row):
            header = None  # a blank line ends a table; the next one brings its own annotations and header
            continue
        if row[0].startswith("#"):
            if row[0] == "#datatype":
                datatypes = row
            header = None
            continue
        if header is None:
            header = row
            continue
        yield dict(zip(header, row, strict=False)), dict(zip(header, datatypes, strict=False))


class InfluxDBProvider:
    """Runs a Flux query against an InfluxDB 2 (or Cloud) organisation."""

    name = "influxdb"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        insecure_skip_verify: bool = False,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/csv"}
        self.org = ""
        if secret:
            token, self.org = required(self.name, secret, "token", "org")
            headers["Authorization"] = f"Token {token}"
        self.http = ProviderHttp(
            self.name,
            address,
            headers=headers,
            verify=not insecure_skip_verify,
            timeout_s=TIMEOUT_S,
            transport=transport,
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def _run(self, query: str) -> httpx2.Response:
        return await self.http.send(
            "POST",
            "/api/v2/query",
            query=query,
            params={"org": self.org},
            json={"query": query, "type": "flux", "dialect": DIALECT},
        )

    async def query(self, query: str) -> float:
        """The `_value` of the first record the Flux query returns."""
        query = query.strip()
        response = await self._run(query)
        return self.answer(response.text, query)

    def answer(self, text: str, query: str) -> float:
        """The `_value` of the first record of an annotated-CSV answer: an empty or NaN one is "no values found";
        ±Inf, a value that is no number, or CSV that cannot be read is MalformedAnswer."""

        fail = self.http.malformed(query)

        try:
            for row, types in records(text):
                if row.get("error"):
                    raise self.http.error(QueryFailed, f"query failed ({row['error']})", query)
                if "_value" not in row:
                    continue
                if types.get("_value", "double") not in NUMERIC:
                    raise self.http.error(
                        QueryFailed, f"the first record's _value is a {types['_value']}, not a number", query
                    )
                raw = row["_value"]
                value = number(raw, "the first record's _value", fail) if raw.strip() else None
                if value is None or math.isnan(value):
                    raise self.http.error(NoValuesFound, "no values found (the first record's _value is empty)", query)
                return value
        except csv.Error as err:
            raise fail(f"the answer is not CSV ({err})") from err
        raise self.http.error(NoValuesFound, "no values found", query)

    async def is_online(self) -> bool:
        """True when the organisation answers a Flux query, with or without data."""
        await self._run('from(bucket: "default") |> range(start: -2h)')
        return True
