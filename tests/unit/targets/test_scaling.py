"""Scale-from-zero replica choices and the DaemonSet node-selector patches."""

from __future__ import annotations

from serinus.targets.scaling import daemonset_from_zero, daemonset_to_zero, replicas_from_zero, scale_patch


def test_target_replicas_win() -> None:
    """A target that asks for replicas gets them back."""
    assert replicas_from_zero({"spec": {"replicas": 4}}, {"spec": {"replicas": 9}}, None) == 4


def test_without_autoscaler_the_primary_count_is_used() -> None:
    """With replicas 0 and no autoscaler the target comes back at the primary's size, or 1."""
    assert replicas_from_zero({"spec": {"replicas": 0}}, {"spec": {"replicas": 3}}, None) == 3
    assert replicas_from_zero({"spec": {}}, {"spec": {"replicas": 0}}, None) == 1
    assert replicas_from_zero({"spec": {}}, None, None) == 1


def test_autoscaler_floors() -> None:
    """With an HPA the floor is minReplicas (if > 1); with a ScaledObject minReplicaCount (if > 1)."""
    hpa = {"kind": "HorizontalPodAutoscaler", "spec": {"minReplicas": 3}}
    keda = {"kind": "ScaledObject", "spec": {"minReplicaCount": 2}}
    assert replicas_from_zero({"spec": {"replicas": 0}}, {"spec": {"replicas": 8}}, hpa) == 3
    assert replicas_from_zero({"spec": {"replicas": 0}}, None, keda) == 2
    assert replicas_from_zero({"spec": {}}, None, {"kind": "HorizontalPodAutoscaler", "spec": {"minReplicas": 1}}) == 1


def test_patches() -> None:
    """Deployments and StatefulSets scale by replicas; DaemonSets by a node selector that is added then removed."""
    assert scale_patch("Deployment", 0) == {"spec": {"replicas": 0}}
    assert scale_patch("StatefulSet", 2) == {"spec": {"replicas": 2}}
    assert scale_patch("DaemonSet", 0) is None
    ds = {"spec": {"template": {"spec": {"nodeSelector": {"os": "linux"}}}}}
    assert daemonset_to_zero(ds) == {
        "spec": {"template": {"spec": {"nodeSelector": {"os": "linux", "flagger.app/scale-to-zero": "true"}}}}
    }
    assert daemonset_from_zero() == {
        "spec": {"template": {"spec": {"nodeSelector": {"flagger.app/scale-to-zero": None}}}}
    }
