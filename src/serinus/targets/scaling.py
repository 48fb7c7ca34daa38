"""Scaling a target between runs: Flagger's replica choices and the DaemonSet node-selector trick, as patches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serinus.targets.primary import SCALE_TO_ZERO_SELECTOR

Obj = Mapping[str, Any]


def replicas_from_zero(target: Obj, primary: Obj | None, autoscaler: Obj | None) -> int:
    """How many replicas a target scaled to zero gets back (Flagger's ScaleFromZero).

    The target's own spec.replicas if > 0; else, without an autoscaler, the primary's if > 0; with an HPA its
    minReplicas if > 1, with a KEDA ScaledObject its minReplicaCount if > 1; otherwise 1.
    """
    own = (target.get("spec") or {}).get("replicas")
    if isinstance(own, int) and own > 0:
        return own
    if autoscaler is None:
        theirs = ((primary or {}).get("spec") or {}).get("replicas")
        return theirs if isinstance(theirs, int) and theirs > 0 else 1
    spec = autoscaler.get("spec") or {}
    floor = (
        spec.get("minReplicas") if autoscaler.get("kind") == "HorizontalPodAutoscaler" else spec.get("minReplicaCount")
    )
    return floor if isinstance(floor, int) and floor > 1 else 1


def scale_patch(kind: str, replicas: int) -> dict[str, Any] | None:
    """A merge patch that scales a Deployment or StatefulSet; None for kinds scaled another way."""
    if kind in ("Deployment", "StatefulSet"):
        return {"spec": {"replicas": replicas}}
    return None


def daemonset_to_zero(ds: Obj) -> dict[str, Any]:
    """A merge patch that 'scales a DaemonSet to zero': a node selector no node matches."""
    selector = dict(((((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector")) or {})
    selector[SCALE_TO_ZERO_SELECTOR] = "true"
    return {"spec": {"template": {"spec": {"nodeSelector": selector}}}}


def daemonset_from_zero() -> dict[str, Any]:
    """A merge patch that removes the scale-to-zero node selector (null deletes the key)."""
    return {"spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_SELECTOR: None}}}}}
