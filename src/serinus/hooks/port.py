"""The engine's Hooks port: webhooks called over HTTP with Flagger's semantics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serinus.api import CanaryWebhook
from serinus.api.duration import DurationError
from serinus.engine.ports import HookResult
from serinus.hooks.call import DEFAULT_TIMEOUT_S, WebhookError, call_webhook
from serinus.net import SharedClients


class HttpHooks:
    """Calls a Canary's webhooks; a refusal or failure is a HookResult, never an exception."""

    def __init__(self, backoff_min_s: float = 1.0, clients: SharedClients | None = None) -> None:
        self.backoff_min_s = backoff_min_s
        #: clients kept across calls (one per destination); None makes one per call
        self.clients = clients

    async def call(self, hook: CanaryWebhook, payload: Mapping[str, Any]) -> HookResult:
        """POST the payload; accepted when the final status is <= 202."""
        try:
            timeout = hook.timeout_seconds()
        except DurationError:
            timeout = DEFAULT_TIMEOUT_S
        try:
            await call_webhook(
                hook.url,
                payload,
                timeout_s=timeout,
                retries=hook.retries,
                disable_tls=hook.disable_tls,
                backoff_min_s=self.backoff_min_s,
                clients=self.clients,
            )
        except WebhookError as err:
            return HookResult(False, str(err))
        return HookResult(True)
