"""Event webhooks: every Kubernetes event Serinus records about a Canary, POSTed to the Canary's `event`
webhooks, or to the operator's `--event-webhook` when the Canary has none (Flagger's sendEventToWebhook)."""

from __future__ import annotations

import logging
import time

from serinus.api import Canary, CanaryWebhook, HookType
from serinus.engine.changes import canary_checksum
from serinus.engine.payloads import event_payload
from serinus.errors import SerinusError
from serinus.hooks.call import call_webhook
from serinus.net import SharedClients

log = logging.getLogger("serinus.canary")
GLOBAL_HOOK_NAME = "events"


class EventWebhooks:
    """Sends events to webhooks; failures are logged, never raised."""

    def __init__(self, global_url: str = "", clients: SharedClients | None = None) -> None:
        self.global_url = global_url
        #: clients kept across calls (one per destination); None makes one per call
        self.clients = clients

    def targets(self, canary: Canary) -> list[CanaryWebhook]:
        """The Canary's `event` webhooks, or the global one when it has none."""
        hooks = canary.analysis_or_default().webhooks_of(HookType.EVENT)
        if not hooks and self.global_url:
            hooks = [CanaryWebhook(name=GLOBAL_HOOK_NAME, url=self.global_url)]
        return hooks

    async def send(self, canary: Canary, event_type: str, message: str) -> None:
        """POST the event to every target; the phase is the Canary's as given."""
        meta = canary.metadata
        for hook in self.targets(canary):
            payload = event_payload(
                meta.name or "",
                meta.namespace or "default",
                str(canary.status.phase),
                canary_checksum(canary.status),
                message=message,
                event_type=event_type,
                unix_ms=time.time_ns() // 1_000_000,
                metadata=hook.metadata,
            )
            try:
                await call_webhook(
                    hook.url,
                    payload,
                    timeout_s=hook.timeout_seconds(),
                    retries=hook.retries,
                    disable_tls=hook.disable_tls,
                    clients=self.clients,
                )
            except SerinusError as err:
                log.error("error sending event to webhook: %s", err, extra={"canary": f"{meta.name}.{meta.namespace}"})
