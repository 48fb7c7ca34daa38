"""Google Cloud Monitoring (Stackdriver): MQL over `timeSeries:query`, as Flagger's client calls it.

`POST <address>/v3/projects/<project>/timeSeries:query` with `{"query": <MQL>}` and an OAuth token from the
Secret's `serviceAccountKey` (a service-account JSON key) or, without one, Application Default Credentials
(workload identity). The value is the first value of the first point of the first series. google-auth is the
`gcp` extra; tokens are refreshed in a worker thread, off the event loop, and its requests go out through
serinus.net like every other: each within its timeout (10 s unless google-auth asks for less), answer included,
and read up to the size cap.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from typing import Any

import httpx2

from serinus.errors import (
    AuthenticationFailed,
    DeadlineExceeded,
    InvalidSpecError,
    NoValuesFound,
    ProviderUnreachable,
    ResponseTooLarge,
)
from serinus.metrics.answers import items, number, obj
from serinus.metrics.http import ProviderHttp, collapse
from serinus.net import Deadline, fetch_blocking

DEFAULT_ADDRESS = "https://monitoring.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/monitoring.read"]


class _Response:
    """google-auth's transport Response over an httpx2 response."""

    def __init__(self, response: httpx2.Response) -> None:
        self.status = response.status_code
        self.headers = dict(response.headers)
        self.data = response.content


class _Request:
    """google-auth's transport Request (its token calls), sent by serinus.net's blocking fetch."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> _Response:
        from google.auth import exceptions

        try:
            response = fetch_blocking(
                method, url, deadline=Deadline(timeout or 10.0), content=body, headers=dict(headers or {})
            )
        except (httpx2.HTTPError, DeadlineExceeded, ResponseTooLarge) as err:
            what = (
                str(err)
                if isinstance(err, DeadlineExceeded | ResponseTooLarge)
                else f"unreachable ({type(err).__name__})"
            )
            raise exceptions.TransportError(f"token endpoint {what}") from err  # type: ignore[no-untyped-call]
        return _Response(response)


def _credentials(secret: Mapping[str, str]) -> tuple[Any, str]:
    """Credentials and project: the Secret's service-account key, else Application Default Credentials."""
    try:
        import google.auth
        from google.oauth2 import service_account
    except ImportError as err:
        raise InvalidSpecError("stackdriver needs google-auth: pip install 'serinus[gcp]'") from err
    key = secret.get("serviceAccountKey")
    if key:
        try:
            info = json.loads(key)
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
        except (ValueError, KeyError) as err:
            raise InvalidSpecError(
                f"stackdriver: the secret's serviceAccountKey is not a service-account JSON key ({type(err).__name__})"
            ) from err
        return credentials, secret.get("project") or info.get("project_id", "")
    try:
        credentials, project = google.auth.default(scopes=SCOPES, request=_Request())  # type: ignore[arg-type]
    except google.auth.exceptions.DefaultCredentialsError as err:
        raise InvalidSpecError(
            "stackdriver: no serviceAccountKey in the secret and no Application Default Credentials"
        ) from err
    return credentials, secret.get("project") or project or ""


class StackdriverProvider:
    """Runs an MQL query against one Google Cloud project."""

    name = "stackdriver"

    def __init__(
        self, address: str, secret: Mapping[str, str], *, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.credentials, project = _credentials(secret)
        if not project:
            raise InvalidSpecError("stackdriver: the secret has no project")
        self.path = f"/v3/projects/{project}/timeSeries:query"
        self.http = ProviderHttp(self.name, address or DEFAULT_ADDRESS, transport=transport)

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def _token(self, query: str) -> str:
        if not self.credentials.valid:
            from google.auth import exceptions

            try:
                await asyncio.to_thread(self.credentials.refresh, _Request())
            except exceptions.TransportError as err:
                raise self.http.error(ProviderUnreachable, f"could not get a token: {err}", query) from err
            except exceptions.RefreshError as err:
                raise self.http.error(
                    AuthenticationFailed, "the token endpoint refused the service account", query
                ) from err
        return str(self.credentials.token)

    async def _post(self, query: str, *, check_status: bool = True) -> httpx2.Response:
        token = await self._token(query)
        return await self.http.send(
            "POST",
            self.path,
            query=query,
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            check_status=check_status,
        )

    async def query(self, query: str) -> float:
        """The first value of the first point of the first series the MQL query returns."""
        query = collapse(query)
        return self.answer(self.http.decode(await self._post(query), query), query)

    def answer(self, body: Any, query: str) -> float:
        """The first numeric value (doubleValue, or int64Value as MQL sends it: a string) of the first point of the
        first series; none (or NaN) is "no values found", and ±Inf, a value that is no number or a body of the
        wrong shape is MalformedAnswer."""

        fail = self.http.malformed(query)

        series = items(obj(body, "the answer", fail).get("timeSeriesData"), "timeSeriesData", fail)
        points = items(obj(series[0], "a series", fail).get("pointData"), "pointData", fail) if series else []
        values = items(obj(points[0], "a point", fail).get("values"), "a point's values", fail) if points else []
        for value in values:
            value = obj(value, "a point's value", fail)
            got = number(value.get("doubleValue", value.get("int64Value")), "a point's value", fail)
            if got is not None:
                if math.isnan(got):
                    break
                return got
        raise self.http.error(NoValuesFound, "no values found", query)

    async def is_online(self) -> bool:
        """True when the API rejects an empty query as an invalid argument, which proves the credentials work."""
        response = await self._post("", check_status=False)
        if response.status_code != 400:
            raise self.http.error(
                ProviderUnreachable, f"an empty query answered HTTP {response.status_code}, not 400 INVALID_ARGUMENT"
            )
        return True
