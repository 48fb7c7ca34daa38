"""The webhook payload the load tester receives (Flagger's CanaryWebhookPayload), parsed as leniently as Go does."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate

from serinus.errors import SerinusError

_STRING_FIELDS = ("name", "namespace", "phase", "checksum")

#: Deepest nesting of arrays and objects read. Flagger's payload needs 2 (metadata in the body); Go stops at 10000,
#: Python's decoder raises RecursionError near 1000, so the limit is explicit and far below both.
MAX_JSON_DEPTH = 64

# A JSON string (escapes included), removed before brackets are counted so that a `[` in a command does not count.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Opening brackets become +1 and closing ones -1 (read as signed bytes); every other byte is deleted.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Surrogate code points left alone by the decoder (`"\ud800"`): Go reads each as U+FFFD, and Python cannot encode
# them into a command line, a log line or an answer.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class PayloadError(SerinusError):
    """The request body is not a webhook payload; the message says what is wrong."""


@dataclass(frozen=True)
class WebhookPayload:
    """`{"name", "namespace", "phase", "checksum", "metadata": {str: str}}`; absent fields are empty."""

    name: str = ""
    namespace: str = ""
    phase: str = ""
    checksum: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def canary(self) -> str:
        """`<name>.<namespace>`: the key of this canary's gate and of its running commands."""
        return f"{self.name}.{self.namespace}"


def parse_payload(body: bytes) -> WebhookPayload:
    """Decode a request body; unknown keys are ignored and JSON nulls read as empty, as Go's json.Unmarshal does.

    The body must be UTF-8 (as Go requires) and nest at most MAX_JSON_DEPTH arrays and objects."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not JSON: it is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    # Fewer brackets than the limit cannot nest deeper than it: the usual payload skips the scan.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise PayloadError(f"the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text)
    except RecursionError:  # not reached below MAX_JSON_DEPTH; kept so that no body can raise it
        raise PayloadError(f"the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None
    if data is None:
        return WebhookPayload()
    if not isinstance(data, dict):
        raise PayloadError(f"the body is a JSON {type(data).__name__}, not an object")
    values: dict[str, str] = {}
    for key in _STRING_FIELDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise PayloadError(f"{key} must be a string")
        values[key] = _go_string(value or "")
    return WebhookPayload(**values, metadata=_metadata(data.get("metadata")))


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in a UTF-8 JSON text (0 for a scalar); brackets inside strings do not count.

    Linear and done in C (a regex, a translation, an accumulation), so it costs little even for a 1 MiB body."""
    steps = _JSON_STRING.sub(b"", body).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def _go_string(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD, as Go's decoder reads it."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _metadata(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError("metadata must be an object of strings")
    metadata: dict[str, str] = {}
    for key, item in value.items():
        if item is not None and not isinstance(item, str):
            # The key is the caller's text: cut, so that the answer and the log line stay short.
            raise PayloadError(f"metadata.{key if len(key) <= 64 else key[:64] + '...'} must be a string")
        metadata[_go_string(key)] = _go_string(item or "")
    return metadata
