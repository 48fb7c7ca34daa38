"""On a real cluster the generated Services route: apex and -primary to primary pods, -canary to the target's."""

from __future__ import annotations

import uuid

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from serinus.routers.kubernetes import new_service, reconciled_service, three_services
from serinus.targets.primary import new_primary
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import wait_for


def _endpoint_pods(client: Client, service: str) -> set[str]:
    pods: set[str] = set()
    for slice_ in client.list(EndpointSlice, labels={"kubernetes.io/service-name": service}):
        for ep in slice_.endpoints or []:
            if ep.conditions and ep.conditions.ready and ep.targetRef:
                pods.add(ep.targetRef.name)
    return pods


def test_services_select_the_right_pods(cluster: Cluster) -> None:
    """EndpointSlices of apex and -primary list only primary pods; -canary lists only the target's pods."""
    ns = f"router-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    target = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "web:1",
                                                       "ports": [{"containerPort": 8080}]}]}}},
    }
    client.create(codecs.from_dict(target))
    ns_uid = cluster.client().get(Namespace, ns).metadata.uid
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": ns, "uid": ns_uid}
    client.create(codecs.from_dict(new_primary(target, label="app", selector_labels=["app"],
                                                          include_label_prefixes=[], owner=owner)))
    canary = {"metadata": {"name": "web", "namespace": ns},
              "spec": {"targetRef": {"name": "web"}, "service": {"port": 80, "targetPort": 8080}}}
    for name, spec, (labels, annots) in three_services(canary, "app", "web", None):
        client.create(codecs.from_dict(new_service(name, ns, spec, labels, annots, owner)))

    def routed(service: str, prefix: str) -> set[str] | None:
        pods = _endpoint_pods(client, service)
        return pods if len(pods) == 2 and all(p.startswith(prefix) for p in pods) else None

    wait_for(lambda: routed("web", "web-primary-"), "apex web -> 2 primary pods", timeout=60)
    wait_for(lambda: routed("web-primary", "web-primary-"), "web-primary -> 2 primary pods", timeout=60)
    canary_pods = wait_for(lambda: routed("web-canary", "web-"), "web-canary -> 2 target pods", timeout=60)
    assert not any(p.startswith("web-primary-") for p in canary_pods)

    # Reconciling the live apex Service against the same desired state writes nothing.
    live = client.get(Service, "web").to_dict()
    _, spec, (labels, annots) = list(three_services(canary, "app", "web", None))[2]
    assert reconciled_service(live, spec, labels, annots, "web") is None
