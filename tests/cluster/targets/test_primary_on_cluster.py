"""A primary built from a real target is accepted by the apiserver, rolls out, and selects only its own pods."""

from __future__ import annotations

import datetime as dt
import uuid

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.core_v1 import Node, Pod

from serinus.targets.primary import new_primary, promoted_primary, selector_label
from serinus.targets.readiness import daemonset_readiness, deployment_readiness, statefulset_readiness
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import wait_for
from tests.fields import as_dict, meta, pod_spec, present


def _ready(client: Client, name: str) -> bool:
    dep = client.get(Deployment, name)
    return deployment_readiness(dep.to_dict(), 600, 100, dt.datetime.now(dt.UTC)).ready


def test_primary_rolls_out_beside_the_target_and_promotion_updates_it(cluster: Cluster) -> None:
    """The primary gets 2 Ready pods labelled app=web-primary, the target keeps its own; promotion rolls the primary."""
    ns = f"primary-{uuid.uuid4().hex[:6]}"
    admin = cluster.client()
    admin.create(NamespaceResource(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    target = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
    }
    created = client.create(codecs.from_dict(target))
    wait_for(lambda: _ready(client, "web"), "target web ready", timeout=60)

    label, _ = selector_label(as_dict(created))
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": ns, "uid": meta(admin.get(NamespaceResource, ns)).uid}
    primary = new_primary(
        as_dict(created), label=label, selector_labels=["app"], include_label_prefixes=[], owner=owner
    )
    client.create(codecs.from_dict(primary))
    wait_for(lambda: _ready(client, "web-primary"), "primary web-primary ready", timeout=60)
    assert len(list(client.list(Pod, labels={"app": "web-primary"}))) == 2
    assert len(list(client.list(Pod, labels={"app": "web"}))) == 2

    # A new revision of the target, promoted: the primary rolls to the new image and a new flagger-id.
    new_target = client.get(Deployment, "web").to_dict()
    new_target["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    current = client.get(Deployment, "web-primary").to_dict()
    old_id = current["spec"]["template"]["metadata"]["annotations"]["flagger-id"]
    client.replace(
        codecs.from_dict(
            promoted_primary(
                current,
                new_target,
                label=label,
                selector_labels=["app"],
                include_label_prefixes=[],
                has_autoscaler=False,
            )
        )
    )

    def rolled() -> bool:
        dep = client.get(Deployment, "web-primary")
        return (
            dep.status is not None
            and dep.status.observedGeneration == meta(dep).generation
            and _ready(client, "web-primary")
        )

    wait_for(rolled, "promoted primary rolled out", timeout=60)
    promoted = client.get(Deployment, "web-primary")
    assert pod_spec(promoted).containers[0].image == "web:2"
    assert present(meta(promoted.spec.template).annotations)["flagger-id"] != old_id
    images = {
        present(p.spec).containers[0].image
        for p in client.list(Pod, labels={"app": "web-primary"})
        if meta(p).deletionTimestamp is None
    }
    assert images == {"web:2"}


def test_daemonset_and_statefulset_primaries_roll_out(cluster: Cluster) -> None:
    """A DaemonSet primary runs one pod per fake node while the target is scaled to zero by node selector;
    a StatefulSet primary runs its replicas beside the target's."""
    ns = f"kinds-{uuid.uuid4().hex[:6]}"
    admin = cluster.client()
    admin.create(NamespaceResource(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": ns, "uid": meta(admin.get(NamespaceResource, ns)).uid}
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"flagger.app/scale-to-zero": "true"},
                    "containers": [{"name": "agent", "image": "agent:1"}],
                },
            },
        },
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": ns},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "db:1"}]},
            },
        },
    }
    for obj in (ds, sts):
        client.create(codecs.from_dict(obj))
        client.create(
            codecs.from_dict(
                new_primary(obj, label="app", selector_labels=["app"], include_label_prefixes=[], owner=owner)
            )
        )
    nodes = len(list(admin.list(Node)))

    def ds_ready() -> bool:
        primary = client.get(DaemonSet, "agent-primary").to_dict()
        now = dt.datetime.now(dt.UTC)
        return (
            primary.get("status", {}).get("desiredNumberScheduled") == nodes
            and daemonset_readiness(primary, 600, 100, now, now).ready
        )

    wait_for(ds_ready, "agent-primary on every node", timeout=60)
    assert (present(client.get(DaemonSet, "agent").status).desiredNumberScheduled or 0) == 0

    def sts_ready() -> bool:
        primary = client.get(StatefulSet, "db-primary").to_dict()
        now = dt.datetime.now(dt.UTC)
        return (
            statefulset_readiness(primary, 600, 100, now, now).ready
            and primary.get("status", {}).get("availableReplicas") == 2
        )

    wait_for(sts_ready, "db-primary with 2 available replicas", timeout=90)
    assert {meta(p).name for p in client.list(Pod, labels={"app": "db-primary"})} == {"db-primary-0", "db-primary-1"}
