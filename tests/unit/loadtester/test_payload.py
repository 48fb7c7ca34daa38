"""Webhook payloads are decoded as leniently as Go's json.Unmarshal, and refused when Go would refuse them."""

from __future__ import annotations

import json

import pytest

from serinus.loadtester.payload import PayloadError, WebhookPayload, parse_payload


def test_a_flagger_payload_is_read_whole() -> None:
    """Every field of Flagger's CanaryWebhookPayload is kept, and the canary key is `<name>.<namespace>`."""
    body = {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": {"type": "cmd", "cmd": "hey -z 1m http://podinfo-canary.test/"},
    }
    payload = parse_payload(json.dumps(body).encode())
    assert payload == WebhookPayload(
        "podinfo", "test", "Progressing", "85d557f47b", {"type": "cmd", "cmd": "hey -z 1m http://podinfo-canary.test/"}
    )
    assert payload.canary == "podinfo.test"


def test_absent_null_and_unknown_fields_read_as_empty() -> None:
    """Missing fields and JSON nulls become empty strings and unknown keys are ignored, like Go's zero values."""
    payload = parse_payload(b'{"name": null, "metadata": {"cmd": null}, "extra": [1, 2]}')
    assert payload == WebhookPayload(metadata={"cmd": ""})
    assert parse_payload(b"null") == WebhookPayload()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"\xff", "not JSON"),
        (b"[1]", "JSON list, not an object"),
        (b'"x"', "JSON str, not an object"),
        (b'{"name": 5}', "name must be a string"),
        (b'{"namespace": {}}', "namespace must be a string"),
        (b'{"metadata": "cmd"}', "metadata must be an object of strings"),
        (b'{"metadata": {"cmd": 1}}', "metadata.cmd must be a string"),
    ],
)
def test_malformed_bodies_are_refused_with_the_reason(body: bytes, message: str) -> None:
    """Bodies Go could not decode into the payload struct raise PayloadError naming the problem."""
    with pytest.raises(PayloadError, match=message):
        parse_payload(body)
