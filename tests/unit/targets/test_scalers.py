"""The primary's autoscaler, built from the target's as Flagger builds it."""

from __future__ import annotations

from typing import Any

from serinus.api import Canary
from serinus.targets.scalers import (
    new_primary_hpa,
    primary_queries,
    primary_scaled_object_spec,
    updated_primary_hpa,
)


def _canary(kind: str = "HorizontalPodAutoscaler", **ref: Any) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "autoscalerRef": {"apiVersion": "autoscaling/v2", "kind": kind, "name": "podinfo", **ref},
                "analysis": {"interval": "1m", "threshold": 1, "iterations": 1},
            },
        }
    )


HPA: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {
        "name": "podinfo",
        "namespace": "test",
        "labels": {"team": "a", "kustomize.toolkit.fluxcd.io/name": "apps"},
    },
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "minReplicas": 2,
        "maxReplicas": 4,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ],
    },
}


def test_primary_hpa_scales_the_primary_and_is_owned_by_the_canary() -> None:
    """podinfo-primary HPA: scaleTargetRef podinfo-primary, the same bounds and metrics, Flux labels dropped."""
    hpa = new_primary_hpa(_canary(), HPA)
    assert hpa["metadata"]["name"] == "podinfo-primary"
    assert hpa["metadata"]["labels"] == {"team": "a"}
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    assert hpa["metadata"]["ownerReferences"][0]["controller"] is True
    assert hpa["spec"]["scaleTargetRef"] == {"name": "podinfo-primary", "kind": "Deployment", "apiVersion": "apps/v1"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert hpa["spec"]["metrics"] == HPA["spec"]["metrics"]


def test_primary_scaler_replicas_override_the_bounds() -> None:
    """autoscalerRef.primaryScalerReplicas sets the primary's min and max."""
    hpa = new_primary_hpa(_canary(primaryScalerReplicas={"minReplicas": 3, "maxReplicas": 9}), HPA)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)


def test_primary_hpa_follows_a_changed_target_and_is_left_alone_otherwise() -> None:
    """A new maxReplicas on the target HPA is copied to the primary; an up-to-date primary is not rewritten."""
    primary = new_primary_hpa(_canary(), HPA)
    primary["metadata"]["annotations"] = {}
    assert updated_primary_hpa(_canary(), HPA, primary, ()) is None
    changed = {**HPA, "spec": {**HPA["spec"], "maxReplicas": 10}}
    updated = updated_primary_hpa(_canary(), changed, primary, ())
    assert updated is not None
    assert updated["spec"]["maxReplicas"] == 10
    assert updated["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"


def test_keda_queries_are_rewritten_to_the_primary() -> None:
    """`podinfo` and `podinfo-canary` in a trigger query both become `podinfo-primary`, never doubled."""
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "metadata": {"query": 'sum(rate(x{app="podinfo"}[1m])) + sum(rate(x{app="podinfo-canary"}[1m]))'},
        }
    ]
    out = primary_queries(_canary("ScaledObject"), triggers)
    assert out[0]["metadata"]["query"] == (
        'sum(rate(x{app="podinfo-primary"}[1m])) + sum(rate(x{app="podinfo-primary"}[1m]))'
    )
    assert triggers[0]["metadata"]["query"].count("podinfo-primary") == 0


def test_primary_scaler_queries_replace_named_triggers() -> None:
    """primaryScalerQueries gives the primary's query per trigger name."""
    canary = _canary("ScaledObject", primaryScalerQueries={"rps": "sum(rate(y[1m]))"})
    out = primary_queries(
        canary,
        [
            {"name": "rps", "type": "prometheus", "metadata": {"query": "q"}},
            {"name": "cpu", "type": "prometheus", "metadata": {"query": "podinfo"}},
        ],
    )
    assert [t["metadata"]["query"] for t in out] == ["sum(rate(y[1m]))", "podinfo"]


def test_scaled_object_copy_gets_its_own_hpa_name() -> None:
    """The primary ScaledObject scales podinfo-primary; a named KEDA HPA gets `-primary` too."""
    so = {
        "spec": {
            "scaleTargetRef": {"name": "podinfo"},
            "minReplicaCount": 1,
            "maxReplicaCount": 5,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": "podinfo-hpa"}},
            "triggers": [],
        }
    }
    spec = primary_scaled_object_spec(_canary("ScaledObject"), so)
    assert spec["scaleTargetRef"] == {"name": "podinfo-primary"}
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["name"] == "podinfo-hpa-primary"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 5)
