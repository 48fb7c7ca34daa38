"""An in-memory Kubernetes API with lightkube's AsyncClient surface (get, list, create, replace, merge patch,
delete, status subresources), for `serinus render`: the operator's own code runs against it, so what render prints
is what the operator would write.

It behaves as the API server does where the operator can tell: 404 and 409 errors, uids, resourceVersions,
generations that move with the spec, status kept apart from the spec. Workloads are reported rolled out as soon as
they are written (no pods run here), the way a healthy cluster would report them a moment later.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
from lightkube import ApiError

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
WORKLOADS = {("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet")}
KNATIVE_SERVICE = ("serving.knative.dev/v1", "Service")


def _api_version(res: Any) -> str:
    info = res._api_info.resource
    return f"{info.group}/{info.version}" if info.group else str(info.version)


def _kind(res: Any) -> str:
    return str(res._api_info.resource.kind)


def _is_status(res: Any) -> bool:
    return getattr(res._api_info, "action", None) == "status"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _error(code: int, reason: str, message: str) -> ApiError:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return ApiError(response=httpx2.Response(code, content=json.dumps(body).encode()))


def _rolled_out(obj: Obj) -> None:
    """The status a controller reports once a workload's pods are all updated and ready."""
    spec, meta = obj.get("spec") or {}, obj["metadata"]
    if obj["kind"] == "DaemonSet":
        obj["status"] = {
            "observedGeneration": meta["generation"],
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "numberMisscheduled": 0,  # required by DaemonSetStatus (lightkube refuses a status without it)
            "updatedNumberScheduled": 1,
            "numberReady": 1,
            "numberAvailable": 1,
        }
        return
    replicas = spec.get("replicas", 1)
    obj["status"] = {
        "observedGeneration": meta["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "currentReplicas": replicas,
    }
    if obj["kind"] == "Deployment":
        obj["status"]["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ]


def _knative_revision(obj: Obj, previous: Obj | None) -> str:
    """What Knative's controller does for a Service: a new template makes a Revision `<name>-0000N`, named in the
    status as latest created and latest ready (a change of traffic alone makes none); returns that name."""
    spec = obj.get("spec") or {}
    status = dict((previous or {}).get("status") or obj.get("status") or {})
    latest = str(status.get("latestCreatedRevisionName") or "")
    same = previous is not None and (previous.get("spec") or {}).get("template") == spec.get("template")
    if not latest or (previous is not None and not same):
        suffix = latest.rsplit("-", 1)[-1]
        latest = f"{obj['metadata']['name']}-{int(suffix) + 1 if latest and suffix.isdigit() else 1:05d}"
    obj["status"] = {**status, "latestCreatedRevisionName": latest, "latestReadyRevisionName": latest}
    return latest


@dataclass
class MemoryCluster:
    """The objects of a cluster, in memory, behind lightkube's AsyncClient methods."""

    namespace: str = "default"
    objects: dict[Key, Obj] = field(default_factory=dict)
    #: the order objects were first created in, for output
    order: list[Key] = field(default_factory=list)
    _versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _key(self, api_version: str, kind: str, namespace: str | None, name: str) -> Key:
        return api_version, kind, namespace or "", name

    def _stamp(self, obj: Obj, previous: Obj | None) -> None:
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._versions))
        if previous is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", "2000-01-01T00:00:00Z")
            meta["generation"] = 1
        else:
            prev_meta = previous["metadata"]
            meta["uid"] = prev_meta.get("uid")
            meta["creationTimestamp"] = prev_meta.get("creationTimestamp")
            changed = {k: v for k, v in obj.items() if k not in ("metadata", "status")} != {
                k: v for k, v in previous.items() if k not in ("metadata", "status")
            }
            meta["generation"] = prev_meta.get("generation", 1) + (1 if changed else 0)
        if (obj.get("apiVersion"), obj.get("kind")) in WORKLOADS:
            _rolled_out(obj)
        elif (obj.get("apiVersion"), obj.get("kind")) == KNATIVE_SERVICE:
            name, namespace = _knative_revision(obj, previous), meta.get("namespace")
            key = self._key("serving.knative.dev/v1", "Revision", namespace, name)
            if key not in self.objects:
                # Knative's object, not the operator's: stored, never in `order` (render prints only what is)
                self.objects[key] = {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Revision",
                    "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1},
                    "spec": copy.deepcopy(((obj.get("spec") or {}).get("template") or {}).get("spec") or {}),
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                }

    def load(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Store objects as they are (the cluster's state before the operator runs)."""
        for doc in docs:
            obj = copy.deepcopy(dict(doc))
            meta = obj.setdefault("metadata", {})
            if meta.get("namespace") is None and obj.get("kind") not in ("Namespace", "TrafficRoute"):
                meta["namespace"] = self.namespace
            key = self._key(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
            self.objects[key] = obj  # before _stamp, which may add what a controller makes from it
            self._stamp(obj, None)
            self.order.append(key)

    def _find(self, res: Any, name: str, namespace: str | None) -> tuple[Key, Obj]:
        ns = namespace if namespace is not None else (self.namespace if self._namespaced(res) else None)
        key = self._key(_api_version(res), _kind(res), ns, name)
        if key not in self.objects:
            raise _error(404, "NotFound", f'{res._api_info.plural}.{res._api_info.resource.group} "{name}" not found')
        return key, self.objects[key]

    @staticmethod
    def _namespaced(res: Any) -> bool:
        from lightkube.core.resource import NamespacedResource, NamespacedSubResource

        return issubclass(res, (NamespacedResource, NamespacedSubResource))

    @staticmethod
    def _out(res: Any, obj: Obj) -> Any:
        return res.from_dict(copy.deepcopy(obj))

    async def get(self, res: Any, name: str, *, namespace: str | None = None) -> Any:
        """The object, or a 404 ApiError."""
        return self._out(res, self._find(res, name, namespace)[1])

    async def list(self, res: Any, *, namespace: str | None = None, **_: Any) -> AsyncIterator[Any]:
        """Every object of the kind (in the namespace, when given)."""
        for (api_version, kind, ns, _name), obj in list(self.objects.items()):
            if (api_version, kind) == (_api_version(res), _kind(res)) and namespace in (None, "*", ns):
                yield res.from_dict(copy.deepcopy(obj))

    async def create(self, obj: Any, *, namespace: str | None = None, **_: Any) -> Any:
        """Store a new object; 409 when it exists."""
        res = type(obj)
        data = {
            "apiVersion": _api_version(res),
            "kind": _kind(res),
            **(obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)),
        }
        meta = data.setdefault("metadata", {})
        if self._namespaced(res):
            meta["namespace"] = meta.get("namespace") or namespace or self.namespace
        key = self._key(data["apiVersion"], data["kind"], meta.get("namespace"), meta["name"])
        if key in self.objects:
            raise _error(409, "AlreadyExists", f'{res._api_info.plural} "{meta["name"]}" already exists')
        self.objects[key] = data  # before _stamp, which may add what a controller makes from it
        self._stamp(data, None)
        self.order.append(key)
        return res.from_dict(copy.deepcopy(data))

    async def replace(self, obj: Any, name: str | None = None, *, namespace: str | None = None, **_: Any) -> Any:
        """Replace the object (or, through a Status class, only its status)."""
        res = type(obj)
        data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
        meta = data.get("metadata") or {}
        key, previous = self._find(res, name or meta["name"], namespace or meta.get("namespace"))
        if _is_status(res):
            updated = copy.deepcopy(previous)
            updated["status"] = data.get("status")
            updated["metadata"]["resourceVersion"] = str(next(self._versions))
        else:
            updated = copy.deepcopy(data)
            updated.setdefault("apiVersion", previous["apiVersion"])
            updated.setdefault("kind", previous["kind"])
            updated["metadata"]["namespace"] = previous["metadata"].get("namespace")
            if "status" in previous:
                updated["status"] = previous["status"]
            self._stamp(updated, previous)
        self.objects[key] = updated
        return self._out(res, updated)

    async def patch(self, res: Any, name: str, patch: Any, *, namespace: str | None = None, **_: Any) -> Any:
        """A JSON merge patch (the only kind the operator sends)."""
        key, previous = self._find(res, name, namespace)
        if _is_status(res):
            updated = copy.deepcopy(previous)
            updated["status"] = merge_patch(previous.get("status"), (patch or {}).get("status"))
        else:
            updated = merge_patch(previous, {k: v for k, v in dict(patch).items() if k != "status"})
            self._stamp(updated, previous)
        self.objects[key] = updated
        return self._out(res, updated)

    async def delete(self, res: Any, name: str, *, namespace: str | None = None, **_: Any) -> None:
        """Remove the object; 404 when missing."""
        key, _obj = self._find(res, name, namespace)
        del self.objects[key]
        if key in self.order:  # objects a simulated controller made (Knative Revisions) are not in it
            self.order.remove(key)

    async def close(self) -> None:
        """Nothing to release."""
