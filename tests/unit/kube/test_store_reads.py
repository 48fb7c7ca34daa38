"""One analysis tick reads its Canary from the API server once, and still never writes over another's change."""

from __future__ import annotations

import copy
from typing import Any

from serinus.api.status import CanaryPhase
from serinus.kube.memory import MemoryCluster, _error
from serinus.kube.resources import Canary
from serinus.kube.store import KubeStore

CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "web", "namespace": "test"},
    "spec": {
        "provider": "kubernetes",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "service": {"port": 80},
        "analysis": {"interval": "10s", "threshold": 2, "iterations": 3},
    },
}


class Counting(MemoryCluster):
    """The in-memory API, counting GETs and refusing (409) a write that carries a stale resourceVersion, as the API
    server does."""

    gets: int = 0

    async def get(self, res: Any, name: str, *, namespace: str | None = None) -> Any:
        """Count, then answer."""
        self.gets += 1
        return await super().get(res, name, namespace=namespace)

    async def replace(self, obj: Any, name: str | None = None, *, namespace: str | None = None, **_: Any) -> Any:
        """409 unless the object carries the stored resourceVersion."""
        data = obj.to_dict()
        stored = self.objects[("flagger.app/v1beta1", "Canary", "test", data["metadata"]["name"])]
        if data["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
            raise _error(409, "Conflict", "the object has been modified")
        return await super().replace(obj, name, namespace=namespace)


async def _cluster() -> Counting:
    api = Counting(namespace="test")
    await api.create(Canary.from_dict(copy.deepcopy(CANARY)))
    return api


async def test_a_tick_gets_its_canary_once() -> None:
    """Inside one_read, four reads of the Canary are one GET; outside, every read is a GET."""
    api = await _cluster()
    store = KubeStore(api)  # type: ignore[arg-type]
    with store.one_read():
        for _ in range(4):
            assert (await store.raw("web", "test") or {})["spec"]["service"] == {"port": 80}
    assert api.gets == 1
    await store.raw("web", "test")
    await store.raw("web", "test")
    assert api.gets == 3


async def test_each_read_is_a_copy_of_its_own() -> None:
    """A caller changing what it read does not change what the next read of the tick returns."""
    api = await _cluster()
    store = KubeStore(api)  # type: ignore[arg-type]
    with store.one_read():
        first = await store.raw("web", "test") or {}
        first["spec"]["service"]["port"] = 9999
        again = await store.raw("web", "test") or {}
    assert again["spec"]["service"]["port"] == 80


async def test_a_write_is_what_the_tick_reads_next() -> None:
    """After the tick writes the status, it reads the written Canary (the API server's answer), without a GET."""
    api = await _cluster()
    store = KubeStore(api)  # type: ignore[arg-type]

    def progressing(canary: Any) -> Any:
        status = canary.status.model_copy()
        status.phase = CanaryPhase.PROGRESSING
        return status

    with store.one_read():
        await store.update_status("web", "test", progressing)
        gets = api.gets
        read = await store.get("web", "test")
    assert read is not None
    assert str(read.status.phase) == "Progressing"
    assert api.gets == gets


async def test_another_clients_change_is_not_written_over() -> None:
    """A change made by someone else after the tick read the Canary makes the status write conflict; the retry
    reads afresh, so both that change and the status are kept."""
    api = await _cluster()
    store = KubeStore(api)  # type: ignore[arg-type]
    with store.one_read():
        await store.raw("web", "test")
        await api.patch(Canary, "web", {"metadata": {"labels": {"team": "a"}}}, namespace="test")

        def progressing(canary: Any) -> Any:
            status = canary.status.model_copy()
            status.phase = CanaryPhase.PROGRESSING
            return status

        written = await store.update_status("web", "test", progressing)
    assert str(written.status.phase) == "Progressing"
    assert written.metadata.labels == {"team": "a"}
    stored = (await api.get(Canary, "web", namespace="test")).to_dict()
    assert stored["metadata"]["labels"] == {"team": "a"}
    assert stored["status"]["phase"] == "Progressing"


async def test_a_missing_canary_is_not_remembered() -> None:
    """A Canary that is not there reads as None each time (the 404 is not kept)."""
    api = Counting(namespace="test")
    store = KubeStore(api)  # type: ignore[arg-type]
    with store.one_read():
        assert await store.raw("web", "test") is None
        assert await store.raw("web", "test") is None
    assert api.gets == 2
