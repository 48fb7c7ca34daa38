"""Webhook calls against a real local server: payload, success rule, retries, timeouts and disableTLS; and against
hostile ones: a dripping answer, a huge one, a Retry-After of an hour."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from serinus.hooks.call import WebhookError, call_budget, call_webhook
from serinus.hooks.payload import event_payload, hook_payload
from tests.integration.hostile import MiB, answering, drip, huge
from tests.integration.receivers import Recorder, free_port

pytestmark = pytest.mark.integration
PAYLOAD = hook_payload("podinfo", "test", "Progressing", "85d557f47b", {"type": "bash", "cmd": "true"})


def test_payload_fields_and_order() -> None:
    """The payload has Flagger's fields in Flagger's order; metadata is omitted when empty."""
    assert list(PAYLOAD) == ["name", "namespace", "phase", "checksum", "metadata"]
    assert "metadata" not in hook_payload("podinfo", "test", "Progressing", "x", {})


def test_event_payload_keeps_its_own_keys() -> None:
    """An event hook's metadata cannot override eventMessage, eventType or timestamp."""
    got = event_payload(
        "podinfo",
        "test",
        "Progressing",
        "x",
        message="Advance podinfo.test canary weight 10",
        event_type="Normal",
        unix_ms=1763812800123,
        metadata={"eventType": "spoofed", "team": "payments"},
    )
    assert got["metadata"] == {
        "eventMessage": "Advance podinfo.test canary weight 10",
        "eventType": "Normal",
        "timestamp": "1763812800123",
        "team": "payments",
    }


async def test_success_posts_json_once(receiver: Recorder) -> None:
    """A 200 answer is success after exactly one JSON POST carrying the payload."""
    await call_webhook(receiver.url + "/gate/check", PAYLOAD)
    [req] = receiver.requests
    assert (req.method, req.path, req.headers["Content-Type"]) == ("POST", "/gate/check", "application/json")
    assert req.json() == PAYLOAD


@pytest.mark.parametrize("status", [201, 202])
async def test_201_and_202_pass(receiver: Recorder, status: int) -> None:
    """201 and 202 count as success (a load tester answers 202 for a started command)."""
    receiver.status = status
    await call_webhook(receiver.url, PAYLOAD)


async def test_203_fails_with_the_body(receiver: Recorder) -> None:
    """A status above 202, even 2xx, is a failure whose message is the response body."""
    receiver.status = 203
    receiver.body = "gate podinfo.test is closed"
    with pytest.raises(WebhookError) as caught:
        await call_webhook(receiver.url, PAYLOAD, retries=3, backoff_min_s=0.01)
    assert str(caught.value) == "gate podinfo.test is closed"
    assert len(receiver.requests) == 1


async def test_403_is_not_retried(receiver: Recorder) -> None:
    """A closed gate (403) fails at once: retries are for transient errors only."""
    receiver.status = 403
    with pytest.raises(WebhookError) as caught:
        await call_webhook(receiver.url, PAYLOAD, retries=3, backoff_min_s=0.01)
    assert caught.value.status == 403
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(("status", "attempts"), [(500, 3), (503, 3), (429, 3), (501, 1)])
async def test_retries_follow_retryablehttp(receiver: Recorder, status: int, attempts: int) -> None:
    """5xx (but 501) and 429 are retried `retries` times, then fail with 'giving up after N attempt(s)'."""
    receiver.status = status
    with pytest.raises(WebhookError) as caught:
        await call_webhook(receiver.url + "/hook?token=secret", PAYLOAD, retries=2, backoff_min_s=0.01)
    assert len(receiver.requests) == attempts
    if attempts > 1:
        assert str(caught.value) == (f"POST {receiver.url}/hook giving up after 3 attempt(s): status {status}")
        assert "secret" not in str(caught.value)


async def test_retry_then_success(receiver: Recorder) -> None:
    """A hook that fails with 502 once and then answers 200 succeeds on the second attempt."""
    receiver.script = [502, 200]
    await call_webhook(receiver.url, PAYLOAD, retries=2, backoff_min_s=0.05)
    assert len(receiver.requests) == 2


async def test_timeout_is_a_failure(receiver: Recorder) -> None:
    """A hook slower than its timeout fails with a timeout error, after the given time."""
    receiver.delay = 2.0
    started = time.monotonic()
    with pytest.raises(WebhookError, match=r"giving up after 1 attempt\(s\): timed out after 0.5s"):
        await call_webhook(receiver.url, PAYLOAD, timeout_s=0.5)
    assert time.monotonic() - started < 1.5


@pytest.fixture
async def https_url(tmp_path: Path) -> AsyncIterator[str]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate, answering 200."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hook.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    try:
        yield f"https://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_disable_tls_accepts_a_self_signed_hook(https_url: str) -> None:
    """A self-signed HTTPS hook fails certificate checks, and succeeds with disableTLS."""
    with pytest.raises(WebhookError, match="giving up after 1 attempt"):
        await call_webhook(https_url, PAYLOAD)
    await call_webhook(https_url, PAYLOAD, disable_tls=True)


async def test_credentials_in_a_hook_url_never_reach_the_error(receiver: Recorder) -> None:
    """A hook URL with user:password gives up with an error that names the host and path but not the password."""
    receiver.status = 500
    url = receiver.url.replace("http://", "http://admin:hunter2@") + "/hook"
    with pytest.raises(WebhookError) as caught:
        await call_webhook(url, PAYLOAD, retries=0)
    assert "hunter2" not in str(caught.value)
    assert f"POST {receiver.url}/hook giving up after 1 attempt(s)" in str(caught.value)


# --- Deadlines, size cap and Retry-After (serinus.net) -------------------------------------------------------------

#: slack for a loaded 2-core machine; before the fix a dripping hook held a release for minutes
MARGIN_S = 2.0


@pytest.mark.parametrize("head_too", [True, False], ids=["headers-drip", "body-drip"])
async def test_a_dripping_hook_fails_at_its_timeout(head_too: bool) -> None:
    """A hook answering one byte every 0.5 s fails at its 1 s timeout, whether it drips its headers or its body."""
    async with drip(head_too=head_too) as server:
        started = time.monotonic()
        with pytest.raises(WebhookError) as caught:
            await call_webhook(server.url + "/gate", PAYLOAD, timeout_s=1.0)
        elapsed = time.monotonic() - started
    assert str(caught.value) == f"POST {server.url}/gate giving up after 1 attempt(s): timed out after 1s"
    assert elapsed < 1.0 + MARGIN_S


async def test_retries_of_a_dripping_hook_stay_within_the_call() -> None:
    """With retries the call ends within (retries + 1) x timeout plus the backoff waits, each attempt cut at its
    timeout, and says how many attempts it made."""
    async with drip(head_too=True) as server:
        started = time.monotonic()
        with pytest.raises(WebhookError, match=r"giving up after 3 attempt\(s\): timed out after 1s"):
            await call_webhook(server.url, PAYLOAD, timeout_s=1.0, retries=2, backoff_min_s=0.1)
        elapsed = time.monotonic() - started
    assert server.requests == 3
    assert elapsed < 3 * 1.0 + 0.1 + 0.2 + MARGIN_S


async def test_a_huge_refusal_is_cut_at_the_cap() -> None:
    """A refusal with a 64 MiB body fails with 'response larger than 10 MiB' and its status; the body is not read
    past the cap."""
    async with huge(size=64 * MiB, status=400) as server:
        with pytest.raises(WebhookError) as caught:
            await call_webhook(server.url + "/gate", PAYLOAD)
    assert str(caught.value) == f"POST {server.url}/gate: response larger than 10 MiB"
    assert caught.value.status == 400
    assert server.sent < 32 * MiB


async def test_a_huge_success_is_still_a_success() -> None:
    """A 200 with a 64 MiB body passes, as in Flagger, which ignores a success's body; it is not read whole."""
    async with huge(size=64 * MiB, status=200) as server:
        await call_webhook(server.url, PAYLOAD)
    assert server.sent < 32 * MiB


async def test_retry_after_3600_gives_up_at_once() -> None:
    """A 503 asking for Retry-After: 3600 is not waited for (Flagger would wait an hour): the call gives up at once
    and says why."""
    async with answering(503, {"Retry-After": "3600"}) as server:
        started = time.monotonic()
        with pytest.raises(WebhookError) as caught:
            await call_webhook(server.url + "/hook", PAYLOAD, timeout_s=1.0, retries=3)
        elapsed = time.monotonic() - started
    assert str(caught.value) == (
        f"POST {server.url}/hook giving up after 1 attempt(s): status 503 "
        "(Retry-After 3600s is past the call's 11s limit)"
    )
    assert caught.value.status == 503
    assert server.requests == 1
    assert elapsed < MARGIN_S


async def test_retry_after_within_the_call_is_obeyed() -> None:
    """A 429 asking for Retry-After: 1 is waited for, as go-retryablehttp does, when it fits in the call."""
    async with answering(429, {"Retry-After": "1"}) as server:
        started = time.monotonic()
        with pytest.raises(WebhookError, match=r"giving up after 2 attempt\(s\): status 429$"):
            await call_webhook(server.url, PAYLOAD, timeout_s=5.0, retries=1, backoff_min_s=0.01)
        elapsed = time.monotonic() - started
    assert server.requests == 2
    assert elapsed >= 0.95


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[bad/hook", "not a valid URL (Invalid IPv6 URL)"),
        ("http://gate:abc/hook", "not a valid URL (Port could not be cast to integer value as 'abc')"),
        ("gate.example/hook", "not an http:// or https:// URL"),
    ],
)
async def test_a_malformed_url_fails_before_any_attempt(url: str, why: str) -> None:
    """A URL no client can use is a WebhookError saying what is wrong with it (never a ValueError escaping)."""
    with pytest.raises(WebhookError) as caught:
        await call_webhook(url, PAYLOAD, retries=2)
    assert str(caught.value) == f"the webhook URL is {why}"


def test_the_call_limit_is_every_timeout_plus_every_backoff() -> None:
    """timeout 10s with retries 3 may take 4 x 10 s + 1 + 2 + 4 s; the 30 s ceiling of each wait holds for any
    number of retries, which is counted at once (a billion retries is no loop)."""
    assert call_budget(10.0, 3) == 47.0
    assert call_budget(10.0, 0) == 10.0
    assert call_budget(1.0, 10) == 11 * 1.0 + (1 + 2 + 4 + 8 + 16) + 5 * 30.0
    assert call_budget(10.0, 10**9) == (10**9 + 1) * 10.0 + (1 + 2 + 4 + 8 + 16) + (10**9 - 5) * 30.0
