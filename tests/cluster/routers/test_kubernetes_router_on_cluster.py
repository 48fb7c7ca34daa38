"""On a real cluster the generated Services route: apex and -primary to primary pods, -canary to the target's."""

from __future__ import annotations

import uuid

from lightkube import AsyncClient, Client, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from serinus.kube.resources import Canary
from serinus.routers.kubernetes import KubernetesRouter, new_service, reconciled_service, three_services
from serinus.targets.primary import new_primary
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import wait_for
from tests.fields import meta, present


def _endpoint_pods(client: Client, service: str) -> set[str]:
    pods: set[str] = set()
    for slice_ in client.list(EndpointSlice, labels={"kubernetes.io/service-name": service}):
        for ep in slice_.endpoints or []:
            if ep.conditions and ep.conditions.ready and ep.targetRef:
                pods.add(present(ep.targetRef.name))
    return pods


def test_services_select_the_right_pods(cluster: Cluster) -> None:
    """EndpointSlices of apex and -primary list only primary pods; -canary lists only the target's pods."""
    ns = f"router-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    target = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}]},
            },
        },
    }
    client.create(codecs.from_dict(target))
    ns_uid = meta(cluster.client().get(Namespace, ns)).uid
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": ns, "uid": ns_uid}
    client.create(
        codecs.from_dict(
            new_primary(target, label="app", selector_labels=["app"], include_label_prefixes=[], owner=owner)
        )
    )
    canary = {
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"targetRef": {"name": "web"}, "service": {"port": 80, "targetPort": 8080}},
    }
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


async def test_router_adopts_a_user_service_and_reverts_it(cluster: Cluster) -> None:
    """A user's own apex Service is switched to the primary's pods, keeps its metadata, and gets its selector back
    on finalize; the -canary/-primary Services are created owned by the Canary."""
    ns = f"adopt-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=ns)
    try:
        user_svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns, "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        }
        await client.create(codecs.from_dict(user_svc))
        # A real Canary, so that the garbage collector keeps what it owns.
        cluster.install_flagger_crds()
        created = await client.create(
            Canary.from_dict(
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "metadata": {"name": "web", "namespace": ns},
                    "spec": {
                        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                        "service": {"port": 80, "targetPort": 8080},
                        "analysis": {"interval": "10s", "threshold": 1, "iterations": 2},
                    },
                }
            )
        )
        canary = created.to_dict()
        router = KubernetesRouter(client, canary, "app", "web")
        await router.initialize()
        await router.reconcile()
        apex = await client.get(Service, "web")
        assert present(apex.spec).selector == {"app": "web-primary"}
        assert meta(apex).labels == {"team": "a"}
        assert present(meta(apex).annotations)["kustomize.toolkit.fluxcd.io/reconcile"] == "disabled"
        primary = await client.get(Service, "web-primary")
        assert present(meta(primary).ownerReferences)[0].name == "web"
        assert present((await client.get(Service, "web-canary")).spec).selector == {"app": "web"}
        await router.reconcile()  # idempotent
        await router.finalize()
        assert present((await client.get(Service, "web")).spec).selector == {"app": "web"}
    finally:
        await client.close()
