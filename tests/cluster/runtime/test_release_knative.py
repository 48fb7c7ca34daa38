"""`serinus run` releasing a Knative Service with the knative provider, against Knative Serving's CRDs.

Knative's own controller cannot run here (it needs pods that serve), so the test plays its part in a thread, as
Knative does it: every new generation of the Service gets a Revision `<name>-0000N` that turns Ready, the Service's
status names it as the latest created revision, and `status.traffic` reports `spec.traffic` once applied."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from serinus.targets.knative import KnativeService, Revision
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import install_knative
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import as_dict

pytestmark = pytest.mark.cluster


def _knative_controller(client: Client, name: str, stop: threading.Event) -> None:
    """Knative's controller, reduced to what a release needs: a new template is a new revision (a traffic change
    is not)."""
    templates: list[Any] = []
    while not stop.wait(0.3):
        try:
            service = as_dict(client.get(KnativeService, name))
        except ApiError:
            continue
        generation = service["metadata"]["generation"]
        if not templates or templates[-1] != service["spec"]["template"]:
            templates.append(service["spec"]["template"])
        latest = f"{name}-{len(templates):05d}"
        try:
            client.get(Revision, latest)
        except ApiError:
            client.create(
                Revision.from_dict(
                    {
                        "apiVersion": "serving.knative.dev/v1",
                        "kind": "Revision",
                        "metadata": {
                            "name": latest,
                            "namespace": service["metadata"]["namespace"],
                            "labels": {"serving.knative.dev/service": name},
                        },
                        "spec": {"containers": service["spec"]["template"]["spec"]["containers"]},
                    }
                )
            )
            client.patch(
                Revision.Status,
                latest,
                {
                    "status": {
                        "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}
                        ]
                    }
                },
                patch_type=PatchType.MERGE,
            )
        traffic = [
            {**t, "revisionName": t.get("revisionName") or latest}
            for t in service["spec"].get("traffic") or [{"latestRevision": True, "percent": 100}]
        ]
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "latestCreatedRevisionName": latest,
            "latestReadyRevisionName": latest,
            "traffic": traffic,
        }
        if {k: service.get("status", {}).get(k) for k in status} != status:
            client.patch(KnativeService.Status, name, {"status": status}, patch_type=PatchType.MERGE)


@pytest.fixture
def knative(cluster: Cluster) -> Iterator[tuple[Client, str]]:
    """Knative's CRDs, our CRDs, a namespace with the Service `web` and Knative's controller stand-in."""
    install_knative(cluster)
    cluster.install_serinus_crds()
    ns = f"kn-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    client.create(
        KnativeService.from_dict(
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/example/web:1.0"}]}}},
            }
        )
    )
    stop = threading.Event()
    thread = threading.Thread(target=_knative_controller, args=(cluster.client(namespace=ns), "web", stop), daemon=True)
    thread.start()
    try:
        yield client, ns
    finally:
        stop.set()
        thread.join(5)


def test_knative_release_moves_traffic_between_revisions(
    knative: tuple[Client, str], cluster: Cluster, tmp_path: Path
) -> None:
    """The first revision is pinned as primary with all traffic; a new template becomes revision 2, which gets
    50 % then 100 % of the traffic and is promoted to primary."""
    client, ns = knative
    client.create(
        op.canary(
            ns,
            provider="knative",
            targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "web"},
            analysis={"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100},
        )
    )

    def split() -> tuple[str, int, int]:
        service = as_dict(client.get(KnativeService, "web"))
        traffic = service["spec"].get("traffic") or []
        latest = next(t["percent"] for t in traffic if t.get("latestRevision"))
        pinned = next(t for t in traffic if not t.get("latestRevision"))
        return pinned["revisionName"], pinned["percent"], latest

    sample, seen = op.tracking(split)
    log = tmp_path / "operator.log"
    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        sample()
        annotations = as_dict(client.get(KnativeService, "web"))["metadata"]["annotations"]
        assert annotations["flagger.app/primary-revision"] == "web-00001"
        client.patch(
            KnativeService,
            "web",
            {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/example/web:2.0"}]}}}},
            patch_type=PatchType.MERGE,
        )
        wait_for(lambda: (sample(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
        sample()
    assert seen[:3] == [("web-00001", 100, 0), ("web-00001", 50, 50), ("web-00001", 0, 100)]
    assert seen[-1] == ("web-00002", 100, 0)
    annotations = as_dict(client.get(KnativeService, "web"))["metadata"]["annotations"]
    assert annotations["flagger.app/primary-revision"] == "web-00002"
