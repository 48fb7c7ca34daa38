"""SaaS metric providers against a local server that checks each request against the provider's documented API
(path, parameters, headers, auth) and answers with the documented response shapes, empty and error ones included.

No local Datadog, New Relic, Dynatrace, Splunk Observability, InfluxDB 2 or Kayenta runs here, so these are the
closest a test can get: what a user notices is the number a query yields, the error it gives, and that no
credential leaks into a message.
"""

from __future__ import annotations

from typing import Any

import pytest

from serinus.errors import (
    AuthenticationFailed,
    MetricsError,
    MultipleValues,
    NoValuesFound,
    ProviderUnreachable,
    QueryFailed,
)
from serinus.metrics.registry import MetricsProvider, ProviderConfig, make_provider
from tests.integration.fakeapi import FakeApi
from tests.integration.receivers import free_port

pytestmark = pytest.mark.integration

NOW = 1_700_000_000.0


def provider(kind: str, api: FakeApi, secret: dict[str, str], interval_s: float = 60, **kw: Any) -> MetricsProvider:
    """The provider as the operator builds it, with its clock fixed at NOW where it has one."""
    built = make_provider(ProviderConfig(kind, api.url, secret=secret, interval_s=interval_s, **kw))
    if hasattr(built, "now"):
        built.now = lambda: NOW
    return built


async def outcome(p: MetricsProvider, query: str) -> float | MetricsError:
    """The query's value, or the error it raised."""
    try:
        return await p.query(query)
    except MetricsError as err:
        return err
    finally:
        await p.close()


# --- Datadog -----------------------------------------------------------------------------------------------------

DD = {"datadog_api_key": "dd-api-SECRET", "datadog_application_key": "dd-app-SECRET"}


def dd_series(*values: float | None) -> dict[str, Any]:
    """Datadog's documented `/api/v1/query` answer."""
    return {
        "status": "ok",
        "res_type": "time_series",
        "query": "q",
        "from_date": 0,
        "to_date": 0,
        "series": [
            {
                "metric": "trace.http.request.errors",
                "aggr": "sum",
                "scope": "service:web",
                "interval": 60,
                "length": len(values),
                "pointlist": [[(NOW - 600 + 60 * i) * 1000, v] for i, v in enumerate(values)],
            }
        ],
    }


async def test_datadog_takes_the_oldest_point_of_ten_intervals(fake_api: FakeApi) -> None:
    """GET /api/v1/query over [now - 10 intervals, now] in Unix seconds with both key headers; the first point wins
    (the newest bucket may be incomplete)."""
    fake_api.on("GET", "/api/v1/query", (200, dd_series(0.5, 0.9, 7.0)))
    fake_api.on("GET", "/api/v1/validate", (200, {"valid": True}))
    p = provider("datadog", fake_api, DD, interval_s=30)
    assert await p.is_online()
    assert await outcome(p, "sum:trace.http.request.errors{service:web}.as_count()\n  / 2") == 0.5
    call = fake_api.only("GET", "/api/v1/query")
    assert call.params == {
        "query": "sum:trace.http.request.errors{service:web}.as_count() / 2",
        "from": str(int(NOW) - 300),
        "to": str(int(NOW)),
    }
    assert call.headers["DD-API-KEY"] == "dd-api-SECRET"
    assert call.headers["DD-APPLICATION-KEY"] == "dd-app-SECRET"
    assert fake_api.only("GET", "/api/v1/validate").headers["DD-API-KEY"] == "dd-api-SECRET"


@pytest.mark.parametrize(
    ("answer", "kind", "text"),
    [
        ((200, {"status": "ok", "series": []}), NoValuesFound, "no values found"),
        ((200, dd_series()), NoValuesFound, "no values found"),
        (
            (400, {"errors": ["Error parsing query: unable to parse sum:: Rule 'scope_expr' didn't match"]}),
            QueryFailed,
            'query failed (HTTP 400: {"errors": ["Error parsing query',
        ),
        ((403, {"errors": ["Forbidden"]}), AuthenticationFailed, "authentication failed (HTTP 403)"),
    ],
)
async def test_datadog_errors_are_told_apart(
    fake_api: FakeApi, answer: tuple[int, Any], kind: type[MetricsError], text: str
) -> None:
    """No series, a rejected query and rejected keys are different errors; keys never appear in them."""
    fake_api.on("GET", "/api/v1/query", answer)
    err = await outcome(provider("datadog", fake_api, DD), "sum:x{*}")
    assert isinstance(err, kind)
    assert str(err).startswith(f"datadog {fake_api.url}: {text}")
    assert str(err).endswith("; query: sum:x{*}")
    assert "SECRET" not in str(err)


# --- New Relic ---------------------------------------------------------------------------------------------------

NR = {"newrelic_account_id": "2718281", "newrelic_query_key": "NRIQ-SECRET"}


async def test_newrelic_runs_nrql_since_the_interval(fake_api: FakeApi) -> None:
    """GET /v1/accounts/<id>/query?nrql=<query> SINCE <interval> seconds ago with X-Query-Key; one result."""
    path = "/v1/accounts/2718281/query"
    fake_api.on("GET", path, lambda call: (200, {"results": [{"result": 99.25}], "metadata": {"eventTypes": []}}))
    p = provider("newrelic", fake_api, NR, interval_s=120)
    assert await p.is_online()
    nrql = "SELECT percentage(count(*), WHERE http.statusCode < 500) FROM Transaction WHERE appName = 'web'"
    assert await outcome(p, nrql) == 99.25
    calls = [c for c in fake_api.calls if c.path == path]
    assert [c.params["nrql"] for c in calls] == [
        "SELECT * FROM Metric SINCE 120 seconds ago",
        f"{nrql} SINCE 120 seconds ago",
    ]
    assert all(c.headers["X-Query-Key"] == "NRIQ-SECRET" for c in calls)


@pytest.mark.parametrize(
    "body", [{"results": []}, {"results": [{"result": None}]}, {"results": [{"result": 1.0}, {"result": 2.0}]}]
)
async def test_newrelic_needs_exactly_one_non_null_result(fake_api: FakeApi, body: dict[str, Any]) -> None:
    """Zero, null or several results are 'no values found'."""
    fake_api.on("GET", "/v1/accounts/2718281/query", (200, body))
    assert isinstance(await outcome(provider("newrelic", fake_api, NR), "SELECT count(*) FROM X"), NoValuesFound)


# --- Dynatrace ---------------------------------------------------------------------------------------------------

DT = {"dynatrace_token": "dt0c01.SECRET"}


def dt_answer(*values: float | None) -> dict[str, Any]:
    """Dynatrace's documented `/api/v2/metrics/query` answer, one data entry per value."""
    return {
        "totalCount": 1,
        "nextPageKey": None,
        "resolution": "Inf",
        "result": [
            {
                "metricId": "builtin:service.response.time:avg",
                "dataPointCountRatio": 0.0001,
                "dimensionCountRatio": 0.01,
                "data": [
                    {
                        "dimensions": [f"SERVICE-{i}"],
                        "dimensionMap": {"dt.entity.service": f"SERVICE-{i}"},
                        "timestamps": [int(NOW * 1000)],
                        "values": [v],
                    }
                    for i, v in enumerate(values)
                ],
            }
        ],
    }


async def test_dynatrace_reads_the_last_data_entry(fake_api: FakeApi) -> None:
    """metricSelector with resolution Inf over ten intervals in milliseconds, Api-Token auth; last entry wins."""
    fake_api.on("GET", "/api/v2/metrics/query", (200, dt_answer(120.0, 240.5)))
    fake_api.on("GET", "/api/v2/metrics", (200, {"totalCount": 1, "metrics": [{"metricId": "builtin:x"}]}))
    p = provider("dynatrace", fake_api, DT)
    assert await p.is_online()
    assert fake_api.only("GET", "/api/v2/metrics").params == {"pageSize": "1"}
    assert await outcome(p, 'builtin:service.response.time:filter(eq("dt.entity.service","SERVICE-1"))') == 240.5
    call = fake_api.only("GET", "/api/v2/metrics/query")
    assert call.params == {
        "metricSelector": 'builtin:service.response.time:filter(eq("dt.entity.service","SERVICE-1"))',
        "resolution": "Inf",
        "from": str(int(NOW * 1000) - 600_000),
        "to": str(int(NOW * 1000)),
    }
    assert call.headers["Authorization"] == "Api-Token dt0c01.SECRET"


async def test_dynatrace_no_data_and_bad_token(fake_api: FakeApi) -> None:
    """An empty result is no data; a 401 is an authentication failure without the token in it."""
    fake_api.on("GET", "/api/v2/metrics/query", (200, dt_answer()))
    assert isinstance(await outcome(provider("dynatrace", fake_api, DT), "builtin:x"), NoValuesFound)
    fake_api.on("GET", "/api/v2/metrics/query", (401, {"error": {"code": 401, "message": "Token is missing"}}))
    err = await outcome(provider("dynatrace", fake_api, DT), "builtin:x")
    assert isinstance(err, AuthenticationFailed)
    assert "SECRET" not in str(err)


# --- InfluxDB 2 (Flux) -------------------------------------------------------------------------------------------

IX = {"token": "influx-SECRET", "org": "platform"}
CSV = (
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string\r\n"
    "#group,false,false,true,true,false,false,true,true\r\n"
    "#default,_result,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement\r\n"
    ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:30:00Z,0.25,rate,http\r\n"
    ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:31:00Z,0.75,rate,http\r\n\r\n"
)


async def test_influxdb_posts_flux_and_reads_the_first_record(fake_api: FakeApi) -> None:
    """POST /api/v2/query?org=<org> with `Token` auth and a Flux body; the first record's _value is the value."""
    fake_api.on("POST", "/api/v2/query", (200, CSV), content_type="text/csv")
    flux = 'from(bucket: "web")\n  |> range(start: -1m)\n  |> filter(fn: (r) => r._field == "rate")'
    assert await outcome(provider("influxdb", fake_api, IX), flux) == 0.25
    call = fake_api.only("POST", "/api/v2/query")
    assert call.params == {"org": "platform"}
    assert call.headers["Authorization"] == "Token influx-SECRET"
    assert call.json()["query"] == flux
    assert call.json()["type"] == "flux"
    assert call.json()["dialect"]["annotations"] == ["datatype", "group", "default"]


async def test_influxdb_no_records_halts_instead_of_passing(fake_api: FakeApi) -> None:
    """No records is 'no values found' (Flagger returns 0 here, which would pass an error-rate check)."""
    fake_api.on("POST", "/api/v2/query", (200, "\r\n"), content_type="text/csv")
    err = await outcome(provider("influxdb", fake_api, IX), 'from(bucket: "web") |> range(start: -1m)')
    assert isinstance(err, NoValuesFound)


async def test_influxdb_rejected_flux_says_why(fake_api: FakeApi) -> None:
    """InfluxDB's 400 with its compile error is a failed query carrying InfluxDB's message."""
    fake_api.on(
        "POST",
        "/api/v2/query",
        (400, {"code": "invalid", "message": "compilation failed: error at @1:1-1:4: undefined identifier fro"}),
    )
    err = await outcome(provider("influxdb", fake_api, IX), 'fro(bucket: "web")')
    assert isinstance(err, QueryFailed)
    assert "undefined identifier fro" in str(err)


# --- Splunk Observability (SignalFlow) ---------------------------------------------------------------------------

SF = {"sf_token_key": "sf-SECRET"}


def sse(*series: tuple[str, float | None]) -> str:
    """SignalFlow's documented Server-Sent Events stream with one data message per (tsId, value)."""
    out = ['event: control-message\ndata: {\ndata:   "event" : "STREAM_START",\ndata:   "timestampMs" : 1\ndata: }\n']
    out.append('event: metadata\ndata: {"tsId": "AAAAAKx3ABc", "properties": {"sf_metric": "requests"}}\n')
    for ts, value in series:
        out.append(
            f'event: data\ndata: {{\ndata:   "data" : [ {{ "tsId" : "{ts}", "value" : '
            f'{"null" if value is None else value} }} ],\ndata:   "logicalTimestampMs" : 1\ndata: }}\n'
        )
    out.append('event: control-message\ndata: {"event": "END_OF_CHANNEL", "timestampMs": 2}\n')
    return "\n".join(out) + "\n"


async def test_splunk_runs_the_program_over_ten_intervals(fake_api: FakeApi) -> None:
    """POST /v2/signalflow/execute with start/stop in ms and immediate=true; nulls dropped, last value wins."""
    fake_api.on(
        "POST",
        "/v2/signalflow/execute",
        (200, sse(("AAAAAKx3ABc", 3.0), ("AAAAAKx3ABc", None), ("AAAAAKx3ABc", 4.5))),
        content_type="text/event-stream",
    )
    fake_api.on("GET", "/v2/metric", (200, {"count": 1, "results": [{"name": "requests"}]}))
    p = provider("splunk", fake_api, SF)
    assert await p.is_online()
    assert fake_api.only("GET", "/v2/metric").params == {"limit": "1"}
    program = "data('requests', filter=filter('service', 'web')).sum().publish()"
    assert await outcome(p, program) == 4.5
    call = fake_api.only("POST", "/v2/signalflow/execute")
    assert call.params == {"start": str(int(NOW * 1000) - 600_000), "stop": str(int(NOW * 1000)), "immediate": "true"}
    assert call.body.decode() == program
    assert call.headers["X-SF-Token"] == "sf-SECRET"


async def test_splunk_several_series_and_no_data(fake_api: FakeApi) -> None:
    """Two time series is 'multiple values'; only nulls is 'no values found'."""
    fake_api.on("POST", "/v2/signalflow/execute", (200, sse(("A", 1.0), ("B", 2.0))))
    assert isinstance(await outcome(provider("splunk", fake_api, SF), "data('x').publish()"), MultipleValues)
    fake_api.on("POST", "/v2/signalflow/execute", (200, sse(("A", None))))
    assert isinstance(await outcome(provider("splunk", fake_api, SF), "data('x').publish()"), NoValuesFound)


def test_splunk_stream_address_follows_the_realm() -> None:
    """The API address of a realm maps to that realm's stream address, as Flagger derives it."""
    from serinus.metrics.splunk import stream_address

    assert stream_address("https://api.us1.signalfx.com") == "https://stream.us1.signalfx.com"
    assert stream_address("https://api.eu0.signalfx.com/") == "https://stream.eu0.signalfx.com"


# --- Kayenta -----------------------------------------------------------------------------------------------------

KAYENTA_QUERY = """
canaryConfigId: cfg-42
application: podinfo
metricsAccountName: prom
storageAccountName: mem
scopes:
  default:
    controlScope: {scope: podinfo-primary, location: test, step: 60}
    experimentScope: {scope: podinfo, location: test, step: 60}
thresholds: {pass: 90, marginal: 70}
"""


async def test_kayenta_returns_the_judgement_score(fake_api: FakeApi) -> None:
    """POST /canary/<config> with both scopes over the last interval, poll until complete, return the score."""
    polls = iter(
        [
            {"complete": False, "status": "running"},
            {
                "complete": True,
                "status": "succeeded",
                "result": {"judgeResult": {"score": {"score": 87.5, "classification": "Marginal"}}},
            },
        ]
    )
    fake_api.on("POST", "/canary/cfg-42", (200, {"canaryExecutionId": "01HEXEC"}))
    fake_api.on("GET", "/canary/01HEXEC", lambda call: (200, next(polls)))
    fake_api.on("GET", "/health", (200, {"status": "UP"}))
    p = provider("kayenta", fake_api, {}, interval_s=120)
    p.sleep = _no_sleep  # type: ignore[attr-defined]
    assert await p.is_online()
    assert await outcome(p, KAYENTA_QUERY) == 87.5
    start = fake_api.only("POST", "/canary/cfg-42")
    assert start.params == {"application": "podinfo", "metricsAccountName": "prom", "storageAccountName": "mem"}
    scopes = start.json()["scopes"]["default"]
    assert scopes["controlScope"] == {
        "scope": "podinfo-primary",
        "location": "test",
        "step": 60,
        "start": "2023-11-14T22:11:20Z",
        "end": "2023-11-14T22:13:20Z",
    }
    assert scopes["experimentScope"]["scope"] == "podinfo"
    assert start.json()["thresholds"] == {"pass": 90, "marginal": 70}
    assert [c.params for c in fake_api.calls if c.path == "/canary/01HEXEC"] == [{"storageAccountName": "mem"}] * 2


async def _no_sleep(_: float) -> None:
    return None


async def test_kayenta_terminal_execution_is_a_failed_query(fake_api: FakeApi) -> None:
    """An execution that ends TERMINAL is a failed query naming Kayenta's exception."""
    fake_api.on("POST", "/canary/cfg-42", (200, {"canaryExecutionId": "X1"}))
    fake_api.on(
        "GET",
        "/canary/X1",
        (
            200,
            {
                "complete": True,
                "status": "terminal",
                "exception": {"details": {"error": "No metric set named latency"}},
            },
        ),
    )
    err = await outcome(provider("kayenta", fake_api, {}), KAYENTA_QUERY)
    assert isinstance(err, QueryFailed)
    assert "execution X1 ended terminal: No metric set named latency" in str(err)


async def test_kayenta_query_without_scopes_is_refused_before_any_call(fake_api: FakeApi) -> None:
    """A template without scopes is a clear error and nothing is started."""
    err = await outcome(provider("kayenta", fake_api, {}), "canaryConfigId: cfg-42\n")
    assert isinstance(err, QueryFailed)
    assert "no scopes" in str(err)
    assert fake_api.calls == []


# --- External Metrics API ----------------------------------------------------------------------------------------


async def test_external_metrics_reads_the_first_item_quantity(fake_api: FakeApi) -> None:
    """GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=..., bearer token; the
    first item's quantity (`1500m`) is 1.5."""
    path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/prod/queue_depth"
    fake_api.on(
        "GET",
        path,
        (
            200,
            {
                "kind": "ExternalMetricValueList",
                "apiVersion": "external.metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": [
                    {
                        "metricName": "queue_depth",
                        "metricLabels": {"queue": "orders"},
                        "timestamp": "2024-01-01T00:00:00Z",
                        "value": "1500m",
                    },
                    {
                        "metricName": "queue_depth",
                        "metricLabels": {"queue": "other"},
                        "timestamp": "2024-01-01T00:00:00Z",
                        "value": "9",
                    },
                ],
            },
        ),
    )
    p = provider("externalmetrics", fake_api, {"token": "kube-SECRET"})
    assert await outcome(p, "prod/queue_depth?labelSelector=queue%3Dorders") == 1.5
    call = fake_api.only("GET", path)
    assert call.params == {"labelSelector": "queue=orders"}
    assert call.headers["Authorization"] == "Bearer kube-SECRET"


async def test_external_metrics_empty_list_and_default_namespace(fake_api: FakeApi) -> None:
    """No items is no data; a query without a namespace reads `default`."""
    path = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/rps"
    fake_api.on("GET", path, (200, {"kind": "ExternalMetricValueList", "items": []}))
    assert isinstance(await outcome(provider("externalmetrics", fake_api, {}), "rps"), NoValuesFound)
    assert fake_api.only("GET", path).params == {}


async def test_an_unreachable_provider_is_told_apart_from_a_failing_query() -> None:
    """Connection refused is ProviderUnreachable, naming the address, for every HTTP provider."""
    address = f"http://127.0.0.1:{free_port()}"
    for kind, secret in [("datadog", DD), ("newrelic", NR), ("dynatrace", DT), ("influxdb", IX), ("splunk", SF)]:
        p = make_provider(ProviderConfig(kind, address, secret=secret, interval_s=60))
        err = await outcome(p, "q")
        assert isinstance(err, ProviderUnreachable), kind
        assert str(err).startswith(f"{kind} {address}"), str(err)
        assert "SECRET" not in str(err)
