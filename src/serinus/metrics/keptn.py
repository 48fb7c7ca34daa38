"""Keptn: KeptnMetric values and Keptn Analyses, read from the cluster as Flagger reads them.

Queries are `keptnmetric/<namespace>/<name>` (the KeptnMetric's `status.value`) or
`analysis/<namespace>/<analysis definition>/<timeframe>/<k=v;k=v>`: an Analysis `<definition>-<6 random chars>`
is created for the timeframe (default `1m`) with those arguments, polled every second for up to ten seconds until
`status.state` is Completed, read (1 when it passed, 0 when not) and deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lightkube import ApiError, AsyncClient

from serinus.errors import (
    InvalidSpecError,
    MalformedAnswer,
    MetricsError,
    NoValuesFound,
    ProviderUnreachable,
    QueryFailed,
)
from serinus.metrics import answers
from serinus.metrics.http import as_float
from serinus.metrics.kube import resource
from serinus.net import API_ERRORS

GROUP, VERSION = "metrics.keptn.sh", "v1beta1"
POLL_S, TIMEOUT_S = 1.0, 10.0


def keptn_metric() -> Any:
    """The KeptnMetric resource."""
    return resource(GROUP, VERSION, "KeptnMetric", "keptnmetrics")


def analysis() -> Any:
    """The Analysis resource."""
    return resource(GROUP, VERSION, "Analysis", "analyses")


@dataclass(frozen=True)
class KeptnQuery:
    """A parsed keptn query."""

    kind: str
    namespace: str
    name: str
    timeframe: str = "1m"
    args: dict[str, str] = field(default_factory=dict)


def parse(query: str) -> KeptnQuery:
    """`keptnmetric/<ns>/<name>` or `analysis/<ns>/<name>[/<timeframe>[/<k=v;k=v>]]`."""
    parts = query.strip().split("/")
    if len(parts) < 3 or not all(parts[:3]):
        raise QueryFailed(f"keptn: query {query.strip()!r} is not <keptnmetric|analysis>/<namespace>/<name>[/...]")
    kind = parts[0].lower()
    if kind not in ("keptnmetric", "analysis"):
        raise QueryFailed(f"keptn: unknown resource {parts[0]!r} in query (keptnmetric or analysis)")
    timeframe = parts[3] if len(parts) > 3 and parts[3] else "1m"
    args: dict[str, str] = {}
    for pair in (parts[4] if len(parts) > 4 else "").split(";"):
        if "=" in pair:
            key, _, value = pair.partition("=")
            args[key.strip()] = value.strip()
    return KeptnQuery(kind, parts[1], parts[2], timeframe, args)


class KeptnProvider:
    """Reads Keptn metrics and runs Keptn analyses through the Kubernetes API."""

    name = "keptn"

    def __init__(self, client: AsyncClient | None, *, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        if client is None:
            raise InvalidSpecError("keptn: needs the Kubernetes API (run it in the operator or with a kubeconfig)")
        self.client = client
        self.sleep = sleep

    async def close(self) -> None:
        """Nothing to release: the client is the operator's."""

    def _error(self, kind: type[MetricsError], what: str, query: str) -> MetricsError:
        return kind(f"keptn: {what}; query: {query}", provider=self.name, query=query)

    async def query(self, query: str) -> float:
        """The KeptnMetric's value, or 1/0 for an Analysis that passed/failed."""
        parsed = parse(query)
        try:
            if parsed.kind == "keptnmetric":
                return await self._metric(parsed, query)
            return await self._analysis(parsed, query)
        except ApiError as err:
            what = f"{err.status.reason or 'error'} (HTTP {err.status.code}): {err.status.message}"
            raise self._error(QueryFailed, what, query) from err
        except API_ERRORS as err:  # no answer, an error page that is no Status (a proxy's), or a garbled body
            raise self._error(ProviderUnreachable, f"the Kubernetes API is unreachable ({err})", query) from err

    async def _metric(self, q: KeptnQuery, query: str) -> float:
        return self.metric_value(await self.client.get(keptn_metric(), q.name, namespace=q.namespace), q, query)

    def metric_value(self, resource: Any, q: KeptnQuery, query: str) -> float:
        """A KeptnMetric's `status.value` (a string, as Keptn writes it): unset, empty, not a number or NaN is "no
        values found", as before; ±Inf or a status of the wrong shape is MalformedAnswer."""

        def fail(what: str) -> MetricsError:
            return self._error(MalformedAnswer, what, query)

        status = answers.obj(answers.obj(resource, "the KeptnMetric", fail).get("status"), "status", fail)
        raw = status.get("value")
        try:
            value = as_float(raw)
        except OverflowError:  # an integer beyond a double
            raise fail(f"status.value {answers.shown(raw)} is out of range") from None
        if value is None or math.isnan(value):
            raise self._error(
                NoValuesFound,
                f"no values found (KeptnMetric {q.namespace}/{q.name} has no status.value yet)"
                if raw in (None, "")
                else f"no values found (status.value {answers.shown(raw)} is not a number)",
                query,
            )
        return answers.finite(value, "status.value", fail)

    def analysis_status(self, resource: Any, query: str) -> dict[str, Any]:
        """An Analysis' `status` as an object (null is empty); any other shape is MalformedAnswer."""

        def fail(what: str) -> MetricsError:
            return self._error(MalformedAnswer, what, query)

        return answers.obj(answers.obj(resource, "the Analysis", fail).get("status"), "status", fail)

    async def _analysis(self, q: KeptnQuery, query: str) -> float:
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))
        name = f"{q.name}-{suffix}"
        kind = analysis()
        body = kind(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Analysis",
                "metadata": {"name": name, "namespace": q.namespace},
                "spec": {"analysisDefinition": {"name": q.name}, "timeframe": {"recent": q.timeframe}, "args": q.args},
            }
        )
        await self.client.create(body)
        try:
            waited = 0.0
            while True:
                status = self.analysis_status(await self.client.get(kind, name, namespace=q.namespace), query)
                if status.get("state") == "Completed":
                    return 1.0 if status.get("pass") else 0.0
                if waited >= TIMEOUT_S:
                    raise self._error(
                        QueryFailed,
                        f"Analysis {q.namespace}/{name} did not complete in "
                        f"{TIMEOUT_S:.0f}s (state {status.get('state') or 'unset'!r})",
                        query,
                    )
                await self.sleep(POLL_S)
                waited += POLL_S
        finally:
            with contextlib.suppress(ApiError):
                await self.client.delete(kind, name, namespace=q.namespace)

    async def is_online(self) -> bool:
        """Always true, as in Flagger: the API server is the operator's own."""
        return True
