"""Webhook payloads are decoded as leniently as Go's json.Unmarshal, and refused when Go would refuse them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serinus.loadtester.payload import MAX_JSON_DEPTH, PayloadError, WebhookPayload, json_depth, parse_payload


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
        (b'{"metadata": {"' + b"k" * 100_000 + b'": 1}}', "metadata." + "k" * 64 + r"\.\.\. must be a string"),
    ],
)
def test_malformed_bodies_are_refused_with_the_reason(body: bytes, message: str) -> None:
    """Bodies Go could not decode into the payload struct raise PayloadError naming the problem."""
    with pytest.raises(PayloadError, match=message):
        parse_payload(body)


def _nested(depth: int) -> bytes:
    """A payload whose unknown key `x` holds arrays nested so that the whole body is `depth` levels deep."""
    return b'{"name": "podinfo", "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_nesting_up_to_the_limit_is_read() -> None:
    """A body nested MAX_JSON_DEPTH levels deep is decoded (unknown keys may hold any JSON, as in Go)."""
    assert json_depth(_nested(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH
    assert parse_payload(_nested(MAX_JSON_DEPTH)).name == "podinfo"


@pytest.mark.parametrize(
    "body", [_nested(MAX_JSON_DEPTH + 1), b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
)
def test_nesting_past_the_limit_is_refused_without_recursing(body: bytes) -> None:
    """Deeper bodies, even far deeper than Python's recursion limit, raise PayloadError naming the limit."""
    with pytest.raises(PayloadError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        parse_payload(body)


def test_brackets_inside_strings_do_not_count() -> None:
    """A command full of brackets and escaped quotes is not mistaken for deep nesting."""
    cmd = "[[[[" * 40 + '\\"{{{{' * 40 + "\\\\"
    body = json.dumps({"name": "podinfo", "metadata": {"cmd": cmd}}).encode()
    assert json_depth(body) == 2
    assert parse_payload(body).metadata["cmd"] == cmd


def test_lone_surrogates_read_as_replacement_characters() -> None:
    """A `\\ud800` escape that pairs with nothing becomes U+FFFD as in Go; a valid pair stays one character."""
    payload = parse_payload(b'{"name": "a\\ud800", "metadata": {"cmd": "\\udc00 \\ud83d\\ude00", "\\udfff": ""}}')
    assert payload.name == "a\ufffd"
    assert payload.metadata == {"cmd": "\ufffd \U0001f600", "\ufffd": ""}


def test_only_utf8_bodies_are_read() -> None:
    """Go reads JSON as UTF-8 only, so a UTF-16 body is refused as not JSON, as Flagger refuses it."""
    with pytest.raises(PayloadError, match="not JSON"):
        parse_payload('{"name": "podinfo"}'.encode("utf-16"))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)
_PAYLOADISH = st.fixed_dictionaries(
    {},
    optional={
        "name": _JSON | st.text(),
        "namespace": _JSON | st.text(),
        "metadata": _JSON | st.dictionaries(st.sampled_from(["type", "cmd", "returnCmdOutput"]), st.text() | _JSON),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | _JSON.map(lambda v: json.dumps(v).encode())
    | _PAYLOADISH.map(lambda v: json.dumps(v).encode())
)
def test_any_body_decodes_or_is_refused_with_a_reason(body: bytes) -> None:
    """Whatever the bytes, decoding returns a payload or raises PayloadError: nothing else escapes to the server."""
    payload: WebhookPayload | None = None
    try:
        payload = parse_payload(body)
    except PayloadError as exc:
        reason = str(exc)
    if payload is None:
        assert 0 < len(reason) < 200  # a short reason, whatever the caller sent
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in payload.metadata.items())
    for text in (payload.name, payload.namespace, *payload.metadata, *payload.metadata.values()):
        text.encode("utf-8")  # no lone surrogate left to break a command line, a log line or an answer
