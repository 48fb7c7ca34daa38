"""Events on a real apiserver look like Flagger's and aggregate repeats like client-go's recorder."""

from __future__ import annotations

import logging
import uuid

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Event

from serinus.kube.events import EventRecorder, InvolvedObject
from tests.cluster.controlplane import Cluster
from tests.fields import present


def _canary(name: str) -> InvolvedObject:
    return InvolvedObject("flagger.app/v1beta1", "Canary", "default", name, uid=str(uuid.uuid4()))


async def _events_for(client: AsyncClient, name: str) -> list[Event]:
    return [e async for e in client.list(Event, namespace="default", fields={"involvedObject.name": name})]


async def test_event_has_flaggers_shape(cluster: Cluster) -> None:
    """An event names the Canary, has reason Synced, source component flagger, type and message as given."""
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig))
    canary = _canary(f"podinfo-{uuid.uuid4().hex[:6]}")
    await EventRecorder(client).record(canary, "Normal", "Initialization done! podinfo.default")
    [event] = await _events_for(client, canary.name)
    assert event.involvedObject.kind == "Canary"
    assert event.involvedObject.apiVersion == "flagger.app/v1beta1"
    assert event.involvedObject.uid == canary.uid
    assert (event.type, event.reason, event.message) == ("Normal", "Synced", "Initialization done! podinfo.default")
    assert present(event.source).component == "flagger"
    assert event.count == 1
    await client.close()


async def test_repeated_event_increments_count(cluster: Cluster) -> None:
    """The same message three times is one Event with count 3; a different message is a second Event."""
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig))
    canary = _canary(f"podinfo-{uuid.uuid4().hex[:6]}")
    recorder = EventRecorder(client)
    for _ in range(3):
        await recorder.record(canary, "Warning", "Halt advancement no values found for metric request-success-rate")
    await recorder.record(canary, "Normal", "Advance podinfo.default canary weight 10")
    events = {e.message: e for e in await _events_for(client, canary.name)}
    assert len(events) == 2
    halt = events["Halt advancement no values found for metric request-success-rate"]
    assert (halt.type, halt.count) == ("Warning", 3)
    assert events["Advance podinfo.default canary weight 10"].count == 1
    await client.close()


async def test_a_failing_write_is_logged_not_raised(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    """Recording into a namespace that does not exist logs a warning and does not raise."""
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig))
    ghost = InvolvedObject("flagger.app/v1beta1", "Canary", "no-such-namespace", "podinfo")
    with caplog.at_level(logging.WARNING, logger="serinus.kube.events"):
        await EventRecorder(client).record(ghost, "Normal", "hello")
    assert "could not record event on no-such-namespace/podinfo" in caplog.text
    await client.close()
