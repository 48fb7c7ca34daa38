"""Payloads of every alert provider: Flagger's five (slack, discord, rocket, msteams, gchat), a generic JSON
webhook, and Prometheus Alertmanager's v2 API. Each builder is pure; `payload_for` picks one by type."""

from __future__ import annotations

import datetime as dt
from typing import Any

from serinus.notify.alert import ERROR, Alert

GCHAT_IMAGE = "https://flagger.app/favicon.png"


def slack_payload(
    alert: Alert, *, channel: str, username: str, good: str = "good", bad: str = "danger"
) -> dict[str, Any]:
    """Slack's (and Discord's and Rocket.Chat's) attachment message, as Flagger sends it."""
    return {
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": bad if alert.severity == ERROR else good,
                "author_name": alert.subject,
                "text": alert.message,
                "mrkdwn_in": ["text"],
                "fields": [{"title": f.name, "value": f.value, "short": False} for f in alert.fields],
            }
        ],
    }


def rocket_payload(alert: Alert, *, channel: str, username: str) -> dict[str, Any]:
    """Rocket.Chat: Slack's payload with Flagger's blue and red."""
    return slack_payload(alert, channel=channel, username=username, good="#0076D7", bad="#FF0000")


def msteams_payload(alert: Alert) -> dict[str, Any]:
    """A Microsoft Teams MessageCard."""
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": "FF0000" if alert.severity == ERROR else "0076D7",
        "summary": alert.subject,
        "sections": [
            {
                "activityTitle": alert.message,
                "activitySubtitle": alert.subject,
                "facts": [{"name": f.name, "value": f.value} for f in alert.fields],
            }
        ],
    }


def gchat_payload(alert: Alert) -> dict[str, Any]:
    """A Google Chat card: the message, then one section per field."""
    sections = [
        {"widgets": [{"textParagraph": {"text": f"<font color=#848484><strong>{alert.message}</strong></font>"}}]}
    ]
    sections += [
        {"widgets": [{"textParagraph": {"text": f"{f.name}<br><font color=#848484><strong>{f.value}</strong></font>"}}]}
        for f in alert.fields
    ]
    return {
        "cards": [
            {"header": {"title": "Flagger", "subtitle": alert.subject, "imageUrl": GCHAT_IMAGE}, "sections": sections}
        ]
    }


def webhook_payload(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    """Serinus's generic JSON alert: every fact a receiver needs, with no chat formatting."""
    return {
        "canary": alert.workload,
        "namespace": alert.namespace,
        "phase": alert.phase,
        "severity": alert.severity,
        "message": alert.message,
        "fields": {f.name: f.value for f in alert.fields},
        "timestamp": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def alertmanager_payload(alert: Alert, now: dt.datetime, resolve_after: dt.timedelta) -> list[dict[str, Any]]:
    """One alert for Alertmanager's `POST /api/v2/alerts`, routable by alertname, canary, namespace, severity."""
    labels = {
        "alertname": "CanaryRelease",
        "canary": alert.workload,
        "namespace": alert.namespace,
        "severity": alert.severity,
    }
    if alert.phase:
        labels["phase"] = alert.phase
    annotations = {"summary": f"{alert.subject}: {alert.message}", "message": alert.message}
    annotations.update({f.name: f.value for f in alert.fields})
    return [
        {
            "labels": labels,
            "annotations": annotations,
            "startsAt": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "endsAt": (now + resolve_after).astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
    ]
