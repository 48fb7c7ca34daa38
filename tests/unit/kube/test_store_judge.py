"""The statistical judge's state survives every status write when the Canary schema prunes `status.judge`, as
Flagger's own CRD does (its status has no `x-kubernetes-preserve-unknown-fields`)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from lightkube.resources.core_v1 import ConfigMap

from serinus.api.judge import JudgeStatus
from serinus.api.status import CanaryPhase
from serinus.engine.ports import PortError
from serinus.engine.status import with_judge, with_phase, with_weight
from serinus.kube.judgestate import DATA_KEY, config_map_name
from serinus.kube.memory import MemoryCluster
from serinus.kube.resources import Canary
from serinus.kube.store import KubeStore

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CANARY: dict[str, Any] = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "web", "namespace": "test", "annotations": {"serinus.io/judge": "mode: statistical"}},
    "spec": {
        "provider": "kubernetes",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "service": {"port": 80},
        "analysis": {"interval": "10s", "threshold": 2, "maxWeight": 50, "stepWeight": 10},
    },
}
JUDGE = JudgeStatus.model_validate(
    {
        "verdict": "HOLD",
        "reason": "≈ 480 more canary requests to certify success rate ≥ 99 %",
        "metrics": [{"metric": "request-success-rate", "verdict": "HOLD", "reason": "thin"}],
        "run": "abc/",
        "lastAt": 1767225900.0,
        "frozenTicks": 0,
        "state": {"v": 1, "w": 10, "hs": None, "fz": None, "fl": [0, 6, 5, 1], "m": {}},
        "ledger": [{"metric": "request-success-rate", "verdict": "HOLD"}],
    }
)


def _dump(judge: JudgeStatus | None) -> Any:
    return None if judge is None else judge.model_dump(by_alias=True, exclude_none=True, mode="json")


class FlaggerSchema(MemoryCluster):
    """The in-memory API with Flagger's Canary schema: a status write keeps Flagger's fields and drops `judge`,
    as the API server prunes a field its structural schema does not declare."""

    async def replace(self, obj: Any, name: str | None = None, *, namespace: str | None = None, **kw: Any) -> Any:
        """Prune status.judge from a Canary status write, then store."""
        data = obj.to_dict()
        if data.get("kind", "Canary") == "Canary" and isinstance(data.get("status"), dict):
            data["status"].pop("judge", None)
            obj = type(obj).from_dict(data)
        return await super().replace(obj, name, namespace=namespace, **kw)


async def _store(api: MemoryCluster, canary: dict[str, Any] = CANARY) -> KubeStore:
    await api.create(Canary.from_dict(copy.deepcopy(canary)))
    return KubeStore(api)  # type: ignore[arg-type]


async def test_the_judge_survives_every_status_write_under_flaggers_schema() -> None:
    """The judge's status, written once, reads back identical after Flagger's own status writes (weight, phase)
    in the same tick and in later ticks, though the Canary's status never holds it."""
    api = FlaggerSchema(namespace="test")
    store = await _store(api)
    with store.one_read():
        written = await store.update_status("web", "test", lambda c: with_judge(c, JUDGE))
        assert _dump(written.status.judge) == _dump(JUDGE)
        await store.update_status("web", "test", lambda c: with_weight(c, 20, NOW))
        again = await store.get("web", "test")
    assert again is not None
    assert _dump(again.status.judge) == _dump(JUDGE)
    with store.one_read():
        await store.update_status("web", "test", lambda c: with_phase(c, CanaryPhase.PROGRESSING, NOW))
    later = await store.get("web", "test")
    assert later is not None
    assert _dump(later.status.judge) == _dump(JUDGE)
    assert later.status.canary_weight == 20
    assert later.status.phase is CanaryPhase.PROGRESSING
    # Flagger's status on the Canary carries exactly Flagger's fields
    stored = (await api.get(Canary, "web", namespace="test")).to_dict()
    assert "judge" not in stored["status"]


async def test_the_state_is_a_configmap_owned_by_the_canary() -> None:
    """Where the state went: a ConfigMap named after the Canary, owned by it (deleted with it), holding
    status.judge as JSON."""
    api = FlaggerSchema(namespace="test")
    store = await _store(api)
    await store.update_status("web", "test", lambda c: with_judge(c, JUDGE))
    cm = (await api.get(ConfigMap, config_map_name("web"), namespace="test")).to_dict()
    uid = (await api.get(Canary, "web", namespace="test")).to_dict()["metadata"]["uid"]
    owner = cm["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Canary", "web", uid)
    assert json.loads(cm["data"][DATA_KEY]) == _dump(JUDGE)


async def test_dropping_the_judge_clears_it() -> None:
    """A new run drops the judge (status.judge set to None): the kept state is cleared and reads as None."""
    api = FlaggerSchema(namespace="test")
    store = await _store(api)
    await store.update_status("web", "test", lambda c: with_judge(c, JUDGE))
    await store.update_status("web", "test", lambda c: with_judge(c, None))
    read = await store.get("web", "test")
    assert read is not None
    assert read.status.judge is None
    cm = (await api.get(ConfigMap, config_map_name("web"), namespace="test")).to_dict()
    assert DATA_KEY not in (cm.get("data") or {})


async def test_under_serinus_schema_nothing_moves() -> None:
    """Where the schema keeps status.judge (Serinus's CRD), it stays there and no ConfigMap is written."""
    api = MemoryCluster(namespace="test")
    store = await _store(api)
    await store.update_status("web", "test", lambda c: with_judge(c, JUDGE))
    await store.update_status("web", "test", lambda c: with_weight(c, 20, NOW))
    stored = (await api.get(Canary, "web", namespace="test")).to_dict()
    assert stored["status"]["judge"] == _dump(JUDGE)
    assert not [k for k in api.objects if k[1] == "ConfigMap"]


async def test_a_canary_without_the_judge_costs_no_read() -> None:
    """A Canary that does not ask for the judge reads no ConfigMap."""
    api = FlaggerSchema(namespace="test")
    plain = copy.deepcopy(CANARY)
    plain["metadata"].pop("annotations")
    store = await _store(api, plain)
    gets: list[str] = []
    real_get = api.get

    async def counting(res: Any, name: str, *, namespace: str | None = None) -> Any:
        gets.append(res.__name__)
        return await real_get(res, name, namespace=namespace)

    api.get = counting  # type: ignore[method-assign]
    await store.update_status("web", "test", lambda c: with_weight(c, 10, NOW))
    await store.get("web", "test")
    assert "ConfigMap" not in gets


async def test_a_users_configmap_of_that_name_is_never_overwritten() -> None:
    """A ConfigMap of the same name that the Canary does not own is left alone, and the write fails naming it."""
    api = FlaggerSchema(namespace="test")
    store = await _store(api)
    await api.create(
        ConfigMap.from_dict({"metadata": {"name": config_map_name("web"), "namespace": "test"}, "data": {"a": "b"}})
    )
    with pytest.raises(PortError, match=config_map_name("web")):
        await store.update_status("web", "test", lambda c: with_judge(c, JUDGE))
    cm = (await api.get(ConfigMap, config_map_name("web"), namespace="test")).to_dict()
    assert cm["data"] == {"a": "b"}


async def test_the_state_of_an_earlier_canary_of_the_same_name_is_not_read() -> None:
    """A ConfigMap left by a deleted Canary of the same name (another uid) is not read, and is taken over at the
    first write."""
    api = FlaggerSchema(namespace="test")
    store = await _store(api)
    old_owner = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "web", "uid": "gone"}
    await api.create(
        ConfigMap.from_dict(
            {
                "metadata": {"name": config_map_name("web"), "namespace": "test", "ownerReferences": [old_owner]},
                "data": {DATA_KEY: json.dumps(_dump(JUDGE))},
            }
        )
    )
    read = await store.get("web", "test")
    assert read is not None
    assert read.status.judge is None
    newer = JUDGE.model_copy(update={"verdict": "ADVANCE"})
    await store.update_status("web", "test", lambda c: with_judge(c, newer))
    cm = (await api.get(ConfigMap, config_map_name("web"), namespace="test")).to_dict()
    uid = (await api.get(Canary, "web", namespace="test")).to_dict()["metadata"]["uid"]
    assert [r["uid"] for r in cm["metadata"]["ownerReferences"]] == [uid]
    assert json.loads(cm["data"][DATA_KEY])["verdict"] == "ADVANCE"
