"""Metric providers against hostile servers on 127.0.0.1: a timeout covers the whole request, and no answer is
read past the size cap (Prometheus through ProviderHttp, CloudWatch through botocore, Stackdriver's token calls)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from serinus.errors import InvalidSpecError, ProviderUnreachable, QueryFailed, ResponseTooLarge
from serinus.metrics import cloudwatch
from serinus.metrics.kayenta import KayentaProvider
from serinus.metrics.prometheus import PrometheusProvider
from serinus.metrics.registry import ProviderConfig, make_provider
from serinus.net import max_response_bytes, set_max_response_bytes
from tests.integration.hostile import MiB, answering, drip, huge

pytestmark = pytest.mark.integration

#: slack for a loaded 2-core machine; before the fix a dripping answer held a query for minutes
MARGIN_S = 2.0
CAP = 10 * MiB


@pytest.fixture(autouse=True)
def default_cap() -> Iterator[None]:
    """Every test starts and ends with the default 10 MiB cap."""
    set_max_response_bytes(CAP)
    yield
    set_max_response_bytes(CAP)


@pytest.mark.parametrize("head_too", [True, False], ids=["headers-drip", "body-drip"])
async def test_a_dripping_server_times_out_within_the_timeout(head_too: bool) -> None:
    """A server sending one byte every 0.5 s fails the query at its 1 s timeout, headers or body alike."""
    async with drip(head_too=head_too) as server:
        provider = PrometheusProvider(server.url, timeout_s=1.0)
        started = time.monotonic()
        try:
            with pytest.raises(ProviderUnreachable) as caught:
                await provider.query("up")
        finally:
            await provider.close()
        elapsed = time.monotonic() - started
    assert str(caught.value) == f"prometheus {server.url}: timed out after 1s; query: up"
    assert elapsed < 1.0 + MARGIN_S
    assert server.sent < 200  # the headers and a few bytes at most, not the 4 KB answer


async def test_a_huge_answer_is_refused_at_the_cap() -> None:
    """A 64 MiB answer is a failed query 'response larger than 10 MiB'; reading stops at the cap."""
    async with huge(size=64 * MiB) as server:
        provider = PrometheusProvider(server.url)
        try:
            with pytest.raises(QueryFailed) as caught:
                await provider.query("up")
        finally:
            await provider.close()
    assert str(caught.value) == f"prometheus {server.url}: response larger than 10 MiB; query: up"
    too_large = caught.value.__cause__
    assert isinstance(too_large, ResponseTooLarge)
    assert CAP < too_large.read <= CAP + MiB  # one decoded piece past the cap at most
    assert server.sent < 32 * MiB  # the rest was never taken off the wire


async def test_an_announced_huge_answer_is_refused_before_its_body() -> None:
    """A Content-Length over the cap is refused without reading a byte of the body."""
    async with huge(size=64 * MiB, announce=True) as server:
        provider = PrometheusProvider(server.url)
        try:
            with pytest.raises(QueryFailed, match=r"response larger than 10 MiB \(64 MiB announced\)") as caught:
                await provider.query("up")
        finally:
            await provider.close()
    too_large = caught.value.__cause__
    assert isinstance(too_large, ResponseTooLarge)
    assert too_large.read == 0


async def test_a_gzip_bomb_is_stopped_after_decompression() -> None:
    """64 MiB compressed to 64 KiB (Content-Encoding: gzip) are counted decoded, and stopped at the cap."""
    async with huge(size=64 * MiB, gzipped=True) as server:
        provider = PrometheusProvider(server.url)
        try:
            with pytest.raises(QueryFailed, match="response larger than 10 MiB") as caught:
                await provider.query("up")
        finally:
            await provider.close()
    too_large = caught.value.__cause__
    assert isinstance(too_large, ResponseTooLarge)
    assert CAP < too_large.read <= CAP + MiB


async def test_the_cap_is_the_operators_setting() -> None:
    """`serinus run --max-response-bytes 1MiB` (set_max_response_bytes) refuses a 2 MiB answer and names 1 MiB;
    a 512 KiB answer still arrives whole."""
    set_max_response_bytes(MiB)
    assert max_response_bytes() == MiB
    async with huge(size=2 * MiB) as server:
        provider = PrometheusProvider(server.url)
        try:
            with pytest.raises(QueryFailed, match="response larger than 1 MiB"):
                await provider.query("up")
        finally:
            await provider.close()
    body = b'{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}'
    async with answering(200, {"Content-Type": "application/json"}, body + b" " * (512 * 1024)) as server:
        provider = PrometheusProvider(server.url)
        try:
            assert await provider.query("scalar(7)") == 7.0
        finally:
            await provider.close()


async def test_a_malformed_address_is_an_error_on_the_template() -> None:
    """An address no HTTP client can use is InvalidSpecError naming the provider, without echoing the address."""
    with pytest.raises(InvalidSpecError, match=r"^prometheus: the provider address is not a valid URL") as caught:
        make_provider(ProviderConfig("prometheus", "http://user:hunter2@[bad"))
    assert "hunter2" not in str(caught.value)


async def test_cloudwatch_through_botocore_times_out_and_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's requests go through serinus.net: against a dripping endpoint each attempt ends at its 1 s timeout
    and botocore retries it as its own read timeout, the call ending within its 3 s (plus one backoff wait); a huge
    answer stops at the cap."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET-KEY-VALUE")
    monkeypatch.setattr(cloudwatch, "TIMEOUT_S", 1.0)
    query = '[{"Id": "e1", "Expression": "SUM(METRICS())"}]'
    async with drip(head_too=False) as server:
        provider = make_provider(ProviderConfig("cloudwatch", server.url, region="eu-west-1", interval_s=60))
        started = time.monotonic()
        try:
            with pytest.raises(ProviderUnreachable, match=r"timed out \(3 attempts of at most 1s\)|timed out after 3s"):
                await provider.query(query)
        finally:
            await provider.close()
        elapsed = time.monotonic() - started
    assert server.requests >= 2
    assert elapsed < 3 * 1.0 + 2.0 + MARGIN_S
    async with huge(size=64 * MiB) as server:
        provider = make_provider(ProviderConfig("cloudwatch", server.url, region="eu-west-1", interval_s=60))
        try:
            with pytest.raises(QueryFailed, match="response larger than 10 MiB"):
                await provider.query(query)
        finally:
            await provider.close()
    assert server.sent < 32 * MiB


async def test_stackdriver_token_calls_time_out_too() -> None:
    """google-auth's token requests go through serinus.net as well: a dripping token endpoint fails at the
    timeout google-auth gives, as a TransportError saying so."""
    from google.auth import exceptions

    from serinus.metrics.stackdriver import _Request

    async with drip(head_too=True) as server:
        started = time.monotonic()
        with pytest.raises(exceptions.TransportError) as caught:
            # google-auth calls its transport from a worker thread, as the provider's token refresh does
            await asyncio.to_thread(_Request(), server.url + "/token", "POST", b"grant_type=x", {}, 1.0)
        elapsed = time.monotonic() - started
    assert str(caught.value) == "token endpoint timed out after 1s"
    assert elapsed < 1.0 + MARGIN_S


@pytest.mark.parametrize("value", [".nan", ".inf", "-5", "0", "soon", "true"])
async def test_kayenta_timeout_must_be_a_positive_number(value: str) -> None:
    """timeoutSeconds bounds the wait for the judgement; NaN, infinity, zero, negative or text is refused
    before Kayenta is called (NaN never ended the poll)."""
    async with answering(500, {}) as server:
        provider = KayentaProvider(server.url, {})
        query = (
            "canaryConfigId: cfg\nscopes:\n  default:\n    controlScope: {scope: a}\n    experimentScope: {scope: b}\n"
            f"timeoutSeconds: {value}\n"
        )
        try:
            with pytest.raises(QueryFailed, match="timeoutSeconds must be a positive number of seconds"):
                await provider.query(query)
        finally:
            await provider.close()
    assert server.requests == 0
