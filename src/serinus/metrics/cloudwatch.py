"""Amazon CloudWatch: `GetMetricData`, as Flagger calls it.

The query is a JSON list of MetricDataQuery objects, run over the last ten intervals with `MaxDatapoints` 20 in
the provider's region (required), with credentials from the default AWS chain (IRSA, instance profile,
environment). The value is the first value of the first result: CloudWatch returns the newest first. boto3 is
the `aws` extra; its blocking calls run in a worker thread. The provider's address, when set, is the endpoint
(VPC endpoints, or a local CloudWatch-compatible server).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from serinus.errors import (
    AuthenticationFailed,
    InvalidSpecError,
    MetricsError,
    NoValuesFound,
    ProviderUnreachable,
    QueryFailed,
    safe_url,
)

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
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=5,
            parameter_validation=False,
        )
        self.client = boto3.session.Session().client(
            "cloudwatch", region_name=region, endpoint_url=address or None, config=config
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await asyncio.to_thread(self.client.close)

    def _error(self, kind: type[MetricsError], what: str, query: str) -> MetricsError:
        text = f"cloudwatch {self.shown}: {what}" + (f"; query: {query}" if query else "")
        return kind(text, provider=self.name, address=self.shown, query=query)

    async def _get(self, queries: list[Any], query: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        end = self.now()
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
        except BotoCoreError as err:
            raise self._error(ProviderUnreachable, f"unreachable ({type(err).__name__})", query) from err

    async def query(self, query: str) -> float:
        """The newest value of the first MetricDataResult."""
        shown = " ".join(query.split())
        try:
            queries = json.loads(query)
        except json.JSONDecodeError as err:
            raise self._error(QueryFailed, f"the query is not JSON ({err.msg})", shown) from err
        if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
            raise self._error(QueryFailed, "the query must be a JSON list of MetricDataQuery objects", shown)
        results = (await self._get(queries, shown)).get("MetricDataResults") or []
        values = results[0].get("Values") or [] if results else []
        if not values:
            raise self._error(NoValuesFound, "no values found", shown)
        return float(values[0])

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
