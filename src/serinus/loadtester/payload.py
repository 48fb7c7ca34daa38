"""The webhook payload the load tester receives (Flagger's CanaryWebhookPayload), parsed as leniently as Go does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from serinus.errors import SerinusError

_STRING_FIELDS = ("name", "namespace", "phase", "checksum")


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
    """Decode a request body; unknown keys are ignored and JSON nulls read as empty, as Go's json.Unmarshal does."""
    try:
        data = json.loads(body)
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
        values[key] = value or ""
    return WebhookPayload(**values, metadata=_metadata(data.get("metadata")))


def _metadata(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError("metadata must be an object of strings")
    metadata: dict[str, str] = {}
    for key, item in value.items():
        if item is not None and not isinstance(item, str):
            raise PayloadError(f"metadata.{key} must be a string")
        metadata[key] = item or ""
    return metadata
