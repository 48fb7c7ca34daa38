"""`serinus render` initializes every kind of target the operator drives: Deployment, DaemonSet, StatefulSet and
Knative Service."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from serinus.cli import main

POD_TEMPLATE = {
    "metadata": {"labels": {"app": "podinfo"}},
    "spec": {
        "containers": [
            {
                "name": "podinfod",
                "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                "ports": [{"name": "http", "containerPort": 9898}],
            }
        ]
    },
}


def _workload(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "podinfo"}}, "template": copy.deepcopy(POD_TEMPLATE)}
    if kind != "DaemonSet":
        spec["replicas"] = 2
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "podinfo", "namespace": "test"}, "spec": spec}


def _canary(api_version: str, kind: str, provider: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": api_version, "kind": kind, "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": {"interval": "30s", "threshold": 5, "iterations": 5},
        },
    }


def _render(tmp_path: Path, canary: dict[str, Any], target: dict[str, Any]) -> list[dict[str, Any]]:
    (tmp_path / "canary.yaml").write_text(yaml.safe_dump(canary))
    (tmp_path / "target.yaml").write_text(yaml.safe_dump(target))
    result = CliRunner().invoke(
        main, ["render", str(tmp_path / "canary.yaml"), "--target", str(tmp_path / "target.yaml")]
    )
    assert result.exit_code == 0, result.output
    return [d for d in yaml.safe_load_all(result.output) if d]


@pytest.mark.parametrize("kind", ["Deployment", "DaemonSet", "StatefulSet"])
def test_every_workload_kind_renders_its_primary_and_services(tmp_path: Path, kind: str) -> None:
    """A Deployment, DaemonSet or StatefulSet target initializes: the target is scaled to zero, a `-primary`
    workload of the same kind serves the same pods, and the apex Service selects the primary."""
    objects = _render(tmp_path, _canary("apps/v1", kind, "kubernetes"), _workload(kind))
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert set(by_name) == {
        (kind, "podinfo"),
        (kind, "podinfo-primary"),
        ("Service", "podinfo"),
        ("Service", "podinfo-primary"),
        ("Service", "podinfo-canary"),
    }
    target, primary = by_name[(kind, "podinfo")], by_name[(kind, "podinfo-primary")]
    if kind == "DaemonSet":
        # a DaemonSet has no replicas: Flagger scales it to zero with a node selector no node matches
        assert target["spec"]["template"]["spec"]["nodeSelector"] == {"flagger.app/scale-to-zero": "true"}
        assert "nodeSelector" not in primary["spec"]["template"]["spec"]
    else:
        assert target["spec"]["replicas"] == 0
        assert primary["spec"]["replicas"] == 2
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.0"
    assert by_name[("Service", "podinfo")]["spec"]["selector"] == {"app": "podinfo-primary"}


def test_a_knative_service_target_pins_its_revision_as_primary(tmp_path: Path) -> None:
    """A Knative Service target initializes: its first revision becomes the primary (annotation) and gets all
    traffic, the latest revision none; no Service or primary workload is created."""
    service: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/stefanprodan/podinfo:6.0.0"}]}}},
    }
    objects = _render(tmp_path, _canary("serving.knative.dev/v1", "Service", "knative"), service)
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("serving.knative.dev/v1", "Service", "podinfo")
    ]
    rendered = objects[0]
    assert rendered["metadata"]["annotations"] == {"flagger.app/primary-revision": "podinfo-00001"}
    assert rendered["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0},
        {"revisionName": "podinfo-00001", "percent": 100},
    ]
    assert rendered["spec"]["template"] == service["spec"]["template"]
