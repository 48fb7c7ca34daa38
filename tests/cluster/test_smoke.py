"""Smoke tests of the real control plane: what a user checks first on a fresh cluster."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import urllib.request
from typing import Any

import pytest
import yaml
from lightkube import ApiError
from lightkube.core.client import LabelSelector as Selector
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

from serinus.kube.resources import Canary
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import wait_for
from tests.fields import meta, present
from tests.gomodules import flagger_example, pinned_versions


def test_apiserver_reports_the_pinned_release(cluster: Cluster) -> None:
    """GET /version answers the pinned Kubernetes release, not the v0.0.0-master placeholder."""
    want = "v" + pinned_versions()["K8S_VERSION"]
    ctx = ssl.create_default_context(cafile=str(cluster.plane.ca_file))
    req = urllib.request.Request(
        cluster.server + "/version", headers={"Authorization": f"Bearer {cluster.plane.token}"}
    )
    with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
        version = json.loads(resp.read())
    assert version["gitVersion"] == want
    assert version["minor"] == want.split(".")[1]


def test_two_fake_nodes_are_ready(cluster: Cluster) -> None:
    """Both kwok nodes exist and report Ready=True."""
    nodes = list(cluster.client().list(Node))
    ready = [
        meta(n).name
        for n in nodes
        if any(c.type == "Ready" and c.status == "True" for c in (present(n.status).conditions or []))
    ]
    assert len(ready) >= 2, [meta(n).name for n in nodes]


def test_deployment_rolls_out_on_fake_nodes(cluster: Cluster) -> None:
    """A 2-replica Deployment gets a ReplicaSet, pods bound to kwok nodes, and availableReplicas == 2."""
    cluster.ensure_namespace("smoke")
    client = cluster.client(namespace="smoke")
    labels = {"app": "web"}
    client.create(
        Deployment(
            metadata=ObjectMeta(name="web", namespace="smoke"),
            spec=DeploymentSpec(
                replicas=2,
                selector=LabelSelector(matchLabels=labels),
                template=PodTemplateSpec(
                    metadata=ObjectMeta(labels=labels),
                    spec=PodSpec(containers=[Container(name="web", image="example/web:1.0")]),
                ),
            ),
        )
    )

    def available() -> int | None:
        dep = client.get(Deployment, "web")
        return dep.status.availableReplicas if dep.status else None

    assert wait_for(available, "deployment web availableReplicas == 2", timeout=90) == 2
    # lightkube types a selector as a dict of str | Operator | ..., which a dict[str, str] is not (dict is invariant).
    selector: Selector = dict(labels)
    replicasets = list(client.list(ReplicaSet, labels=selector))
    assert len(replicasets) == 1
    assert present(meta(replicasets[0]).ownerReferences)[0].name == "web"
    pods = list(client.list(Pod, labels=selector))
    assert len(pods) == 2
    node_names = {meta(n).name for n in cluster.client().list(Node)}
    for pod in pods:
        status = present(pod.status)
        assert present(pod.spec).nodeName in node_names
        assert status.phase == "Running"
        assert any(c.type == "Ready" and c.status == "True" for c in present(status.conditions))


def test_flagger_crds_become_established(cluster: Cluster) -> None:
    """Flagger's own CRD file applies and each of its three CRDs reports Established=True."""
    names = cluster.install_flagger_crds()
    assert sorted(names) == ["alertproviders.flagger.app", "canaries.flagger.app", "metrictemplates.flagger.app"]
    client = cluster.client()
    for name in names:
        crd = client.get(CustomResourceDefinition, name)
        assert any(c.type == "Established" and c.status == "True" for c in (present(crd.status).conditions or []))


@pytest.fixture
def canary_doc(cluster: Cluster) -> dict[str, Any]:
    """Flagger's linkerd example Canary, in a fresh namespace, with the CRDs installed."""
    cluster.install_flagger_crds()
    doc: dict[str, Any] = yaml.safe_load(flagger_example("linkerd-canary").read_text())
    cluster.ensure_namespace(doc["metadata"]["namespace"])
    return doc


def test_canary_server_side_apply_and_status_update(cluster: Cluster, canary_doc: dict[str, Any]) -> None:
    """A Flagger example Canary is created by server-side apply and its status subresource accepts an update."""
    ns = canary_doc["metadata"]["namespace"]
    client = cluster.client(namespace=ns)
    applied = client.apply(Canary.from_dict(canary_doc), field_manager="serinus-tests")
    assert applied.metadata.managedFields[0].operation == "Apply"
    assert applied["spec"]["analysis"]["stepWeight"] == 5

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "phase": "Initialized",
        "canaryWeight": 0,
        "failedChecks": 0,
        "iterations": 0,
        "lastTransitionTime": now,
        "conditions": [
            {
                "type": "Promoted",
                "status": "Unknown",
                "reason": "Initialized",
                "message": "New Deployment detected, starting initialization.",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            }
        ],
    }
    client.patch(
        Canary.Status,
        "podinfo",
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": ns},
            "status": status,
        },
        patch_type=PatchType.APPLY,
        field_manager="serinus-tests",
        force=True,
    )
    got = client.get(Canary, "podinfo")
    assert got["status"]["phase"] == "Initialized"
    assert got["status"]["conditions"][0]["type"] == "Promoted"
    # The status update must not have touched the spec.
    assert got["spec"]["service"]["port"] == 80


def test_invalid_canary_is_rejected_with_422(cluster: Cluster, canary_doc: dict[str, Any]) -> None:
    """A Canary without spec.analysis is refused by the apiserver with HTTP 422 naming the field."""
    bad = json.loads(json.dumps(canary_doc))
    bad["metadata"]["name"] = "no-analysis"
    del bad["spec"]["analysis"]
    client = cluster.client(namespace=bad["metadata"]["namespace"])
    with pytest.raises(ApiError) as caught:
        client.create(Canary.from_dict(bad))
    assert caught.value.status.code == 422
    assert "spec.analysis" in present(caught.value.status.message)


def test_lease_can_be_created_and_renewed(cluster: Cluster) -> None:
    """A coordination.k8s.io/v1 Lease is created, then renewed with a newer renewTime by its holder."""
    client = cluster.client()
    # Lease times are MicroTime: the apiserver insists on the fraction, which isoformat() drops when it is zero.
    first = dt.datetime.now(dt.UTC).replace(microsecond=500_000)
    lease = client.create(
        Lease(
            metadata=ObjectMeta(name="serinus-smoke", namespace="default"),
            spec=LeaseSpec(holderIdentity="replica-a", leaseDurationSeconds=15, acquireTime=first, renewTime=first),
        )
    )
    renewed_at = first + dt.timedelta(seconds=5)
    spec = present(lease.spec)
    spec.renewTime = renewed_at
    spec.leaseTransitions = 0
    client.replace(lease)
    got = present(client.get(Lease, "serinus-smoke", namespace="default").spec)
    assert got.holderIdentity == "replica-a"
    assert got.renewTime == renewed_at
    # A stale write (old resourceVersion) must conflict: that is what makes leader election safe.
    spec.holderIdentity = "replica-b"
    with pytest.raises(ApiError) as caught:
        client.replace(lease)
    assert caught.value.status.code == 409
