"""Every alert provider posts its documented payload to a real HTTP receiver; failures are clear and secret-free."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx2
import pytest

from serinus.errors import InvalidSpecError
from serinus.notify.alert import Alert, Field
from serinus.notify.http import NotifyError
from serinus.notify.receivers import make_receiver
from tests.integration.receivers import Recorder

pytestmark = pytest.mark.integration

ALERT = Alert(
    "podinfo",
    "test",
    "Failed checks threshold reached 5",
    severity="error",
    fields=(Field("Cluster", "prod-eu"), Field("Target", "Deployment/podinfo.test")),
    phase="Failed",
)
INFO = Alert("podinfo", "test", "New revision detected, progressing canary analysis.", severity="info")


async def test_slack_payload_and_bearer_token(receiver: Recorder) -> None:
    """Slack gets Flagger's attachment payload (danger for errors) and the token as a bearer header."""
    await make_receiver(
        "slack", receiver.url + "/api/chat.postMessage", token="xoxb-1", channel="releases", username="serinus"
    ).send(ALERT)
    [req] = receiver.requests
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Authorization"] == "Bearer xoxb-1"
    assert req.json() == {
        "channel": "releases",
        "username": "serinus",
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": "danger",
                "author_name": "podinfo.test",
                "text": ALERT.message,
                "mrkdwn_in": ["text"],
                "fields": [
                    {"title": "Cluster", "value": "prod-eu", "short": False},
                    {"title": "Target", "value": "Deployment/podinfo.test", "short": False},
                ],
            }
        ],
    }
    assert list(req.json()) == ["channel", "username", "icon_url", "icon_emoji", "attachments"]


async def test_discord_goes_to_the_slack_compatible_path(receiver: Recorder) -> None:
    """Discord's webhook URL gets `/slack` appended, with Slack's payload and colour `good` for info."""
    await make_receiver("discord", receiver.url + "/api/webhooks/1/abc").send(INFO)
    [req] = receiver.requests
    assert req.path == "/api/webhooks/1/abc/slack"
    body = req.json()
    assert (body["channel"], body["username"]) == ("general", "flagger")
    assert body["attachments"][0]["color"] == "good"
    assert body["attachments"][0]["fields"] == []
    assert "Authorization" not in req.headers


async def test_rocket_uses_flaggers_colours(receiver: Recorder) -> None:
    """Rocket.Chat gets Slack's payload coloured #0076D7 for info and #FF0000 for errors."""
    rocket = make_receiver("rocket", receiver.url + "/hooks/x")
    await rocket.send(INFO)
    await rocket.send(ALERT)
    assert [r.json()["attachments"][0]["color"] for r in receiver.requests] == ["#0076D7", "#FF0000"]


async def test_msteams_message_card(receiver: Recorder) -> None:
    """Teams gets a MessageCard with the facts, red theme for errors."""
    await make_receiver("msteams", receiver.url + "/webhookb2/x").send(ALERT)
    assert receiver.requests[0].json() == {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": "FF0000",
        "summary": "podinfo.test",
        "sections": [
            {
                "activityTitle": ALERT.message,
                "activitySubtitle": "podinfo.test",
                "facts": [
                    {"name": "Cluster", "value": "prod-eu"},
                    {"name": "Target", "value": "Deployment/podinfo.test"},
                ],
            }
        ],
    }


async def test_gchat_card_escapes_html_like_go(receiver: Recorder) -> None:
    """Google Chat gets Flagger's card; on the wire < and > are escaped as Go's encoder does."""
    await make_receiver("gchat", receiver.url + "/v1/spaces/x").send(ALERT)
    req = receiver.requests[0]
    assert b"\\u003cfont color=#848484\\u003e" in req.body
    card = req.json()["cards"][0]
    assert card["header"] == {
        "title": "Flagger",
        "subtitle": "podinfo.test",
        "imageUrl": "https://flagger.app/favicon.png",
    }
    texts = [s["widgets"][0]["textParagraph"]["text"] for s in card["sections"]]
    assert texts == [
        f"<font color=#848484><strong>{ALERT.message}</strong></font>",
        "Cluster<br><font color=#848484><strong>prod-eu</strong></font>",
        "Target<br><font color=#848484><strong>Deployment/podinfo.test</strong></font>",
    ]


async def test_generic_webhook_carries_every_fact(receiver: Recorder) -> None:
    """The generic webhook gets canary, namespace, phase, severity, message, fields and an RFC 3339 timestamp."""
    hook = make_receiver("webhook", receiver.url + "/alerts")
    hook.clock = lambda: dt.datetime(2026, 11, 22, 12, 0, 5, tzinfo=dt.UTC)
    await hook.send(ALERT)
    assert receiver.requests[0].json() == {
        "canary": "podinfo",
        "namespace": "test",
        "phase": "Failed",
        "severity": "error",
        "message": ALERT.message,
        "fields": {"Cluster": "prod-eu", "Target": "Deployment/podinfo.test"},
        "timestamp": "2026-11-22T12:00:05Z",
    }


async def test_refusal_is_an_error_without_the_secret_url(receiver: Recorder) -> None:
    """A 500 from the receiver is a NotifyError with the status and body, naming only scheme and host."""
    receiver.status = 500
    with pytest.raises(NotifyError) as caught:
        await make_receiver("slack", receiver.url + "/services/T000/B000/SECRET").send(INFO)
    message = str(caught.value)
    assert "bad response 500: receiver says no" in message
    assert "SECRET" not in message
    assert message.startswith(f"sending notification to {receiver.url} ")


async def test_a_slow_receiver_times_out_after_five_seconds(receiver: Recorder) -> None:
    """A receiver that takes longer than 5 s is given up on with a timeout error."""
    receiver.delay = 6.5
    with pytest.raises(NotifyError, match=r"timed out after 5s"):
        await make_receiver("msteams", receiver.url + "/x").send(INFO)


def test_bad_configuration_is_refused_with_flaggers_words() -> None:
    """Unknown types, malformed URLs and empty chat channels are refused, never echoing the URL."""
    with pytest.raises(InvalidSpecError, match="provider pagerduty not supported"):
        make_receiver("pagerduty", "https://example.invalid/x")
    with pytest.raises(InvalidSpecError) as caught:
        make_receiver("slack", "hooks.slack.invalid/T0/SECRET")
    assert str(caught.value) == "invalid Slack hook URL"
    with pytest.raises(InvalidSpecError, match="empty Rocket channel"):
        make_receiver("rocket", "https://chat.invalid/hooks/x", channel="")


async def test_alertmanager_lists_the_alert_with_routable_labels(alertmanager: str) -> None:
    """A real Alertmanager accepts the alert and lists it with alertname, canary, namespace and severity labels."""
    canary = f"podinfo-{uuid.uuid4().hex[:6]}"
    alert = Alert(
        canary,
        "test",
        "Canary promotion is waiting for approval.",
        severity="warn",
        fields=(Field("Target", f"Deployment/{canary}.test"),),
        phase="WaitingPromotion",
    )
    await make_receiver("alertmanager", alertmanager).send(alert)
    async with httpx2.AsyncClient(timeout=5) as http:
        listed = (await http.get(f"{alertmanager}/api/v2/alerts", params={"filter": f'canary="{canary}"'})).json()
    assert len(listed) == 1
    labels = listed[0]["labels"]
    assert {k: labels[k] for k in ("alertname", "canary", "namespace", "severity", "phase")} == {
        "alertname": "CanaryRelease",
        "canary": canary,
        "namespace": "test",
        "severity": "warn",
        "phase": "WaitingPromotion",
    }
    assert listed[0]["annotations"]["message"] == "Canary promotion is waiting for approval."
    assert listed[0]["annotations"]["Target"] == f"Deployment/{canary}.test"
    assert listed[0]["status"]["state"] == "active"
