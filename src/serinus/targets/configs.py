"""ConfigMap and Secret tracking: which configs a pod template uses, their checksums, and `-primary` copies.

A change to a tracked config starts a canary run just like a change to the pod template does. Checksums are
Flagger's: the first 8 bytes of SHA-256 over Go's JSON encoding of the `data` map, so `status.trackedConfigs`
written by Flagger stays valid after a switch to Serinus.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from serinus.engine.changes import has_config_changed
from serinus.engine.gojson import go_json
from serinus.targets.metadata import include_by_prefix

__all__ = [
    "ConfigRef",
    "checksum",
    "config_ref",
    "has_config_changed",
    "primary_copy",
    "rename_tracked_refs",
    "scan_config_refs",
    "tracked_configs",
]

Obj = Mapping[str, Any]
CONFIGMAP = "configmap"
SECRET = "secret"
DISABLE_ANNOTATION = "flagger.app/config-tracking"
#: Secret types that are tracked; registry credentials and service-account tokens are not.
TRACKED_SECRET_TYPES = frozenset({"Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"})


@dataclass(frozen=True)
class ConfigRef:
    """One tracked config: its type (`configmap` or `secret`), name and data checksum."""

    type: str
    name: str
    checksum: str

    @property
    def key(self) -> str:
        """`<type>/<name>`, the key used in status.trackedConfigs."""
        return f"{self.type}/{self.name}"


def checksum(data: Mapping[str, str] | None) -> str:
    """Flagger's config checksum: hex of the first 8 bytes of SHA-256 over the JSON of `data` (`null` if none)."""
    return hashlib.sha256(go_json(dict(data), sort_keys=True) if data is not None else b"null").digest()[:8].hex()


def _mandatory(ref: Obj) -> bool:
    return not ref.get("optional", False)


def scan_config_refs(pod_spec: Obj) -> tuple[dict[str, bool], dict[str, bool]]:
    """ConfigMap and Secret names the pod spec references, each mapped to whether it is mandatory.

    Sources: volumes (plain and projected), and env / envFrom of containers and init containers. When a name is
    referenced more than once, the last reference decides, as in Flagger.
    """
    configmaps: dict[str, bool] = {}
    secrets: dict[str, bool] = {}
    for volume in pod_spec.get("volumes") or []:
        if (cm := volume.get("configMap")) is not None:
            configmaps[cm.get("name", "")] = _mandatory(cm)
        if (sec := volume.get("secret")) is not None:
            secrets[sec.get("secretName", "")] = _mandatory(sec)
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (cm := source.get("configMap")) is not None:
                configmaps[cm.get("name", "")] = _mandatory(cm)
            if (sec := source.get("secret")) is not None:
                secrets[sec.get("name", "")] = _mandatory(sec)
    for container in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if (cm := source.get("configMapKeyRef")) is not None:
                configmaps[cm.get("name", "")] = _mandatory(cm)
            elif (sec := source.get("secretKeyRef")) is not None:
                secrets[sec.get("name", "")] = _mandatory(sec)
        for env_from in container.get("envFrom") or []:
            if (cm := env_from.get("configMapRef")) is not None:
                configmaps[cm.get("name", "")] = _mandatory(cm)
            elif (sec := env_from.get("secretRef")) is not None:
                secrets[sec.get("name", "")] = _mandatory(sec)
    return configmaps, secrets


def _disabled(obj: Obj) -> bool:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(DISABLE_ANNOTATION, "")).startswith("disable")


def config_ref(obj: Obj) -> ConfigRef | None:
    """The ConfigRef of a fetched ConfigMap or Secret, or None when it is not tracked."""
    name = (obj.get("metadata") or {}).get("name", "")
    if _disabled(obj):
        return None
    if obj.get("kind") == "Secret":
        if obj.get("type", "Opaque") not in TRACKED_SECRET_TYPES:
            return None
        return ConfigRef(SECRET, name, checksum(obj.get("data")))
    return ConfigRef(CONFIGMAP, name, checksum(obj.get("data")))


def tracked_configs(refs: Iterable[ConfigRef]) -> dict[str, str]:
    """status.trackedConfigs: `<type>/<name>` -> checksum."""
    return {ref.key: ref.checksum for ref in refs}


def primary_copy(
    obj: Obj, *, canary_owner: Mapping[str, Any], existing: Obj | None, include_label_prefixes: Iterable[str]
) -> dict[str, Any]:
    """The `<name>-primary` copy of a ConfigMap or Secret: same data (and type), labels filtered by prefix, owned by
    the Canary; foreign owner references of an existing copy are kept, as non-controllers."""
    meta = obj.get("metadata") or {}
    owners: list[dict[str, Any]] = [dict(canary_owner)]
    for ref in ((existing or {}).get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") != "Canary" or ref.get("name") != canary_owner.get("name"):
            owners.append({**ref, "controller": False})
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": obj.get("kind", "ConfigMap"),
        "metadata": {
            "name": f"{meta.get('name')}-primary",
            "namespace": meta.get("namespace"),
            "labels": include_by_prefix(meta.get("labels"), include_label_prefixes),
            "ownerReferences": owners,
        },
    }
    if "data" in obj:
        out["data"] = copy.deepcopy(obj["data"])
    if obj.get("kind") == "Secret":
        out["type"] = obj.get("type", "Opaque")
    return out


def rename_tracked_refs(pod_spec: dict[str, Any], tracked: Collection[str]) -> None:
    """Point every reference to a tracked config (`<type>/<name>` in `tracked`) at its `-primary` copy, in place."""

    def fix(ref: dict[str, Any] | None, kind: str, field: str = "name") -> None:
        if ref and f"{kind}/{ref.get(field)}" in tracked:
            ref[field] = f"{ref[field]}-primary"

    for volume in pod_spec.get("volumes") or []:
        fix(volume.get("configMap"), CONFIGMAP)
        fix(volume.get("secret"), SECRET, "secretName")
        for source in (volume.get("projected") or {}).get("sources") or []:
            fix(source.get("configMap"), CONFIGMAP)
            fix(source.get("secret"), SECRET)
    for container in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            fix(source.get("configMapKeyRef"), CONFIGMAP)
            fix(source.get("secretKeyRef"), SECRET)
        for env_from in container.get("envFrom") or []:
            fix(env_from.get("configMapRef"), CONFIGMAP)
            fix(env_from.get("secretRef"), SECRET)
