"""The Prometheus provider against a real Prometheus: values, no data, multiple values, errors a person can act on."""

from __future__ import annotations

import pytest

from serinus.errors import (
    AuthenticationFailed,
    MultipleValues,
    NoValuesFound,
    ProviderUnreachable,
    QueryFailed,
)
from serinus.metrics.prometheus import PrometheusProvider
from tests.integration.conftest import Prometheus
from tests.integration.receivers import Recorder, free_port

pytestmark = pytest.mark.integration


async def test_vector_and_scalar_values(prometheus: Prometheus) -> None:
    """An instant vector's value and a scalar's value come back as floats; the provider is online."""
    prom = PrometheusProvider(prometheus.url)
    try:
        assert await prom.is_online()
        assert await prom.query("vector(99.5)") == 99.5
        assert await prom.query("scalar(vector(0.25)) * 4") == 1.0
        assert await prom.query("sum(\n  vector(1)\n    + vector(2)\n)") == 3.0
    finally:
        await prom.close()


async def test_no_series_and_nan_are_no_values(prometheus: Prometheus) -> None:
    """A selector that matches nothing, and a NaN (0/0 with no traffic), are 'no values found'."""
    prom = PrometheusProvider(prometheus.url)
    try:
        with pytest.raises(NoValuesFound) as caught:
            await prom.query('sum(rate(http_requests_total{namespace="test"}[1m]))')
        assert str(caught.value) == (
            f"prometheus {prometheus.url}: no values found; query: "
            'sum(rate(http_requests_total{namespace="test"}[1m]))'
        )
        with pytest.raises(NoValuesFound):
            await prom.query("vector(0) / vector(0)")
    finally:
        await prom.close()


async def test_range_result_is_multiple_values(prometheus: Prometheus) -> None:
    """A query that returns a range vector is refused as 'multiple values'."""
    prom = PrometheusProvider(prometheus.url)
    try:
        with pytest.raises(MultipleValues, match="query returned multiple values"):
            await prom.query("vector(1)[1m:10s]")
    finally:
        await prom.close()


async def test_bad_promql_is_a_query_failure_with_prometheus_reason(prometheus: Prometheus) -> None:
    """Invalid PromQL is 'query failed', carrying Prometheus's own parse error and the query."""
    prom = PrometheusProvider(prometheus.url)
    try:
        with pytest.raises(QueryFailed) as caught:
            await prom.query("sum(rate(x[1m])")
        message = str(caught.value)
        assert "query failed (HTTP 400 bad_data" in message
        assert "parse error" in message
        assert message.endswith("query: sum(rate(x[1m])")
    finally:
        await prom.close()


async def test_unreachable_server_is_named_without_credentials() -> None:
    """A closed port is 'unreachable', and the address shown has no user:password."""
    prom = PrometheusProvider(f"http://admin:hunter2@127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ProviderUnreachable) as caught:
            await prom.query("vector(1)")
        assert "hunter2" not in str(caught.value)
        assert str(caught.value).startswith("prometheus http://127.0.0.1:")
    finally:
        await prom.close()


async def test_auth_headers_and_refusal(receiver: Recorder) -> None:
    """A bearer token and custom headers are sent; a 401 answer is 'authentication failed'."""
    receiver.status = 401
    prom = PrometheusProvider(receiver.url, token="t0k3n", headers={"X-Scope-OrgID": "team-a"})
    try:
        with pytest.raises(AuthenticationFailed, match=r"authentication failed \(HTTP 401\)"):
            await prom.query("vector(1)")
    finally:
        await prom.close()
    [req] = receiver.requests
    assert req.headers["Authorization"] == "Bearer t0k3n"
    assert req.headers["X-Scope-OrgID"] == "team-a"
    assert req.path == "/api/v1/query?query=vector%281%29"


async def test_basic_auth_needs_both_parts(receiver: Recorder) -> None:
    """Basic auth with a username but no password is refused before any request is made."""
    with pytest.raises(AuthenticationFailed, match="basic auth needs both username and password"):
        PrometheusProvider(receiver.url, username="admin", password="")
    assert receiver.requests == []
