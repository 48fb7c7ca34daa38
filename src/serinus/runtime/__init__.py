"""The operator process: watches, one scheduler task per Canary, /healthz and /metrics."""

from __future__ import annotations
