"""Webhook payloads, field for field as Flagger sends them (`CanaryWebhookPayload`); pure, shared by the engine
and the hook adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: metadata keys of an event webhook that a hook's own metadata cannot override
EVENT_KEYS = ("eventMessage", "eventType", "timestamp")


def hook_payload(
    name: str, namespace: str, phase: str, checksum: str, metadata: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The body of every webhook call; `metadata` is left out when empty."""
    payload: dict[str, Any] = {"name": name, "namespace": namespace, "phase": phase, "checksum": checksum}
    if metadata:
        payload["metadata"] = dict(metadata)
    return payload


def event_payload(
    name: str,
    namespace: str,
    phase: str,
    checksum: str,
    *,
    message: str,
    event_type: str,
    unix_ms: int,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body of an `event` webhook: the event's message, type and time, plus the hook's own metadata keys."""
    meta = {"eventMessage": message, "eventType": event_type, "timestamp": str(unix_ms)}
    for key, value in (metadata or {}).items():
        meta.setdefault(key, value)
    return hook_payload(name, namespace, phase, checksum, meta)
