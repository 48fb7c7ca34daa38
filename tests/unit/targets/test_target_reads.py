"""One analysis step reads its target workload's spec once; readiness is always read afresh, and a write by the
step makes the next read fetch the workload again."""

from __future__ import annotations

import copy
from typing import Any

from lightkube import codecs
from lightkube.resources.apps_v1 import Deployment

from serinus.api import Canary as CanaryModel
from serinus.kube.memory import MemoryCluster
from serinus.targets.controller import WorkloadController

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "test"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}]},
        },
    },
}
CANARY = CanaryModel.model_validate(
    {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "web", "namespace": "test", "uid": "u-1"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": {"port": 80},
            "analysis": {"interval": "10s", "threshold": 2, "iterations": 3},
        },
    }
)


class Counting(MemoryCluster):
    """The in-memory API, counting the GETs of each object name."""

    gets: dict[str, int]

    async def get(self, res: Any, name: str, *, namespace: str | None = None) -> Any:
        """Count, then answer."""
        self.gets[name] = self.gets.get(name, 0) + 1
        return await super().get(res, name, namespace=namespace)


async def _cluster() -> Counting:
    api = Counting(namespace="test")
    api.gets = {}
    await api.create(codecs.from_dict(copy.deepcopy(DEPLOYMENT)))
    return api


async def test_a_step_reads_the_target_spec_once() -> None:
    """metadata, the spec hash and the tracked configs together GET the target once."""
    api = await _cluster()
    ctl = WorkloadController(api, CANARY)  # type: ignore[arg-type]
    assert (await ctl.metadata())[:2] == ("app", "web")
    template = await ctl.template_for_hash()
    assert template["spec"]["containers"][0]["image"] == "web:1"
    assert await ctl.tracked() == {}
    assert api.gets == {"web": 1}


async def test_what_a_caller_changes_is_its_own() -> None:
    """Changing the target a read returned does not change what the next read returns."""
    api = await _cluster()
    ctl = WorkloadController(api, CANARY)  # type: ignore[arg-type]
    (await ctl.target())["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert (await ctl.template_for_hash())["spec"]["containers"][0]["image"] == "web:1"


async def test_readiness_is_read_afresh() -> None:
    """Every readiness check GETs the workload: a rollout that finishes during the step is seen."""
    api = await _cluster()
    ctl = WorkloadController(api, CANARY)  # type: ignore[arg-type]
    await ctl.metadata()
    assert (await ctl.canary_readiness()).ready
    assert (await ctl.canary_readiness()).ready
    assert api.gets == {"web": 3}


async def test_a_write_makes_the_next_read_fetch_again() -> None:
    """After the step scales the target to zero, reading the target shows zero replicas (a new GET)."""
    api = await _cluster()
    ctl = WorkloadController(api, CANARY)  # type: ignore[arg-type]
    assert (await ctl.target())["spec"]["replicas"] == 2
    await ctl.scale_to_zero()
    assert (await ctl.target())["spec"]["replicas"] == 0
    assert api.gets["web"] == 2
    stored = (await api.get(Deployment, "web", namespace="test")).to_dict()
    assert stored["spec"]["replicas"] == 0
