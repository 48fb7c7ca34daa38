"""`serinus run` drives a real release on the real control plane: initialization, then a blue/green promotion of
an image change with the `kubernetes` provider, with Flagger's status, Services and event texts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace, Service

from serinus.kube.resources import Canary
from tests.cluster.controlplane import ROOT, Cluster, free_port
from tests.cluster.waiting import wait_for


def _deployment(ns: str, image: str) -> dict[str, Any]:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": image,
                                                           "ports": [{"containerPort": 8080}]}]}}}}


@pytest.fixture
def operator(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Client, str, Path]]:
    """A namespace and `serinus run` watching it (kubernetes provider), stopped after the test."""
    cluster.install_flagger_crds()
    ns = f"rel-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    log = tmp_path / "operator.log"
    args = [sys.executable, "-m", "serinus.cli", "run", f"--kubeconfig={cluster.kubeconfig}", f"--namespace={ns}",
            "--mesh-provider=kubernetes", f"--metrics-server=http://127.0.0.1:{free_port()}",
            f"--port={free_port()}", "--listen-address=127.0.0.1", "--log-level=debug"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        yield cluster.client(namespace=ns), ns, log
    finally:
        proc.terminate()
        proc.wait(30)


def _phase(client: Client) -> str:
    return str((client.get(Canary, "web").status or {}).get("phase") or "")


def _events(client: Client) -> list[str]:
    listed = client.list(Event, fields={"involvedObject.name": "web", "involvedObject.kind": "Canary"})
    ordered = sorted(listed, key=lambda e: (e.firstTimestamp or e.metadata.creationTimestamp, e.metadata.name))
    return [e.message or "" for e in ordered]


def test_initializes_then_promotes_an_image_change(operator: tuple[Client, str, Path]) -> None:
    """The operator creates web-primary and the three Services, scales web to zero, reports Initialized; after an
    image change it runs two blue/green iterations, copies the new image to web-primary and ends Succeeded."""
    client, ns, log = operator
    client.create(codecs.from_dict(_deployment(ns, "ghcr.io/example/web:1.0")))
    client.create(Canary.from_dict({
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": {"name": "web", "namespace": ns},
        "spec": {"provider": "kubernetes",
                 "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "service": {"port": 80, "targetPort": 8080},
                 "analysis": {"interval": "10s", "threshold": 2, "iterations": 2}}}))

    wait_for(lambda: _phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    primary = client.get(Deployment, "web-primary")
    assert primary.spec.template.spec.containers[0].image == "ghcr.io/example/web:1.0"
    assert primary.spec.selector.matchLabels == {"app": "web-primary"}
    assert client.get(Deployment, "web").spec.replicas == 0
    assert client.get(Service, "web").spec.selector == {"app": "web-primary"}
    assert client.get(Service, "web-primary").spec.selector == {"app": "web-primary"}
    assert client.get(Service, "web-canary").spec.selector == {"app": "web"}
    status = client.get(Canary, "web").status
    assert status["conditions"][0]["type"] == "Promoted"
    assert status["conditions"][0]["status"] == "True"
    assert status["lastAppliedSpec"]
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
    wait_for(lambda: f"Initialization done! web.{ns}" in _events(client), "the Initialization event", timeout=20)

    client.patch(Deployment, "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "ghcr.io/example/web:2.0"}]}}}})
    wait_for(lambda: _phase(client) == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)

    promoted = client.get(Deployment, "web-primary")
    assert promoted.spec.template.spec.containers[0].image == "ghcr.io/example/web:2.0"
    assert "flagger-id" in (promoted.spec.template.metadata.annotations or {})
    assert client.get(Deployment, "web").spec.replicas == 0
    events = _events(client)
    expected = [f"New revision detected! Scaling up web.{ns}", f"Starting canary analysis for web.{ns}",
                f"Advance web.{ns} canary iteration 1/2", f"Advance web.{ns} canary iteration 2/2",
                f"Copying web.{ns} template spec to web-primary.{ns}", f"Promotion completed! Scaling down web.{ns}"]
    positions = [events.index(text) for text in expected]
    assert positions == sorted(positions), events
    status = client.get(Canary, "web").status
    assert status["lastPromotedSpec"] == status["lastAppliedSpec"]
    assert status["conditions"][0]["reason"] == "Succeeded"
