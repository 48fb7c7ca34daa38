"""The `kubernetes` router: the apex, `-primary` and `-canary` ClusterIP Services every Canary gets.

Pure functions over Kubernetes JSON, and KubernetesRouter, the thin shell that writes them.
`<apex>-canary` selects the target's pods (`<label>: <value>`),
`<apex>-primary` and `<apex>` select the primary's (`<label>: <value>-primary`). An existing Service always gets
its ports and selector reconciled (node ports kept, port order ignored); its labels and annotations only when this
Canary owns it, keeping the keys listed in `service.unmanagedMetadata`. A user's own apex Service is therefore
adopted (its selector moves to the primary) with its metadata left alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.core_v1 import Service

Obj = Mapping[str, Any]
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
HELM_DRIFT = "helm.toolkit.fluxcd.io/driftDetection"
KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def service_names(canary: Obj) -> tuple[str, str, str]:
    """(apex, primary, canary) Service names: apex is spec.service.name or the target's name."""
    spec = canary.get("spec") or {}
    apex = (spec.get("service") or {}).get("name") or (spec.get("targetRef") or {}).get("name", "")
    return apex, f"{apex}-primary", f"{apex}-canary"


def with_flux_annotations(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """The annotations plus the two that stop Flux (kustomize and helm controllers) from reverting our changes."""
    out = dict(annotations or {})
    out[FLUX_RECONCILE] = "disabled"
    out[HELM_DRIFT] = "disabled"
    return out


def canary_owner_reference(canary: Obj) -> dict[str, Any]:
    """The controller owner reference to the Canary that Flagger puts on every object it creates."""
    meta = canary.get("metadata") or {}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def canary_namespace(canary: Obj) -> str:
    """The Canary's namespace (`default` when the dict has none, as for a manifest read from a file)."""
    return str((canary.get("metadata") or {}).get("namespace") or "default")


def apex_metadata(canary: Obj) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) for a generated mesh or ingress object: `service.apex` metadata plus the Flux keys."""
    apex = ((canary.get("spec") or {}).get("service") or {}).get("apex") or {}
    return dict(apex.get("labels") or {}), with_flux_annotations(apex.get("annotations"))


def service_spec(
    service: Obj, label: str, pod_value: str, extra_ports: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The Service spec for one of the three Services, from the Canary's spec.service."""
    target_port = service.get("targetPort")
    port: dict[str, Any] = {
        "name": service.get("portName") or "http",
        "protocol": "TCP",
        "port": int(service["port"]),
        "targetPort": target_port if target_port not in (None, 0, "0", "") else int(service["port"]),
    }
    if service.get("appProtocol"):
        port["appProtocol"] = service["appProtocol"]
    spec: dict[str, Any] = {"type": "ClusterIP", "selector": {label: pod_value}, "ports": [port]}
    if service.get("headless"):
        spec["clusterIP"] = "None"
    if service.get("trafficDistribution"):
        spec["trafficDistribution"] = service["trafficDistribution"]
    for name, number in sorted((extra_ports or {}).items()):
        spec["ports"].append({"name": name, "protocol": "TCP", "port": number, "targetPort": number})
    return spec


def service_metadata(custom: Obj | None, label: str, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) for a generated Service: the Canary's custom metadata, `<label>: <name>`, Flux keys."""
    labels = dict((custom or {}).get("labels") or {})
    labels[label] = name
    return labels, with_flux_annotations((custom or {}).get("annotations"))


def new_service(
    name: str,
    namespace: str,
    spec: Obj,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    owner: Mapping[str, Any],
) -> dict[str, Any]:
    """A Service created by Serinus, controller-owned by the Canary."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [dict(owner)],
        },
        "spec": copy.deepcopy(dict(spec)),
    }


def controller_owner(obj: Obj) -> Obj | None:
    """The controller owner reference of an object, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def owned_by_canary(obj: Obj, canary_name: str) -> tuple[bool, bool]:
    """(controlled by some Canary, controlled by this Canary)."""
    ref = controller_owner(obj)
    if ref is None or ref.get("kind") != "Canary":
        return False, False
    return True, ref.get("name") == canary_name


def _port_key(port: Obj) -> tuple[Any, ...]:
    return (
        port.get("port"),
        port.get("name"),
        port.get("protocol", "TCP"),
        str(port.get("targetPort")),
        port.get("appProtocol"),
        port.get("nodePort"),
    )


def reconciled_service(
    existing: Obj,
    desired_spec: Obj,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    canary_name: str,
    unmanaged: Obj | None = None,
) -> dict[str, Any] | None:
    """The updated Service, or None when nothing needs to change."""
    spec = copy.deepcopy(dict(desired_spec))
    current_ports = (existing.get("spec") or {}).get("ports") or []
    for port in spec["ports"]:
        for old in current_ports:
            if old.get("name") == port["name"] and old.get("nodePort"):
                port["nodePort"] = old["nodePort"]
                break
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    changed = False
    if sorted(map(_port_key, spec["ports"])) != sorted(map(_port_key, current_ports)) or spec["selector"] != (
        existing.get("spec") or {}
    ).get("selector"):
        out["spec"]["ports"] = spec["ports"]
        out["spec"]["selector"] = spec["selector"]
        changed = True
    meta = out.setdefault("metadata", {})
    if owned_by_canary(existing, canary_name)[1]:
        keep_ann = {
            k: v
            for k in (unmanaged or {}).get("annotations") or []
            if (v := (meta.get("annotations") or {}).get(k)) is not None
        }
        keep_lab = {
            k: v for k in (unmanaged or {}).get("labels") or [] if (v := (meta.get("labels") or {}).get(k)) is not None
        }
        new_ann, new_lab = {**annotations, **keep_ann}, {**labels, **keep_lab}
        if new_ann != (meta.get("annotations") or {}):
            meta["annotations"] = new_ann
            changed = True
        if new_lab != (meta.get("labels") or {}):
            meta["labels"] = new_lab
            changed = True
    if not changed:
        return None
    meta["annotations"] = with_flux_annotations(meta.get("annotations"))
    return out


def reverted_apex(existing: Obj, canary_name: str, label: str, value: str) -> dict[str, Any] | None:
    """On revertOnDeletion: a user's apex Service gets back the selector it had (from kubectl's last-applied
    annotation) or one that selects the target's pods; a Service a Canary owns is left to garbage collection."""
    if any(owned_by_canary(existing, canary_name)):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    last = ((existing.get("metadata") or {}).get("annotations") or {}).get(KUBECTL_LAST_APPLIED)
    if last:
        out["spec"]["selector"] = (json.loads(last).get("spec") or {}).get("selector")
    else:
        out["spec"]["selector"] = {label: value}
    return out


def three_services(
    canary: Obj,
    label: str,
    value: str,
    extra_ports: Mapping[str, int] | None,
) -> Iterable[tuple[str, dict[str, Any], tuple[dict[str, str], dict[str, str]]]]:
    """(name, spec, (labels, annotations)) for the canary, primary and apex Services, in Flagger's order."""
    service = (canary.get("spec") or {}).get("service") or {}
    apex, primary, canary_svc = service_names(canary)
    for name, pod_value, custom in (
        (canary_svc, value, service.get("canary")),
        (primary, f"{value}-primary", service.get("primary")),
        (apex, f"{value}-primary", service.get("apex")),
    ):
        yield name, service_spec(service, label, pod_value, extra_ports), service_metadata(custom, label, name)


class KubernetesRouter:
    """Writes the three Services of one Canary on a live cluster (Flagger's KubernetesDefaultRouter)."""

    def __init__(
        self, client: AsyncClient, canary: Obj, label: str, value: str, ports: Mapping[str, int] | None = None
    ) -> None:
        self.client = client
        self.canary = canary
        self.label = label
        self.value = value
        self.ports = dict(ports or {})
        meta = canary.get("metadata") or {}
        self.namespace = str(meta.get("namespace") or "default")
        self.owner = {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "controller": True,
            "blockOwnerDeletion": True,
        }

    async def _apply(self, name: str, spec: Obj, labels: Mapping[str, str], annotations: Mapping[str, str]) -> None:
        try:
            existing: Any = await self.client.get(Service, name, namespace=self.namespace)
        except ApiError as err:
            if err.status.code != 404:
                raise
            await self.client.create(
                codecs.from_dict(new_service(name, self.namespace, spec, labels, annotations, self.owner))
            )
            return
        unmanaged = ((self.canary.get("spec") or {}).get("service") or {}).get("unmanagedMetadata")
        updated = reconciled_service(existing.to_dict(), spec, labels, annotations, str(self.owner["name"]), unmanaged)
        if updated is not None:
            await self.client.replace(codecs.from_dict(updated))

    async def initialize(self) -> None:
        """Create or update `<apex>-canary` and `<apex>-primary`."""
        for name, spec, (labels, annots) in list(three_services(self.canary, self.label, self.value, self.ports))[:2]:
            await self._apply(name, spec, labels, annots)

    async def reconcile(self) -> None:
        """Create or update the apex Service, pointing it at the primary's pods."""
        name, spec, (labels, annots) = list(three_services(self.canary, self.label, self.value, self.ports))[2]
        await self._apply(name, spec, labels, annots)

    async def finalize(self) -> None:
        """revertOnDeletion: hand a user's apex Service back its own selector."""
        apex = service_names(self.canary)[0]
        existing: Any = await self.client.get(Service, apex, namespace=self.namespace)
        reverted = reverted_apex(existing.to_dict(), str(self.owner["name"]), self.label, self.value)
        if reverted is not None:
            await self.client.replace(codecs.from_dict(reverted))


def reconcile_owned(
    existing: Obj,
    desired_spec: Obj,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    comparable: Callable[[Obj], Any],
) -> dict[str, Any] | None:
    """`existing` with what Serinus owns restored, or None when nothing it owns differs.

    Serinus owns the spec keys it writes (compared through `comparable`, which leaves out the weights in flight),
    the apex labels, and its annotations; spec keys and annotations others added are kept."""
    meta = existing.get("metadata") or {}
    have = existing.get("spec") or {}
    merged = {**(meta.get("annotations") or {}), **annotations}
    if (
        comparable({k: have[k] for k in desired_spec if k in have}) == comparable(desired_spec)
        and dict(labels) == (meta.get("labels") or {})
        and merged == (meta.get("annotations") or {})
    ):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = {**copy.deepcopy(dict(have)), **copy.deepcopy(dict(desired_spec))}
    out["metadata"] = {**out.get("metadata", {}), "labels": dict(labels), "annotations": merged}
    return out


def apex_object_meta(canary: Obj, set_owner: bool = True) -> dict[str, Any]:
    """Metadata of a routing object named after the apex Service: apex labels and annotations (Flux keys
    included) and, unless the mesh lives on another API server, the Canary as controller owner."""
    apex, _, _ = service_names(canary)
    labels, annotations = apex_metadata(canary)
    meta: dict[str, Any] = {
        "name": apex,
        "namespace": canary_namespace(canary),
        "labels": labels,
        "annotations": annotations,
    }
    if set_owner:
        meta["ownerReferences"] = [canary_owner_reference(canary)]
    return meta
