"""Alert receivers: one per AlertProvider (or the global --slack-* / --msteams-* options), with Flagger's checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

from serinus.api.alert_provider import AlertProviderType
from serinus.api.capabilities import ALERTS
from serinus.errors import InvalidSpecError
from serinus.net import SharedClients
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
    #: the operator's clients kept across alerts (None: a client per alert)
    clients: SharedClients | None = None

    def payload(self, alert: Alert) -> Any:
        """The JSON body this receiver posts for `alert`."""
        return DELIVERY[AlertProviderType(self.type)].payload(self, alert)

    @property
    def endpoint(self) -> str:
        """The URL posted to (Alertmanager's alerts API under its base URL)."""
        path = DELIVERY[AlertProviderType(self.type)].path
        return self.url.rstrip("/") + path if path else self.url

    async def send(self, alert: Alert) -> None:
        """Deliver one alert; raises NotifyError when the receiver does not take it."""
        token = self.token if ALERTS[AlertProviderType(self.type)].token else None
        await post_json(
            self.endpoint,
            self.payload(alert),
            token=token,
            proxy=self.proxy,
            transport=self.transport,
            clients=self.clients,
        )


def _same(url: str) -> str:
    return url


def _discord(url: str) -> str:
    """Discord takes Slack's payload under the webhook's `/slack` path."""
    if url.endswith("/slack"):
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/slack"))


@dataclass(frozen=True)
class Delivery:
    """How one alert provider's alerts are delivered: the body, where under its address it is posted, and the
    address as the provider wants it. What errors call it and whether it takes a channel or a token are facts of
    serinus.api.capabilities.ALERT_PROVIDERS."""

    payload: Callable[[Receiver, Alert], Any]
    #: appended to the address (Alertmanager's API under its base URL)
    path: str = ""
    address: Callable[[str], str] = _same


#: One entry per alert provider (AlertProviderType); adding one is this entry, its facts in
#: serinus.api.capabilities.ALERT_PROVIDERS and a payload builder in notify/providers.py.
DELIVERY: dict[AlertProviderType, Delivery] = {
    AlertProviderType.SLACK: Delivery(lambda r, a: slack_payload(a, channel=r.channel, username=r.username)),
    AlertProviderType.DISCORD: Delivery(
        lambda r, a: slack_payload(a, channel=r.channel, username=r.username), address=_discord
    ),
    AlertProviderType.ROCKET: Delivery(lambda r, a: rocket_payload(a, channel=r.channel, username=r.username)),
    AlertProviderType.MSTEAMS: Delivery(lambda _, a: msteams_payload(a)),
    AlertProviderType.GCHAT: Delivery(lambda _, a: gchat_payload(a)),
    AlertProviderType.WEBHOOK: Delivery(lambda r, a: webhook_payload(a, r.clock())),
    AlertProviderType.ALERTMANAGER: Delivery(
        lambda r, a: alertmanager_payload(a, r.clock(), r.resolve_after), path="/api/v2/alerts"
    ),
}


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
    if kind not in ALERTS:
        raise InvalidSpecError(f"provider {kind} not supported")
    facts = ALERTS[AlertProviderType(kind)]
    if not _valid_url(url):
        raise InvalidSpecError(f"invalid {facts.label} URL")
    username = "flagger" if username is None else username
    channel = "general" if channel is None else channel
    if facts.chat:
        if not username:
            raise InvalidSpecError(f"empty {facts.chat} username")
        if not channel:
            raise InvalidSpecError(f"empty {facts.chat} channel")
    url = DELIVERY[facts.type].address(url)
    return Receiver(kind, url, token=token or None, proxy=proxy or None, username=username, channel=channel)
