"""The operator's notifier: the global receiver gets alerts of Canaries without alert routes; a failing receiver
is logged and counted, and never raises into the analysis."""

from __future__ import annotations

import logging

import pytest

from serinus.api import Canary
from serinus.engine.notices import notice
from serinus.notify.receivers import make_receiver
from serinus.runtime.adapters import ClusterNotifier
from serinus.runtime.metrics import ControllerMetrics
from tests.integration.receivers import Recorder

pytestmark = pytest.mark.integration

CANARY = Canary.model_validate(
    {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50},
        },
    }
)


def _count(metrics: ControllerMetrics, result: str) -> float:
    return metrics.registry.get_sample_value("serinus_alerts_total", {"type": "slack", "result": result}) or 0.0


async def test_global_slack_receiver_gets_the_alert_with_cluster_and_metadata(receiver: Recorder) -> None:
    """No analysis.alerts: the --slack-url receiver gets Flagger's message, with the Cluster field first."""
    metrics = ControllerMetrics()
    notifier = ClusterNotifier(None, make_receiver("slack", f"{receiver.url}/hook", channel="releases"), metrics)
    await notifier.alert(
        CANARY,
        notice(
            CANARY, "New revision detected, progressing canary analysis.", "info", metadata=True, cluster_name="prod-eu"
        ),
    )
    body = receiver.requests[0].json()
    assert body["channel"] == "releases"
    attachment = body["attachments"][0]
    assert attachment["text"] == "New revision detected, progressing canary analysis."
    assert [f["title"] for f in attachment["fields"]] == [
        "Cluster",
        "Target",
        "Failed checks threshold",
        "Progress deadline",
        "Traffic routing",
    ]
    assert attachment["fields"][-1]["value"] == "Weight step: 10 max: 50"
    assert _count(metrics, "sent") == 1


async def test_a_failing_receiver_is_logged_and_counted(receiver: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    """A receiver answering 500: no exception reaches the engine, an error is logged, the failure is counted."""
    receiver.status = 500
    metrics = ControllerMetrics()
    notifier = ClusterNotifier(None, make_receiver("slack", f"{receiver.url}/hook"), metrics)
    with caplog.at_level(logging.ERROR):
        await notifier.alert(CANARY, notice(CANARY, "Failed checks threshold reached 5", "error"))
    assert _count(metrics, "failed") == 1
    assert _count(metrics, "sent") == 0
    assert any("send error" in r.getMessage() and r.__dict__.get("canary") == "podinfo.test" for r in caplog.records)
