"""Alert receivers: one per AlertProvider (or the global --slack-* / --msteams-* options), with Flagger's checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

from serinus.errors import InvalidSpecError
from serinus.notify.alert import Alert
from serinus.notify.http import post_json
from serinus.notify.providers import (
    alertmanager_payload,
    gchat_payload,
    msteams_payload,
    rocket_payload,
    slack_payload,
    webhook_payload,
)

TYPES = ("slack", "discord", "rocket", "msteams", "gchat", "webhook", "alertmanager")
NAMES = {
    "slack": "Slack hook",
    "discord": "Discord hook",
    "rocket": "Rocket hook",
    "msteams": "MS Teams webhook",
    "gchat": "Google Chat webhook",
    "webhook": "webhook",
    "alertmanager": "Alertmanager",
}
CHAT = ("slack", "discord", "rocket")


def _valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # urllib checks the port only when asked
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        return False
    return bool(parts.scheme and parts.netloc)


@dataclass
class Receiver:
    """Where one kind of alert goes, and how to deliver it."""

    type: str
    url: str
    token: str | None = None
    proxy: str | None = None
    username: str = "flagger"
    channel: str = "general"
    resolve_after: dt.timedelta = dt.timedelta(minutes=5)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    transport: httpx2.AsyncBaseTransport | None = None

    def payload(self, alert: Alert) -> Any:
        """The JSON body this receiver posts for `alert`."""
        if self.type in ("slack", "discord"):
            return slack_payload(alert, channel=self.channel, username=self.username)
        if self.type == "rocket":
            return rocket_payload(alert, channel=self.channel, username=self.username)
        if self.type == "msteams":
            return msteams_payload(alert)
        if self.type == "gchat":
            return gchat_payload(alert)
        if self.type == "webhook":
            return webhook_payload(alert, self.clock())
        return alertmanager_payload(alert, self.clock(), self.resolve_after)

    @property
    def endpoint(self) -> str:
        """The URL posted to (Alertmanager's alerts API under its base URL)."""
        if self.type == "alertmanager":
            return self.url.rstrip("/") + "/api/v2/alerts"
        return self.url

    async def send(self, alert: Alert) -> None:
        """Deliver one alert; raises NotifyError when the receiver does not take it."""
        token = self.token if self.type in ("slack", "webhook", "alertmanager") else None
        await post_json(self.endpoint, self.payload(alert), token=token, proxy=self.proxy, transport=self.transport)


def make_receiver(
    kind: str,
    url: str,
    *,
    token: str | None = None,
    proxy: str | None = None,
    username: str | None = None,
    channel: str | None = None,
) -> Receiver:
    """A checked Receiver; InvalidSpecError says what is wrong (the URL itself is never echoed: it is a secret)."""
    if kind not in TYPES:
        raise InvalidSpecError(f"provider {kind} not supported")
    if not _valid_url(url):
        raise InvalidSpecError(f"invalid {NAMES[kind]} URL")
    username = "flagger" if username is None else username
    channel = "general" if channel is None else channel
    if kind in CHAT:
        label = {"slack": "Slack", "discord": "Discord", "rocket": "Rocket"}[kind]
        if not username:
            raise InvalidSpecError(f"empty {label} username")
        if not channel:
            raise InvalidSpecError(f"empty {label} channel")
    if kind == "discord" and not url.endswith("/slack"):
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/slack"))
    return Receiver(kind, url, token=token or None, proxy=proxy or None, username=username, channel=channel)
