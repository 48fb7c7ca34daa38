"""Leader election on a real apiserver: one leader at a time, fast hand-over, and loss detected."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.coordination_v1 import Lease

from serinus.kube.leader import LeaderElector, LeadershipLost
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import until
from tests.fields import present


def _client(cluster: Cluster) -> AsyncClient:
    return AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace="default")


def _elector(
    client: AsyncClient,
    name: str,
    identity: str,
    *,
    lease_duration: float = 3.0,
    renew_deadline: float = 2.0,
    retry_period: float = 0.3,
    release_on_cancel: bool = True,
) -> LeaderElector:
    return LeaderElector(
        client,
        namespace="default",
        name=name,
        identity=identity,
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        release_on_cancel=release_on_cancel,
    )


async def test_only_one_replica_leads_and_release_hands_over_at_once(cluster: Cluster) -> None:
    """Of two replicas only one runs its work; when it stops, the other leads without waiting for expiry."""
    name = f"lead-{uuid.uuid4().hex[:6]}"
    client = _client(cluster)
    running: list[str] = []

    def work(who: str) -> Callable[[], Awaitable[None]]:
        async def lead() -> None:
            running.append(who)
            await asyncio.Event().wait()

        return lead

    a = _elector(client, name, "replica-a", lease_duration=30.0, renew_deadline=5.0, retry_period=0.3)
    b = _elector(client, name, "replica-b", lease_duration=30.0, renew_deadline=5.0, retry_period=0.3)
    task_a = asyncio.ensure_future(a.run(work("a")))
    await until(lambda: running == ["a"], 10, "replica a leads")
    task_b = asyncio.ensure_future(b.run(work("b")))
    await asyncio.sleep(1.5)
    assert running == ["a"], "a second replica started work while the first held the Lease"
    spec = present((await client.get(Lease, name)).spec)
    assert spec.holderIdentity == "replica-a"
    assert spec.leaseDurationSeconds == 30

    task_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task_a
    # The Lease lasts 30 s, so a hand-over within 3 s proves the release, not expiry.
    await until(lambda: running == ["a", "b"], 3.0, "replica b leads after the release")
    spec = present((await client.get(Lease, name)).spec)
    assert spec.holderIdentity == "replica-b"
    assert spec.leaseTransitions == 1
    task_b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task_b
    await client.close()


async def test_crashed_leader_is_replaced_after_the_lease_expires(cluster: Cluster) -> None:
    """A leader that vanishes without releasing is replaced once leaseDurationSeconds has passed, not before."""
    name = f"crash-{uuid.uuid4().hex[:6]}"
    client = _client(cluster)
    crashed = _elector(client, name, "replica-crashed", release_on_cancel=False)
    started = asyncio.Event()

    async def lead() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(crashed.run(lead))
    await started.wait()
    task.cancel()  # like a killed process: no release
    with pytest.raises(asyncio.CancelledError):
        await task

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    took_over = asyncio.Event()

    async def lead2() -> None:
        took_over.set()
        await asyncio.Event().wait()

    follower = _elector(client, name, "replica-follower")
    task2 = asyncio.ensure_future(follower.run(lead2))
    await asyncio.wait_for(took_over.wait(), 10)
    waited = loop.time() - t0
    assert 1.5 <= waited <= 6.0, f"follower took over after {waited:.1f}s; the Lease lasts 3 s"
    task2.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task2
    await client.close()


async def test_leader_that_loses_its_lease_stops_working(cluster: Cluster) -> None:
    """When another writer takes the Lease, the leader cancels its work and raises LeadershipLost."""
    name = f"lost-{uuid.uuid4().hex[:6]}"
    client = _client(cluster)
    elector = _elector(client, name, "replica-a")
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def lead() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    task = asyncio.ensure_future(elector.run(lead))
    await started.wait()
    lease = await client.get(Lease, name)
    present(lease.spec).holderIdentity = "usurper"
    await client.replace(lease)
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(task, 10)
    assert cancelled.is_set()
    assert present((await client.get(Lease, name)).spec).holderIdentity == "usurper"
    await client.close()
