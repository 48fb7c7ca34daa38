"""Webhook calls and payloads for every Flagger webhook type."""

from __future__ import annotations
