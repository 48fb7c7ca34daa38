"""Watches on a real apiserver: Canaries get jobs, and a change of their target or tracked config wakes them
at once, not an interval later."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.types import PatchType

from serinus.kube.client import load_config
from serinus.kube.resources import Canary
from serinus.runtime.scheduler import Key, Scheduler
from serinus.runtime.watch import CanaryIndex, build_registry, run_watches
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import until
from tests.fields import meta


class Ticks:
    """Records every tick per Canary."""

    def __init__(self) -> None:
        self.seen: dict[Key, int] = {}

    async def __call__(self, key: Key) -> None:
        self.seen[key] = self.seen.get(key, 0) + 1


@pytest.fixture
async def operator(cluster: Cluster) -> AsyncIterator[tuple[Scheduler, CanaryIndex, Ticks, str]]:
    """Watches and a scheduler running against the cluster, in a namespace of the test's own."""
    cluster.install_flagger_crds()
    ns = f"watch-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    ticks = Ticks()
    index = CanaryIndex()
    scheduler = Scheduler(ticks, index.interval)
    stop, ready = asyncio.Event(), asyncio.Event()
    registry = build_registry(scheduler, index, load_config(str(cluster.kubeconfig)))
    task = asyncio.ensure_future(run_watches(registry, namespace=ns, stop=stop, ready=ready))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield scheduler, index, ticks, ns
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        await scheduler.close()


async def test_target_and_config_changes_wake_the_canary(
    cluster: Cluster, operator: tuple[Scheduler, CanaryIndex, Ticks, str]
) -> None:
    """With a 60-minute interval, a new pod template or a tracked ConfigMap edit still runs a tick within seconds;
    deleting the Canary stops its job; kopf leaves no annotation or finalizer on the Canary."""
    scheduler, index, ticks, ns = operator
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=ns)
    try:
        await client.create(
            codecs.from_dict(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": ns},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                        },
                    },
                }
            )
        )
        await client.create(ConfigMap(metadata=ObjectMeta(name="cfg", namespace=ns), data={"k": "1"}))
        await client.create(
            Canary.from_dict(
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "metadata": {"name": "web", "namespace": ns},
                    "spec": {
                        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                        "service": {"port": 80},
                        "analysis": {"interval": "60m", "threshold": 5, "stepWeight": 10},
                    },
                }
            )
        )
        key = (ns, "web")
        await until(lambda: ticks.seen.get(key, 0) == 1, 10, "first tick of a new Canary")
        # Changes made before a watch has listed would be part of its listing, not events: wait for the streams.
        await until(lambda: {"Deployment", "configmap"} <= index.streaming, 15, "workload and config watches")
        assert index.interval(key) == 3600

        await client.patch(
            Deployment,
            "web",
            {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}},
            patch_type=PatchType.MERGE,
        )
        await until(lambda: ticks.seen.get(key, 0) == 2, 5, "tick after a new pod template")

        await client.patch(
            Canary.Status, "web", {"status": {"trackedConfigs": {"configmap/cfg": "abc"}}}, patch_type=PatchType.MERGE
        )
        await until(lambda: "configmap/cfg" in index.configs.get(key, set()), 5, "tracked configs indexed")
        seen = ticks.seen[key]
        await client.patch(ConfigMap, "cfg", {"data": {"k": "2"}}, patch_type=PatchType.MERGE)
        await until(lambda: ticks.seen.get(key, 0) == seen + 1, 5, "tick after a tracked ConfigMap change")

        canary = await client.get(Canary, "web")
        assert not meta(canary).finalizers
        assert not [k for k in (meta(canary).annotations or {}) if "kopf" in k]

        await client.delete(Canary, "web")
        await until(lambda: key not in scheduler.keys, 5, "job stopped after the Canary was deleted")
    finally:
        await client.close()
