"""CloudWatch against moto's server mode: GetMetricData on datapoints the test puts, as a real endpoint answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from serinus.errors import AuthenticationFailed, NoValuesFound, ProviderUnreachable, QueryFailed
from serinus.metrics.registry import ProviderConfig, make_provider
from tests.integration.receivers import free_port

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's CloudWatch-compatible server on 127.0.0.1."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start (exit {proc.poll()})")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials through the default chain (environment), as IRSA or an instance profile would give them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET-KEY-VALUE")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def put(moto: str, namespace: str, name: str, values: list[float], service: str) -> None:
    """Datapoints one a minute, the newest five seconds ago."""
    client = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto)
    now = time.time()
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "Service", "Value": service}],
                "Unit": "Count",
                "Timestamp": datetime.fromtimestamp(now - 5 - 60 * (len(values) - 1 - i), UTC),
                "Value": v,
            }
            for i, v in enumerate(values)
        ],
    )


def stat(ident: str, name: str, service: str, period: int, statistic: str, *, shown: bool) -> dict[str, object]:
    """One MetricDataQuery over a Shop metric of one service."""
    return {
        "Id": ident,
        "ReturnData": shown,
        "MetricStat": {
            "Metric": {"Namespace": "Shop", "MetricName": name, "Dimensions": [{"Name": "Service", "Value": service}]},
            "Period": period,
            "Stat": statistic,
            "Unit": "Count",
        },
    }


def error_rate_query(service: str) -> str:
    """Flagger's documented CloudWatch template shape: an expression over a hidden MetricStat."""
    return json.dumps(
        [
            {"Id": "e1", "Expression": "errors", "Label": "errors"},
            stat("errors", "Errors", service, 600, "Sum", shown=False),
        ],
        indent=2,
    )


async def test_get_metric_data_over_ten_intervals(moto: str) -> None:
    """The sum of the errors put in the last ten minutes comes back through an expression."""
    put(moto, "Shop", "Errors", [1, 2, 3, 4], "checkout")
    provider = make_provider(ProviderConfig("cloudwatch", moto, region=REGION, interval_s=60))
    try:
        assert await provider.is_online()
        value = await provider.query(error_rate_query("checkout"))
    finally:
        await provider.close()
    assert value == 10


async def test_the_newest_datapoint_wins(moto: str) -> None:
    """Per-minute datapoints come back newest first; the newest is the value."""
    put(moto, "Shop", "Latency", [100, 200, 300, 450], "cart")
    provider = make_provider(ProviderConfig("cloudwatch", moto, region=REGION, interval_s=60))
    try:
        query = json.dumps([stat("latency", "Latency", "cart", 60, "Average", shown=True)])
        assert await provider.query(query) == 450
    finally:
        await provider.close()


async def test_no_datapoints_is_no_values(moto: str) -> None:
    """A metric with no datapoints in the window is 'no values found', not zero."""
    provider = make_provider(ProviderConfig("cloudwatch", moto, region=REGION, interval_s=60))
    try:
        with pytest.raises(NoValuesFound, match="no values found"):
            await provider.query(
                json.dumps(
                    [
                        {
                            "Id": "m",
                            "MetricStat": {
                                "Metric": {"Namespace": "Shop", "MetricName": "Nothing"},
                                "Period": 60,
                                "Stat": "Sum",
                            },
                        }
                    ]
                )
            )
    finally:
        await provider.close()


async def test_a_query_that_is_not_json_is_a_failed_query(moto: str) -> None:
    """The query must be a JSON list of MetricDataQuery; a YAML-ish mistake says so before any call."""
    provider = make_provider(ProviderConfig("cloudwatch", moto, region=REGION, interval_s=60))
    try:
        with pytest.raises(QueryFailed, match="the query is not JSON"):
            await provider.query("Id: e1")
    finally:
        await provider.close()


async def test_unreachable_endpoint_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint is ProviderUnreachable; no credentials anywhere is AuthenticationFailed; no secret is shown."""
    dead = f"http://127.0.0.1:{free_port()}"
    provider = make_provider(ProviderConfig("cloudwatch", dead, region=REGION, interval_s=60))
    try:
        with pytest.raises(ProviderUnreachable) as caught:
            await provider.query(error_rate_query("x"))
        assert "SECRET-KEY-VALUE" not in str(caught.value)
    finally:
        await provider.close()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    provider = make_provider(ProviderConfig("cloudwatch", dead, region=REGION, interval_s=60))
    try:
        with pytest.raises(AuthenticationFailed, match="no AWS credentials found"):
            await provider.query(error_rate_query("x"))
    finally:
        await provider.close()
