"""Amazon CloudWatch: `GetMetricData`, as Flagger calls it.

The query is a JSON list of MetricDataQuery objects, run over the last ten intervals with `MaxDatapoints` 20 in
the provider's region (required), with credentials from the default AWS chain (IRSA, instance profile,
environment). The value is the first value of the first result: CloudWatch returns the newest first. boto3 is
the `aws` extra; its blocking calls run in a worker thread. The provider's address, when set, is the endpoint
(VPC endpoints, or a local CloudWatch-compatible server).

botocore signs, retries (3 attempts, a timeout included) and parses, but its requests go out through serinus.net:
each attempt, answer included, is over within 5 s and the whole call within 15 s (plus at most one of botocore's
backoff waits, 2 s), where botocore's own timeouts bound each read; an answer is read up to serinus.net's size cap.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
import os
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2

from serinus.errors import (
    AuthenticationFailed,
    DeadlineExceeded,
    InvalidSpecError,
    MalformedAnswer,
    MetricsError,
    NoValuesFound,
    ProviderUnreachable,
    QueryFailed,
    ResponseTooLarge,
    safe_url,
)
from serinus.metrics.answers import items, number, obj
from serinus.net import Deadline, fetch_blocking, timed_out

TIMEOUT_S = 5.0
MAX_ATTEMPTS = 3
#: the deadline of the GetMetricData call a worker thread runs (asyncio.to_thread copies it into the thread)
_CALL: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("cloudwatch_call", default=None)
MAX_DATAPOINTS = 20
AUTH_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
}


class CloudWatchProvider:
    """Runs a GetMetricData query in one AWS region."""

    name = "cloudwatch"

    def __init__(
        self, region: str, *, interval_s: float, address: str = "", now: Callable[[], float] = time.time
    ) -> None:
        if not region:
            raise InvalidSpecError("cloudwatch: spec.provider.region is required")
        try:
            import boto3
            from botocore.config import Config
        except ImportError as err:
            raise InvalidSpecError("cloudwatch needs boto3: pip install 'serinus[aws]'") from err
        self.window_s = 10 * interval_s
        self.now = now
        self.shown = safe_url(address) if address else f"cloudwatch.{region}"
        config = Config(
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=TIMEOUT_S,
            read_timeout=TIMEOUT_S,
            parameter_validation=False,
        )
        self.client = boto3.session.Session().client(
            "cloudwatch", region_name=region, endpoint_url=address or None, config=config
        )
        bundle = os.environ.get("AWS_CA_BUNDLE")  # botocore's own CA setting, which it would have honoured
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=bundle) if bundle else True
        self.client.meta.events.register("before-send.cloudwatch", self._send)

    def _send(self, request: Any, **_: Any) -> Any:
        """botocore's event before it sends a request: send it through serinus.net instead, within what is left of
        the call (each attempt at most TIMEOUT_S) and with the size cap. Connection failures become botocore's own
        errors, so that botocore retries them as it would its own."""
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import EndpointConnectionError, HTTPClientError, ReadTimeoutError

        call = _CALL.get()
        if call is None:
            return None  # not a call of query() or is_online(): botocore sends it itself
        if call.expired():
            raise timed_out(call)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        try:
            response = fetch_blocking(
                request.method,
                request.url,
                deadline=call.within(TIMEOUT_S),
                verify=self.verify,
                headers=dict(request.headers.items()),
                content=body or b"",
            )
        except DeadlineExceeded as err:
            if call.expired():
                raise timed_out(call) from err
            raise ReadTimeoutError(endpoint_url=request.url, error=err) from err  # botocore retries it
        except httpx2.ConnectError as err:
            raise EndpointConnectionError(endpoint_url=request.url, error=err) from err
        except httpx2.HTTPError as err:
            raise HTTPClientError(error=err) from err
        return AWSResponse(request.url, response.status_code, dict(response.headers.items()), _Body(response.content))

    async def close(self) -> None:
        """Release the connection pool."""
        await asyncio.to_thread(self.client.close)

    def _error(self, kind: type[MetricsError], what: str, query: str) -> MetricsError:
        text = f"cloudwatch {self.shown}: {what}" + (f"; query: {query}" if query else "")
        return kind(text, provider=self.name, address=self.shown, query=query)

    async def _get(self, queries: list[Any], query: str) -> dict[str, Any]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        end = self.now()
        call = _CALL.set(Deadline(TIMEOUT_S * MAX_ATTEMPTS))
        try:
            return await asyncio.to_thread(
                self.client.get_metric_data,
                MetricDataQueries=queries,
                StartTime=datetime.fromtimestamp(end - self.window_s, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                MaxDatapoints=MAX_DATAPOINTS,
                ScanBy="TimestampDescending",
            )
        except NoCredentialsError as err:
            raise self._error(
                AuthenticationFailed, "no AWS credentials found (default credential chain)", query
            ) from err
        except ClientError as err:
            error = err.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            kind = AuthenticationFailed if code in AUTH_CODES or status in (401, 403) else QueryFailed
            raise self._error(kind, f"query failed (HTTP {status} {code}: {message})", query) from err
        except EndpointConnectionError as err:
            raise self._error(ProviderUnreachable, "unreachable (EndpointConnectionError)", query) from err
        except ReadTimeoutError as err:
            what = f"timed out ({MAX_ATTEMPTS} attempts of at most {TIMEOUT_S:g}s)"
            raise self._error(ProviderUnreachable, what, query) from err
        except BotoCoreError as err:
            raise self._error(ProviderUnreachable, f"unreachable ({type(err).__name__})", query) from err
        except DeadlineExceeded as err:
            raise self._error(ProviderUnreachable, f"timed out after {err.timeout_s:g}s", query) from err
        except ResponseTooLarge as err:
            raise self._error(QueryFailed, str(err), query) from err
        finally:
            _CALL.reset(call)

    async def query(self, query: str) -> float:
        """The newest value of the first MetricDataResult."""
        shown = " ".join(query.split())
        try:
            queries = json.loads(query)
        except json.JSONDecodeError as err:
            raise self._error(QueryFailed, f"the query is not JSON ({err.msg})", shown) from err
        if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
            raise self._error(QueryFailed, "the query must be a JSON list of MetricDataQuery objects", shown)
        return self.answer(await self._get(queries, shown), shown)

    def answer(self, response: Any, query: str) -> float:
        """The first value of the first MetricDataResult (the newest); none (or NaN) is "no values found", and
        ±Inf, a value that is no number or a response of the wrong shape is MalformedAnswer."""

        def fail(what: str) -> MetricsError:
            return self._error(MalformedAnswer, what, query)

        results = items(obj(response, "the response", fail).get("MetricDataResults"), "MetricDataResults", fail)
        values = items(obj(results[0], "a MetricDataResult", fail).get("Values"), "Values", fail) if results else []
        value = number(values[0], "the first value", fail, strings=False) if values else None
        if value is None or math.isnan(value):
            raise self._error(NoValuesFound, "no values found", query)
        return value

    async def is_online(self) -> bool:
        """True when CloudWatch answers an empty query: AWS rejects it with HTTP 400 (as Flagger expects), a
        compatible server may answer it empty; either proves the endpoint and the credentials. Refused credentials
        and an unreachable endpoint raise."""
        try:
            await self._get([], "")
        except QueryFailed as err:
            if "HTTP 400" not in str(err):
                raise
        return True


class _Body:
    """The `raw` of a botocore AWSResponse: a body already read."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        """The body, in one piece."""
        yield self.content
