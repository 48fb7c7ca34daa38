"""The Kubernetes External Metrics API (`external.metrics.k8s.io/v1beta1`), as Flagger reads it.

The query is `<namespace>/<metricName>?labelSelector=<selector>` (namespace `default` when left out). Without an
address the operator's own API server is asked (through whatever adapter serves the API: KEDA, Datadog, the
Prometheus adapter...); with one, that server is asked directly with the Secret's optional bearer `token`. The
value is the first item's `value`, a Kubernetes quantity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from lightkube import ApiError, AsyncClient

from serinus.errors import MalformedAnswer, MetricsError, NoValuesFound, ProviderUnreachable, QueryFailed
from serinus.metrics import answers
from serinus.metrics.http import ProviderHttp, snippet
from serinus.metrics.kube import label_selector, resource
from serinus.net import API_ERRORS

GROUP, VERSION = "external.metrics.k8s.io", "v1beta1"
_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(text: str) -> float | None:
    """A Kubernetes quantity (`1500m`, `2k`, `1Gi`, `1e3`) as a float; None when it is not one (NaN, an infinity
    and a number beyond a double included: the API server never serves those)."""
    text = str(text).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            try:
                return _finite(Decimal(text[: -len(suffix)]) * _SUFFIXES[suffix])
            except ArithmeticError:  # InvalidOperation, and Overflow from a huge exponent
                continue
    try:
        return _finite(Decimal(text))
    except ArithmeticError:
        return None


def _finite(value: Decimal) -> float | None:
    out = float(value)
    return out if math.isfinite(out) else None


def parse(query: str) -> tuple[str, str, str]:
    """(namespace, metric name, label selector) of `<namespace>/<metricName>?labelSelector=...`."""
    parts = urlsplit(query.strip())
    path = parts.path.strip("/")
    namespace, _, metric = path.rpartition("/")
    if not metric:
        raise QueryFailed(
            f"externalmetrics: query {query.strip()!r} is not <namespace>/<metricName>?labelSelector=<selector>"
        )
    selector = (parse_qs(parts.query).get("labelSelector") or [""])[0]
    return namespace or "default", metric, selector


class ExternalMetricsProvider:
    """Reads one external metric's value."""

    name = "externalmetrics"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        client: AsyncClient | None = None,
        insecure_skip_verify: bool = False,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.client = client
        self.http: ProviderHttp | None = None
        if address or client is None:
            headers = {"Authorization": f"Bearer {secret['token']}"} if secret.get("token") else {}
            self.http = ProviderHttp(
                self.name,
                address or "https://kubernetes.default.svc",
                headers=headers,
                verify=not insecure_skip_verify,
                transport=transport,
            )

    async def close(self) -> None:
        """Release the connection pool."""
        if self.http is not None:
            await self.http.close()

    async def _items(self, namespace: str, metric: str, selector: str, query: str) -> list[Any]:
        if self.http is not None:
            params = {"labelSelector": selector} if selector else None
            body = await self.http.json(
                "GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{metric}", query=query, params=params
            )
            return self.items_of(body, query)
        assert self.client is not None
        kind = resource(GROUP, VERSION, f"ExternalMetricValue:{metric}", metric)
        try:
            return [
                item
                async for item in self.client.list(kind, namespace=namespace, labels=label_selector(selector) or None)
            ]
        except ApiError as err:
            raise QueryFailed(
                f"externalmetrics (API server): query failed (HTTP {err.status.code}: "
                f"{err.status.message}); query: {query}",
                provider=self.name,
                query=query,
            ) from err
        except httpx2.HTTPStatusError as err:
            raise QueryFailed(
                f"externalmetrics (API server): query failed (HTTP {err.response.status_code}: "
                f"{snippet(err.response.text)}); query: {query}",
                provider=self.name,
                query=query,
            ) from err
        except API_ERRORS as err:  # no answer, or one that is not an ExternalMetricValueList's JSON
            raise ProviderUnreachable(
                f"externalmetrics (API server): unreachable ({err}); query: {query}", provider=self.name, query=query
            ) from err

    def items_of(self, body: Any, query: str) -> list[Any]:
        """The `items` of an ExternalMetricValueList; a body or items of the wrong shape is MalformedAnswer."""

        def fail(what: str) -> MetricsError:
            where = self.http.shown if self.http is not None else "(API server)"
            return MalformedAnswer(
                f"externalmetrics {where}: {what}; query: {query}", provider=self.name, address=where, query=query
            )

        return answers.items(answers.obj(body, "the answer", fail).get("items"), "items", fail)

    async def query(self, query: str) -> float:
        """The first item's value."""
        namespace, metric, selector = parse(query)
        items = await self._items(namespace, metric, selector, query.strip())
        return self.answer(items, query)

    def answer(self, items: list[Any], query: str) -> float:
        """The first item's `value`, a Kubernetes quantity: no item is "no values found", a value that is no
        quantity (±Inf and NaN included) or an item that is no object is MalformedAnswer."""
        where = self.http.shown if self.http is not None else "(API server)"
        if not items:
            raise NoValuesFound(
                f"externalmetrics {where}: no values found; query: {query.strip()}",
                provider=self.name,
                address=where,
                query=query.strip(),
            )
        item = items[0]
        what = f"value {answers.shown(item.get('value'))}" if isinstance(item, dict) else f"item {answers.shown(item)}"
        value = quantity(item.get("value", "")) if isinstance(item, dict) else None
        if value is None:
            raise MalformedAnswer(
                f"externalmetrics {where}: {what} is not a quantity; query: {query.strip()}",
                provider=self.name,
                address=where,
                query=query.strip(),
            )
        return value

    async def is_online(self) -> bool:
        """True when listing `dummy-metric` in kube-system succeeds, with or without items."""
        await self._items("kube-system", "dummy-metric", "", "kube-system/dummy-metric")
        return True
