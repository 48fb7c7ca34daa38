"""The Prometheus provider: instant queries over Prometheus's HTTP API, with Flagger's contract.

`GET <address>/api/v1/query?query=<query with whitespace collapsed>`, 5 s timeout, bearer or basic auth, custom
headers, optional insecureSkipVerify. A vector's last series wins; a range result is "multiple values"; no series
or NaN is "no values found"; ±Inf, a value that is no number and a body of the wrong shape are MalformedAnswer.
Every error names the provider, the address without credentials, and the query.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.errors import (
    AuthenticationFailed,
    MalformedAnswer,
    MultipleValues,
    NoValuesFound,
    QueryFailed,
    safe_url,
)
from serinus.metrics.answers import Fail, items, kind_of, number, obj, shown
from serinus.metrics.http import TIMEOUT_S, ProviderHttp, collapse

__all__ = ["PrometheusProvider", "collapse"]


class PrometheusProvider:
    """Runs PromQL against one Prometheus-compatible server (Prometheus, Thanos, VictoriaMetrics, Mimir...)."""

    name = "prometheus"

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        headers: Mapping[str, str] | None = None,
        insecure_skip_verify: bool = False,
        timeout_s: float = TIMEOUT_S,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        fixed = dict(headers or {})
        auth: httpx2.Auth | None = None
        if token:
            fixed["Authorization"] = f"Bearer {token}"
        elif username is not None or password is not None:
            if not username or not password:
                raise AuthenticationFailed(
                    f"prometheus {safe_url(address)}: basic auth needs both username and password",
                    provider=self.name,
                    address=safe_url(address),
                )
            auth = httpx2.BasicAuth(username, password)
        self.http = ProviderHttp(
            self.name,
            address,
            headers=fixed,
            auth=auth,
            verify=not insecure_skip_verify,
            timeout_s=timeout_s,
            transport=transport,
        )
        self.address, self.shown = self.http.address, self.http.shown

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    def malformed(self, query: str) -> Fail:
        """The MalformedAnswer factory of one query."""
        return self.http.malformed(query)

    async def _get(self, query: str) -> dict[str, Any]:
        response = await self.http.send(
            "GET", "/api/v1/query", query=query, params={"query": query}, check_status=False
        )
        body: Any = self.http.decode(response, query)
        if not isinstance(body, dict):
            if response.status_code >= 400:
                raise self.http.error(QueryFailed, f"query failed (HTTP {response.status_code})", query)
            raise self.http.error(MalformedAnswer, f"the answer is {kind_of(body)}, not an object", query)
        if response.status_code >= 400 or body.get("status") != "success":
            detail = body.get("error") or response.reason_phrase
            raise self.http.error(
                QueryFailed, f"query failed (HTTP {response.status_code} {body.get('errorType', '')}: {detail})", query
            )
        return body

    async def query(self, query: str) -> float:
        """The single number `query` evaluates to now."""
        query = collapse(query)
        return self.answer(await self._get(query), query)

    def answer(self, body: Any, query: str) -> float:
        """The number in a successful `/api/v1/query` answer, as Flagger reads it: the last series wins, a range is
        "multiple values", no series or NaN is "no values found"; a sample that is not `[time, "<number>"]`, a
        string that is no number, ±Inf and a body of the wrong shape are MalformedAnswer."""
        fail = self.malformed(query)
        data = obj(obj(body, "the answer", fail).get("data"), "data", fail)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "matrix":
            raise self.http.error(MultipleValues, "query returned multiple values (a range vector)", query)
        if kind in ("scalar", "string"):
            samples = [result] if result is not None else []
        else:
            samples = []
            for series in items(result, "data.result", fail):
                series = obj(series, "a series of data.result", fail)
                if series.get("values") is not None:
                    raise self.http.error(MultipleValues, "query returned multiple values (a range vector)", query)
                samples.append(series.get("value"))
        value: float | None = None
        for sample in samples:
            if not isinstance(sample, list) or len(sample) != 2:
                raise fail(f'a sample is {shown(sample)}, not [<time>, "<value>"]')
            value = number(sample[1], "the value", fail)  # the last series wins, as in Flagger
            if value is None:
                raise fail("the value is null, not a number")
        if value is None or math.isnan(value):
            raise self.http.error(NoValuesFound, "no values found", query)
        return value

    async def is_online(self) -> bool:
        """True when `vector(1)` evaluates to 1; raises the same errors as query() otherwise."""
        return await self.query("vector(1)") == 1.0
