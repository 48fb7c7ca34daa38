"""Webhook payloads (defined with the engine, which builds them; re-exported for adapters and tests)."""

from __future__ import annotations

from serinus.engine.payloads import EVENT_KEYS, event_payload, hook_payload

__all__ = ["EVENT_KEYS", "event_payload", "hook_payload"]
