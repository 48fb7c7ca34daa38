"""The in-memory API behind `serinus render` answers as the API server does where the operator can tell."""

from __future__ import annotations

import pytest
from lightkube import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap

from serinus.kube.memory import MemoryCluster, merge_patch
from serinus.kube.resources import Canary


def test_merge_patch_is_rfc_7386() -> None:
    """null removes a key, maps merge, everything else replaces."""
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": 3}, "d": [2]}) == {
        "a": {"c": 2, "e": 3},
        "d": [2],
    }


async def test_not_found_conflict_and_generation() -> None:
    """A missing object is a 404 ApiError, a second create a 409; a spec change bumps the generation and a
    workload reports itself rolled out at that generation."""
    api = MemoryCluster(namespace="test")
    with pytest.raises(ApiError) as missing:
        await api.get(ConfigMap, "cfg", namespace="test")
    assert missing.value.status.code == 404
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "test"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
        },
    }
    await api.create(Deployment.from_dict(deployment))
    with pytest.raises(ApiError) as conflict:
        await api.create(Deployment.from_dict(deployment))
    assert conflict.value.status.code == 409
    patched = (await api.patch(Deployment, "web", {"spec": {"replicas": 0}}, namespace="test")).to_dict()
    assert patched["metadata"]["generation"] == 2
    assert patched["status"]["observedGeneration"] == 2
    assert patched["status"]["readyReplicas"] == 0


async def test_status_subresource_is_apart_from_the_spec() -> None:
    """Replacing through the Status class writes only status; replacing the object keeps the stored status."""
    api = MemoryCluster(namespace="test")
    api.load(
        [
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": "web"},
                "spec": {
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "service": {"port": 80},
                },
            }
        ]
    )
    stored = (await api.get(Canary, "web", namespace="test")).to_dict()
    stored["status"] = {"phase": "Initialized"}
    stored["spec"]["service"]["port"] = 9999
    await api.replace(Canary.Status.from_dict(stored), "web", namespace="test")
    after = (await api.get(Canary, "web", namespace="test")).to_dict()
    assert after["status"] == {"phase": "Initialized"}
    assert after["spec"]["service"]["port"] == 80
    after["status"] = {"phase": "Failed"}
    await api.replace(Canary.from_dict(after))
    assert (await api.get(Canary, "web", namespace="test")).to_dict()["status"] == {"phase": "Initialized"}
