"""The primary's autoscaler: an HPA or a KEDA ScaledObject copied from the target's as `<name>-primary`, and the
target's ScaledObject paused between runs (Flagger's pkg/canary/hpa_reconciler.go HPAReconciler and
scaled_object_reconciler.go ScaledObjectReconciler).

Pure builders over Kubernetes JSON, and AutoscalerPort, the thin shell the engine's Scaler port uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler

from serinus.api import Canary
from serinus.targets.controller import TargetError
from serinus.targets.metadata import include_by_prefix, without_toolkit

Obj = Mapping[str, Any]
ScaledObject = create_namespaced_resource("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"


def _owner(canary: Canary) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": canary.metadata.name,
        "uid": canary.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _bounds(canary: Canary) -> tuple[int | None, int | None]:
    ref = canary.spec.autoscaler_ref
    replicas = ref.primary_scaler_replicas if ref is not None else None
    if replicas is None:
        return None, None
    return replicas.min_replicas, replicas.max_replicas


def primary_hpa_spec(canary: Canary, hpa: Obj) -> dict[str, Any]:
    """The primary HPA's spec: the target HPA's, scaling `<target>-primary`, with primaryScalerReplicas applied."""
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    out: dict[str, Any] = {
        "scaleTargetRef": {
            "name": f"{canary.spec.target_ref.name}-primary",
            "kind": ref.get("kind"),
            "apiVersion": ref.get("apiVersion"),
        },
        "maxReplicas": spec.get("maxReplicas"),
    }
    for key in ("minReplicas", "metrics", "behavior"):
        if spec.get(key) is not None:
            out[key] = copy.deepcopy(spec[key])
    low, high = _bounds(canary)
    if low is not None:
        out["minReplicas"] = low
    if high is not None:
        out["maxReplicas"] = high
    return out


def new_primary_hpa(canary: Canary, hpa: Obj) -> dict[str, Any]:
    """A new `<hpa>-primary` owned by the Canary, with the target HPA's labels (minus Flux's)."""
    meta = hpa.get("metadata") or {}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": f"{meta.get('name')}-primary",
            "namespace": canary.metadata.namespace,
            "labels": without_toolkit(meta.get("labels")),
            "ownerReferences": [_owner(canary)],
        },
        "spec": primary_hpa_spec(canary, hpa),
    }


def updated_primary_hpa(canary: Canary, hpa: Obj, primary: Obj, prefixes: Iterable[str]) -> dict[str, Any] | None:
    """The primary HPA brought in line with the target's (bounds, metrics, behavior, metadata), or None if it is."""
    wanted = primary_hpa_spec(canary, hpa)
    spec = primary.get("spec") or {}
    hpa_meta, primary_meta = hpa.get("metadata") or {}, primary.get("metadata") or {}
    labels = without_toolkit(hpa_meta.get("labels"))  # as created; annotations only by --include-label-prefix
    annotations = include_by_prefix(hpa_meta.get("annotations"), prefixes)
    same = (
        all(spec.get(k) == wanted.get(k) for k in ("minReplicas", "maxReplicas", "metrics", "behavior"))
        and (primary_meta.get("labels") or {}) == labels
        and (primary_meta.get("annotations") or {}) == annotations
    )
    if same:
        return None
    out = copy.deepcopy(dict(primary))
    out["spec"] = {
        **out.get("spec", {}),
        **{k: wanted.get(k) for k in ("minReplicas", "maxReplicas", "metrics", "behavior")},
    }
    out["metadata"] = {**out["metadata"], "labels": labels, "annotations": annotations}
    return out


def primary_queries(canary: Canary, triggers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """KEDA triggers for the primary: `primaryScalerQueries` by trigger name, or every `<target>` and
    `<target>-canary` in a query rewritten to `<target>-primary`."""
    target = canary.spec.target_ref.name
    ref = canary.spec.autoscaler_ref
    given = ref.primary_scaler_queries if ref is not None else {}
    out = copy.deepcopy(triggers)
    for trigger in out:
        meta = trigger.get("metadata")
        if not isinstance(meta, dict):
            continue
        if given:
            if trigger.get("name") in given:
                meta["query"] = given[trigger["name"]]
        elif "query" in meta:
            placeholder = "\x00canary\x00"
            query = str(meta["query"]).replace(f"{target}-canary", placeholder)
            meta["query"] = query.replace(target, f"{target}-primary").replace(placeholder, f"{target}-primary")
    return out


def primary_scaled_object_spec(canary: Canary, so: Obj) -> dict[str, Any]:
    """The primary ScaledObject's spec: the target's, scaling `<target>-primary`, with its own HPA name."""
    spec = copy.deepcopy(dict(so.get("spec") or {}))
    ref = spec.get("scaleTargetRef") or {}
    out: dict[str, Any] = {
        "scaleTargetRef": {
            k: v
            for k, v in {
                "name": f"{canary.spec.target_ref.name}-primary",
                "kind": ref.get("kind"),
                "apiVersion": ref.get("apiVersion"),
                "envSourceContainerName": ref.get("envSourceContainerName"),
            }.items()
            if v is not None
        }
    }
    for key in (
        "pollingInterval",
        "cooldownPeriod",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "idleReplicaCount",
    ):
        if spec.get(key) is not None:
            out[key] = spec[key]
    advanced = dict(spec.get("advanced") or {})
    hpa_config = dict(advanced.get("horizontalPodAutoscalerConfig") or {})
    if hpa_config.get("name"):
        hpa_config["name"] = f"{hpa_config['name']}-primary"
    advanced["horizontalPodAutoscalerConfig"] = hpa_config
    out["advanced"] = advanced
    out["triggers"] = primary_queries(canary, list(spec.get("triggers") or []))
    low, high = _bounds(canary)
    if low is not None:
        out["minReplicaCount"] = low
    if high is not None:
        out["maxReplicaCount"] = high
    return out


class AutoscalerPort:
    """The engine's Scaler port for one Canary's HPA or ScaledObject."""

    def __init__(self, client: AsyncClient, canary: Canary, include_label_prefixes: Iterable[str] = ()) -> None:
        ref = canary.spec.autoscaler_ref
        if ref is None:
            raise TargetError("the Canary has no autoscalerRef", retriable=False)
        self.client, self.canary, self.ref = client, canary, ref
        self.namespace = canary.metadata.namespace or "default"
        self.prefixes = tuple(include_label_prefixes)
        self.keda = str(ref.kind) == "ScaledObject"
        self.resource: Any = ScaledObject if self.keda else HorizontalPodAutoscaler

    async def _get(self, name: str) -> dict[str, Any] | None:
        try:
            obj: Any = await self.client.get(self.resource, name, namespace=self.namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise
        return obj.to_dict()  # type: ignore[no-any-return]

    async def _target(self) -> dict[str, Any]:
        found = await self._get(self.ref.name)
        if found is None:
            what = "Keda ScaledObject" if self.keda else "HorizontalPodAutoscaler"
            raise TargetError(f"{what} {self.ref.name}.{self.namespace} get query error: not found")
        return found

    async def reconcile_primary(self, init: bool) -> None:
        """Create `<name>-primary` if missing; after initialization keep it in line with the target's."""
        target = await self._target()
        name = f"{self.ref.name}-primary"
        primary = await self._get(name)
        if self.keda:
            spec = primary_scaled_object_spec(self.canary, target)
            if primary is None:
                meta = target.get("metadata") or {}
                await self.client.create(
                    ScaledObject.from_dict(
                        {
                            "apiVersion": "keda.sh/v1alpha1",
                            "kind": "ScaledObject",
                            "metadata": {
                                "name": name,
                                "namespace": self.namespace,
                                "labels": without_toolkit(meta.get("labels")),
                                "annotations": without_toolkit(
                                    {k: v for k, v in (meta.get("annotations") or {}).items() if k != PAUSED_REPLICAS}
                                ),
                                "ownerReferences": [_owner(self.canary)],
                            },
                            "spec": spec,
                        }
                    )
                )
            elif not init and primary.get("spec") != spec:
                primary["spec"] = spec
                await self.client.replace(ScaledObject.from_dict(primary))
            return
        if primary is None:
            await self.client.create(codecs.from_dict(new_primary_hpa(self.canary, target)))
        elif not init:
            updated = updated_primary_hpa(self.canary, target, primary, self.prefixes)
            if updated is not None:
                await self.client.replace(codecs.from_dict(updated))

    async def _annotate(self, paused: bool) -> None:
        if not self.keda:
            return  # HPAs need no pausing: the target is scaled to zero and its HPA leaves zero alone
        target = await self._target()
        annotations = dict((target.get("metadata") or {}).get("annotations") or {})
        if paused == (PAUSED_REPLICAS in annotations):
            return
        if paused:
            annotations[PAUSED_REPLICAS] = "0"
        else:
            annotations.pop(PAUSED_REPLICAS, None)
        target["metadata"]["annotations"] = annotations
        await self.client.replace(ScaledObject.from_dict(target))

    async def pause_target(self) -> None:
        """Keep KEDA from scaling the canary up between runs (`paused-replicas: "0"`)."""
        await self._annotate(True)

    async def resume_target(self) -> None:
        """Let KEDA scale the canary again."""
        await self._annotate(False)
