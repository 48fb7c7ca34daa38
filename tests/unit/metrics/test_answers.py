"""Every metrics provider's parser, fed any answer: it returns a finite number or raises a MetricsError that says
what came back, never another exception (which would stall a release) and never ±Inf or NaN (which would pass a
threshold). Prometheus-shaped answers are also checked one by one against the texts a user reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serinus.errors import MalformedAnswer, MetricsError, MultipleValues, NoValuesFound
from serinus.metrics.cloudwatch import CloudWatchProvider
from serinus.metrics.datadog import DatadogProvider
from serinus.metrics.dynatrace import DynatraceProvider
from serinus.metrics.externalmetrics import ExternalMetricsProvider
from serinus.metrics.graphite import GraphiteProvider
from serinus.metrics.influxdb import InfluxDBProvider
from serinus.metrics.kayenta import KayentaProvider
from serinus.metrics.keptn import KeptnProvider, KeptnQuery
from serinus.metrics.newrelic import NewRelicProvider
from serinus.metrics.prometheus import PrometheusProvider
from serinus.metrics.registry import PROVIDERS
from serinus.metrics.splunk import SplunkProvider
from serinus.metrics.stackdriver import StackdriverProvider

ADDRESS = "http://127.0.0.1:9"  # never called: only the parsers run
Q = "q"

# ----- arbitrary JSON, and answers shaped like each provider's with arbitrary JSON anywhere in them -----------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from(["+Inf", "-Inf", "Inf", "NaN", "nan", "1.5", "0", "-3", "1e400", "abc", "", " 2 ", "0x1p-2"]),
)
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=8))
JSON = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "value", "data", "result"]), inner)
    ),
    max_leaves=8,
)


def shaped(skeleton: Any) -> st.SearchStrategy[Any]:
    """The skeleton's structure (dicts with its keys, lists of its first element, numbers where it has 0), where
    any part may instead be arbitrary JSON."""
    if isinstance(skeleton, dict):
        inner: st.SearchStrategy[Any] = st.fixed_dictionaries({k: shaped(v) for k, v in skeleton.items()})
    elif isinstance(skeleton, list):
        inner = st.lists(shaped(skeleton[0]), max_size=3) if skeleton else st.just([])
    elif skeleton == 0 and not isinstance(skeleton, bool):
        inner = NUMBERS
    else:
        inner = st.just(skeleton)
    return st.one_of(inner, inner, inner, JSON)


def sample() -> list[Any]:
    return [0, 0]


SHAPES: dict[str, Any] = {
    "prometheus": {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"le": "0"}, "value": sample(), "values": None}],
        },
    },
    "datadog": {"series": [{"pointlist": [sample()]}]},
    "newrelic": {"results": [{"result": 0}]},
    "graphite": [{"datapoints": [sample()]}],
    "dynatrace": {"result": [{"data": [{"values": [0]}]}]},
    "cloudwatch": {"MetricDataResults": [{"Values": [0]}]},
    "stackdriver": {"timeSeriesData": [{"pointData": [{"values": [{"doubleValue": 0, "int64Value": "0"}]}]}]},
    "keptn": {"status": {"value": 0}},
    "externalmetrics": {"items": [{"value": 0}]},
    "kayenta": {"status": "succeeded", "result": {"judgeResult": {"score": {"score": 0}}}},
    "splunk": {"data": [{"tsId": "a", "value": 0}]},
    "influxdb": 0,
}


def _stackdriver_secret() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k",
        "private_key": pem,
        "client_email": "sa@p.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{ADDRESS}/token",
    }
    return {"serviceAccountKey": json.dumps(info)}


def _csv(value: Any) -> str:
    """An InfluxDB annotated-CSV answer whose first record's _value is `value` as text."""
    return f"#datatype,string,long,double\r\n,result,table,_value\r\n,_result,0,{value}\r\n"


def _sse(body: Any) -> str:
    """A SignalFlow stream with one data message."""
    return f"event: data\ndata: {json.dumps(body, allow_nan=True)}\n\n"


def parsers() -> dict[str, Callable[[Any], float]]:
    """provider type -> its parser, on a provider built as the operator builds it (no request is ever sent)."""
    prometheus = PrometheusProvider(ADDRESS)
    datadog = DatadogProvider(ADDRESS, {"datadog_api_key": "k", "datadog_application_key": "a"}, interval_s=60)
    newrelic = NewRelicProvider(ADDRESS, {"newrelic_account_id": "1", "newrelic_query_key": "k"}, interval_s=60)
    graphite = GraphiteProvider(ADDRESS, {})
    dynatrace = DynatraceProvider(ADDRESS, {"dynatrace_token": "t"}, interval_s=60)
    cloudwatch = CloudWatchProvider("eu-west-1", interval_s=60, address=ADDRESS)
    stackdriver = StackdriverProvider(ADDRESS, _stackdriver_secret())
    keptn = KeptnProvider(object())  # type: ignore[arg-type]
    external = ExternalMetricsProvider(ADDRESS, {})
    kayenta = KayentaProvider(ADDRESS, {})
    splunk = SplunkProvider(ADDRESS, {"sf_token_key": "t"}, interval_s=60)
    influxdb = InfluxDBProvider(ADDRESS, {})
    return {
        "prometheus": lambda body: prometheus.answer(body, Q),
        "datadog": lambda body: datadog.answer(body, Q),
        "newrelic": lambda body: newrelic.answer(body, Q),
        "graphite": lambda body: graphite.answer(body, Q),
        "dynatrace": lambda body: dynatrace.answer(body, Q),
        "cloudwatch": lambda body: cloudwatch.answer(body, Q),
        "stackdriver": lambda body: stackdriver.answer(body, Q),
        "keptn": lambda body: keptn.metric_value(body, KeptnQuery("keptnmetric", "ns", "m"), Q),
        "externalmetrics": lambda body: external.answer(external.items_of(body, Q), Q),
        "kayenta": lambda body: kayenta.answer(body, "e1", Q),
        "splunk": lambda body: splunk.answer(_sse(body), Q),
        "influxdb": lambda body: influxdb.answer(body if isinstance(body, str) else _csv(body), Q),
    }


PARSERS = parsers()


def outcome(provider: str, body: Any) -> float | MetricsError:
    """What the parser makes of `body`: a number or the error it raised (anything else fails the test)."""
    try:
        return PARSERS[provider](body)
    except MetricsError as err:
        return err


def test_every_provider_has_a_parser_under_test() -> None:
    """No provider is left out of the property below."""
    assert set(PARSERS) == set(PROVIDERS) == set(SHAPES)


@pytest.mark.parametrize("provider", sorted(SHAPES))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_answer_gives_a_finite_number_or_a_provider_error(provider: str, data: st.DataObject) -> None:
    """Arbitrary JSON, and answers of the provider's own shape with arbitrary JSON in any place: the parser
    returns a finite float or raises a MetricsError, nothing else."""
    body = data.draw(st.one_of(shaped(SHAPES[provider]), JSON, st.text(max_size=40)), label="body")
    got = outcome(provider, body)
    if not isinstance(got, MetricsError):
        assert isinstance(got, float)
        assert math.isfinite(got)


def _prom(result: Any, kind: str = "vector") -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


def _vector(value: Any) -> dict[str, Any]:
    return _prom([{"metric": {}, "value": [1700000000.0, value]}])


@pytest.mark.parametrize(
    ("body", "kind", "what"),
    [
        (_vector("+Inf"), MalformedAnswer, "the value is +Inf, not a finite number"),
        (_vector("-Inf"), MalformedAnswer, "the value is -Inf, not a finite number"),
        (_vector("NaN"), NoValuesFound, "no values found"),
        (_vector("fast"), MalformedAnswer, "the value 'fast' is not a number"),
        (_vector(None), MalformedAnswer, "the value is null, not a number"),
        (_vector(True), MalformedAnswer, "the value is a boolean, not a number"),
        ([1, 2], MalformedAnswer, "the answer is a list, not an object"),
        ({"status": "success", "data": [1]}, MalformedAnswer, "data is a list, not an object"),
        (_prom("vector(1)"), MalformedAnswer, "data.result is a string, not a list"),
        (_prom(["x"]), MalformedAnswer, "a series of data.result is a string, not an object"),
        (_prom([{"metric": {}, "value": "12"}]), MalformedAnswer, "a sample is '12', not [<time>, \"<value>\"]"),
        (_prom([]), NoValuesFound, "no values found"),
        ({"status": "success"}, NoValuesFound, "no values found"),
        (
            _prom([{"metric": {}, "values": [[1, "2"]]}], "matrix"),
            MultipleValues,
            "query returned multiple values (a range vector)",
        ),
        (_prom([1700000000.0, "0.25"], "scalar"), None, 0.25),
        (_vector("99.5"), None, 99.5),
    ],
)
def test_prometheus_answers_say_what_came_back(body: Any, kind: type[MetricsError] | None, what: Any) -> None:
    """Each Prometheus-shaped answer gives its value or the error a user reads, worded
    `prometheus <address>: <what>; query: <query>`; NaN stays "no values found" as in Flagger."""
    got = outcome("prometheus", body)
    if kind is None:
        assert got == what
        return
    assert isinstance(got, kind)
    assert str(got) == f"prometheus {ADDRESS}: {what}; query: q"


#: provider -> an answer of its documented shape holding +Inf where the provider reads its number
INFINITE: dict[str, Any] = {
    "prometheus": _vector("+Inf"),
    "datadog": {"series": [{"pointlist": [[1700000000000, math.inf]]}]},
    "newrelic": {"results": [{"result": "Infinity"}]},
    "graphite": [{"datapoints": [[math.inf, 1700000000]]}],
    "dynatrace": {"result": [{"data": [{"values": [math.inf]}]}]},
    "cloudwatch": {"MetricDataResults": [{"Values": [math.inf]}]},
    "stackdriver": {"timeSeriesData": [{"pointData": [{"values": [{"doubleValue": "Infinity"}]}]}]},
    "keptn": {"status": {"value": "+Inf"}},
    "kayenta": {"status": "succeeded", "result": {"judgeResult": {"score": {"score": math.inf}}}},
}


@pytest.mark.parametrize("provider", sorted(INFINITE))
def test_an_infinite_value_is_malformed_for_every_json_provider(provider: str) -> None:
    """+Inf in the place each provider reads its number from is a MalformedAnswer naming it, never a value."""
    got = outcome(provider, INFINITE[provider])
    assert isinstance(got, MalformedAnswer)
    assert "+Inf, not a finite number" in str(got)


def test_text_answers_with_infinity_are_malformed() -> None:
    """InfluxDB's CSV, SignalFlow's stream and an external metric's quantity: infinity is malformed too."""
    assert isinstance(outcome("influxdb", _csv("+Inf")), MalformedAnswer)
    assert isinstance(outcome("influxdb", _csv("NaN")), NoValuesFound)
    assert isinstance(outcome("splunk", {"data": [{"tsId": "a", "value": "Infinity"}]}), MalformedAnswer)
    got = outcome("externalmetrics", {"items": [{"value": "Inf"}]})
    assert isinstance(got, MalformedAnswer)
    assert "value 'Inf' is not a quantity" in str(got)
