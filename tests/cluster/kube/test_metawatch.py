"""The metadata-only watch on a real API server: it lists nothing, receives no Secret data, names every change
from the moment it starts, and outlives a refusal (403). (An expired resourceVersion, which this API server does
not produce on demand, is tested against a scripted one in tests/integration/kube/test_metawatch.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding
from lightkube.types import PatchType

from serinus.kube.client import load_config
from serinus.kube.metawatch import Change, MetadataWatch, collection_path
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import until
from tests.fields import present


@pytest.fixture
async def namespace(cluster: Cluster) -> AsyncIterator[tuple[AsyncClient, str]]:
    """A namespace of the test's own, with 20 Secrets of 64 KiB that exist before any watch starts."""
    ns = f"metawatch-{uuid.uuid4().hex[:6]}"
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=ns)
    await client.create(Namespace(metadata=ObjectMeta(name=ns)))
    for i in range(20):
        await client.create(Secret(metadata=ObjectMeta(name=f"old-{i}"), stringData={"blob": "x" * 65536}))
    try:
        yield client, ns
    finally:
        await client.close()


class Collector:
    """Runs `watch.changes()` in a task and keeps what it reports."""

    def __init__(self, watch: MetadataWatch, since: str | None = None) -> None:
        self.seen: list[Change] = []
        self.streams = 0
        self.task = asyncio.ensure_future(self._run(watch, since))

    def _streamed(self) -> None:
        self.streams += 1

    async def _run(self, watch: MetadataWatch, since: str | None) -> None:
        async for change in watch.changes(on_stream=self._streamed, since=since):
            self.seen.append(change)

    async def close(self) -> None:
        """Stop the watch."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_only_changes_from_now_are_named_and_no_data_arrives(
    cluster: Cluster, namespace: tuple[AsyncClient, str]
) -> None:
    """The 20 Secrets already there are not reported; an edit, a creation and a deletion are, in order, by name;
    what the API server sends is PartialObjectMetadata, without the Secret's data."""
    client, ns = namespace
    watch = MetadataWatch.connect(load_config(str(cluster.kubeconfig)), collection_path("secrets", ns))
    collector = Collector(watch)
    try:
        await until(lambda: collector.streams == 1, 10, "the watch is established")
        await client.patch(Secret, "old-3", {"stringData": {"blob": "y"}}, patch_type=PatchType.MERGE)
        await client.create(Secret(metadata=ObjectMeta(name="new"), stringData={"k": "v"}))
        await client.delete(Secret, "old-5")
        expected = [Change("MODIFIED", ns, "old-3"), Change("ADDED", ns, "new"), Change("DELETED", ns, "old-5")]
        await until(lambda: len(collector.seen) >= 3, 10, "three changes reported")
        assert collector.seen == expected

        version = await watch.current_version()
        await client.patch(Secret, "new", {"stringData": {"k": "w"}}, patch_type=PatchType.MERGE)
        async for kind, obj in watch.events(version):
            assert kind == "MODIFIED"
            assert obj["kind"] == "PartialObjectMetadata"
            assert obj["metadata"]["name"] == "new"
            assert "data" not in obj
            assert "stringData" not in obj
            break
    finally:
        await collector.close()
        await watch.aclose()


async def test_a_refused_watch_retries_until_a_role_allows_it(
    cluster: Cluster, namespace: tuple[AsyncClient, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A ServiceAccount without a Role is refused (HTTP 403, logged as such) and the watch keeps retrying; once a
    Role lets it list and watch Secrets in the namespace, it is established and reports changes."""
    client, ns = namespace
    await client.create(ServiceAccount(metadata=ObjectMeta(name="watcher")))
    token = await client.create(
        ServiceAccount.Token(metadata=ObjectMeta(name="watcher"), spec=TokenRequestSpec(audiences=[])),
        "watcher",
    )
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "watcher", "user": {"token": present(token.status).token}}]
    config["contexts"][0]["context"]["user"] = "watcher"
    path = cluster.plane.workdir / f"watcher-{ns}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    caplog.set_level(logging.WARNING, logger="serinus.kube.metawatch")
    watch = MetadataWatch.connect(load_config(str(path)), collection_path("secrets", ns), backoffs_s=(0.2,))
    collector = Collector(watch)
    try:
        await until(lambda: "HTTP 403" in caplog.text, 10, "the refusal is logged")
        assert not collector.task.done()
        await client.create(
            Role(
                metadata=ObjectMeta(name="watch-secrets"),
                rules=[PolicyRule(apiGroups=[""], resources=["secrets"], verbs=["list", "watch"])],
            )
        )
        await client.create(
            RoleBinding(
                metadata=ObjectMeta(name="watch-secrets"),
                roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="Role", name="watch-secrets"),
                subjects=[Subject(kind="ServiceAccount", name="watcher", namespace=ns)],
            )
        )
        await until(lambda: collector.streams >= 1, 15, "the watch is established once allowed")
        await client.patch(Secret, "old-2", {"stringData": {"blob": "w"}}, patch_type=PatchType.MERGE)
        await until(lambda: Change("MODIFIED", ns, "old-2") in collector.seen, 10, "the change is reported")
    finally:
        await collector.close()
        await watch.aclose()
