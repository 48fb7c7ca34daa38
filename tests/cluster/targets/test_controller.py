"""The workload controller drives a real Deployment through a release: primary, configs, scaling, promotion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret
from lightkube.types import PatchType

from serinus.api import Canary as CanaryModel
from serinus.kube.resources import Canary
from serinus.targets.controller import TargetError, WorkloadController
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import until
from tests.fields import as_dict, meta, pod_spec, present


@pytest.fixture
async def release(cluster: Cluster) -> AsyncIterator[tuple[AsyncClient, str]]:
    """A namespace with a Deployment `web` using a ConfigMap and a Secret, and a Canary targeting it."""
    cluster.install_flagger_crds()
    ns = f"ctl-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=ns)
    await client.create(ConfigMap(metadata=ObjectMeta(name="web-config", namespace=ns), data={"mode": "blue"}))
    await client.create(Secret(metadata=ObjectMeta(name="web-creds", namespace=ns), stringData={"pw": "x"}))
    await client.create(
        codecs.from_dict(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "web:1",
                                    "envFrom": [
                                        {"configMapRef": {"name": "web-config"}},
                                        {"secretRef": {"name": "web-creds"}},
                                    ],
                                }
                            ]
                        },
                    },
                },
            }
        )
    )
    await client.create(
        Canary.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "service": {"port": 80},
                    "analysis": {"interval": "10s", "threshold": 2, "stepWeight": 50},
                },
            }
        )
    )
    try:
        yield client, ns
    finally:
        await client.close()


async def _controller(client: AsyncClient) -> WorkloadController:
    live = await client.get(Canary, "web")
    return WorkloadController(client, CanaryModel.model_validate(as_dict(live)))


async def test_initialize_scale_and_promote(release: tuple[AsyncClient, str]) -> None:
    """Initialization creates a Ready primary with -primary config copies; the target scales to zero and back;
    promotion rolls the primary to the new image and the new config."""
    client, _ = release
    ctl = await _controller(client)
    await ctl.initialize()

    async def primary_ready() -> bool:
        return (await ctl.primary_readiness()).ready

    await until(primary_ready, 60, "primary ready")
    primary = await client.get(Deployment, "web-primary")
    container = pod_spec(primary).containers[0]
    assert [e.configMapRef.name for e in present(container.envFrom) if e.configMapRef] == ["web-config-primary"]
    assert [e.secretRef.name for e in present(container.envFrom) if e.secretRef] == ["web-creds-primary"]
    assert (await client.get(ConfigMap, "web-config-primary")).data == {"mode": "blue"}
    assert present(meta(primary).ownerReferences)[0].kind == "Canary"
    assert set(await ctl.tracked()) == {"configmap/web-config", "secret/web-creds"}

    await ctl.scale_to_zero()
    assert (await client.get(Deployment, "web")).spec.replicas == 0

    await client.patch(
        Deployment,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}},
        patch_type=PatchType.STRATEGIC,
    )
    await client.patch(ConfigMap, "web-config", {"data": {"mode": "green"}}, patch_type=PatchType.MERGE)
    await ctl.scale_from_zero()
    assert (await client.get(Deployment, "web")).spec.replicas == 2

    async def canary_ready() -> bool:
        return (await ctl.canary_readiness()).ready

    await until(canary_ready, 60, "canary ready after scale-up")
    await ctl.promote()
    not_yet = await ctl.primary_readiness()
    assert not not_yet.ready
    assert not_yet.message.startswith(f"web-primary.{ctl.namespace} not ready: waiting for rollout to finish")
    await until(primary_ready, 60, "promoted primary rolled out")
    promoted = await client.get(Deployment, "web-primary")
    assert pod_spec(promoted).containers[0].image == "web:2"
    assert (await client.get(ConfigMap, "web-config-primary")).data == {"mode": "green"}


async def test_missing_target_is_a_clear_error(release: tuple[AsyncClient, str]) -> None:
    """A Canary whose target is gone gets an error naming the Deployment."""
    client, ns = release
    ctl = await _controller(client)
    await client.delete(Deployment, "web")
    with pytest.raises(TargetError, match=f"deployment web.{ns} get query error: "):
        await ctl.initialize()
