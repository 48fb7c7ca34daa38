"""Parity tier: Flagger itself (built from its Go module) initializes a Canary on the test cluster, and what
Serinus's builders produce for the same target matches what Flagger generated, field for field."""

from __future__ import annotations

import subprocess
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
from serinus.routers.kubernetes import three_services
from serinus.targets.primary import new_primary
from tests.cluster.controlplane import Cluster, free_port
from tests.cluster.waiting import wait_for
from tests.fields import as_dict

TARGET: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "team": "payments"}, "annotations": {"note": "x"}},
    "spec": {
        "replicas": 2,
        "minReadySeconds": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web", "version": "v1"}, "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {
                "containers": [{"name": "web", "image": "web:1", "ports": [{"name": "http", "containerPort": 8080}]}]
            },
        },
    },
}


@pytest.fixture
def flagger(cluster: Cluster) -> Iterator[tuple[Client, str]]:
    """Flagger watching a namespace of the test's own, with the kubernetes provider; stopped by PID."""
    binary = Path(cluster.plane.bin_dir) / "flagger"
    if not binary.exists():
        pytest.fail(f"flagger was not built ({binary}); scripts/build-test-binaries builds it")
    cluster.install_flagger_crds()
    ns = f"parity-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    log = (cluster.plane.workdir / "logs" / f"flagger-{ns}.log").open("wb")
    proc = subprocess.Popen(
        [
            str(binary),
            f"-kubeconfig={cluster.kubeconfig}",
            f"-namespace={ns}",
            "-mesh-provider=kubernetes",
            f"-metrics-server=http://127.0.0.1:{free_port()}",
            f"-port={free_port()}",
            "-log-level=info",
            "-control-loop-interval=1s",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield cluster.client(namespace=ns), ns
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_flagger_initializes_and_our_builders_agree(flagger: tuple[Client, str]) -> None:
    """Flagger creates web-primary, the three Services and Initialized status with its event; our primary and
    Service builders, given the same target, produce the same labels, selectors, ports and owner."""
    client, ns = flagger
    target = {**TARGET, "metadata": {**TARGET["metadata"], "namespace": ns}}
    client.create(codecs.from_dict(target))
    client.create(
        Canary.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "provider": "kubernetes",
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "service": {"port": 80, "targetPort": 8080},
                    "analysis": {"interval": "10s", "threshold": 2, "iterations": 2},
                },
            }
        )
    )

    def phase() -> str | None:
        # lightkube declares a generic resource's `status` a str; read the key of the dict it is.
        status: dict[str, Any] = client.get(Canary, "web").get("status") or {}
        return status.get("phase") if status.get("phase") == "Initialized" else None

    wait_for(phase, "Flagger to initialize the Canary", timeout=90)
    canary = as_dict(client.get(Canary, "web"))
    assert canary["status"]["conditions"][0]["type"] == "Promoted"

    # Flagger's event recorder posts asynchronously, after the status write: wait for the event to appear.
    def initialized_event() -> bool:
        return f"Initialization done! web.{ns}" in [
            e.message
            for e in client.list(Event, fields={"involvedObject.name": "web"})
            if e.source and e.source.component == "flagger"
        ]

    wait_for(initialized_event, "Flagger's 'Initialization done!' event", timeout=30)
    assert client.get(Deployment, "web").spec.replicas == 0

    # The primary: compare what Flagger wrote with what our builder makes from the same target.
    flagger_primary = client.get(Deployment, "web-primary").to_dict()
    ours = new_primary(
        target,
        label="app",
        selector_labels=["app", "name", "app.kubernetes.io/name"],
        include_label_prefixes=[],
        owner=canary_owner(canary),
    )
    assert ours["metadata"]["labels"] == flagger_primary["metadata"]["labels"]
    assert ours["spec"]["selector"] == flagger_primary["spec"]["selector"]
    assert ours["spec"]["template"]["metadata"]["labels"] == flagger_primary["spec"]["template"]["metadata"]["labels"]
    assert set(ours["spec"]["template"]["metadata"]["annotations"]) == set(
        flagger_primary["spec"]["template"]["metadata"]["annotations"]
    )
    assert ours["spec"]["replicas"] == flagger_primary["spec"]["replicas"]
    assert ours["spec"]["minReadySeconds"] == flagger_primary["spec"]["minReadySeconds"]
    owner = flagger_primary["metadata"]["ownerReferences"][0]
    assert {k: owner[k] for k in ("kind", "name", "uid", "controller")} == {
        k: ours["metadata"]["ownerReferences"][0][k] for k in ("kind", "name", "uid", "controller")
    }

    # The Services.
    for name, spec, (labels, annots) in three_services(canary, "app", "web", None):
        theirs = client.get(Service, name).to_dict()
        assert theirs["spec"]["selector"] == spec["selector"], name
        assert [(p["name"], p["port"], p["targetPort"], p["protocol"]) for p in theirs["spec"]["ports"]] == [
            (p["name"], p["port"], p["targetPort"], p["protocol"]) for p in spec["ports"]
        ], name
        assert theirs["metadata"]["labels"] == labels, name
        assert theirs["metadata"].get("annotations", {}) == annots, name


def canary_owner(canary: dict[str, Any]) -> dict[str, Any]:
    """The owner reference Flagger and Serinus put on generated objects."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": canary["metadata"]["name"],
        "uid": canary["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
