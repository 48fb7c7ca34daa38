"""The `knative` router: traffic between the primary revision and the latest one on the Knative Service itself
(Flagger's pkg/router/knative.go KnativeRouter).

`spec.traffic` is `[{latestRevision: true, percent: C}, {revisionName: <primary revision>, percent: P}]`; the
weights are read back from `status.traffic`, which Knative's controller writes once it has applied them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.routing import ApiKind, Routing, Session, no_cookies, routes_on, stub

Obj = Mapping[str, Any]
PRIMARY_REVISION = "flagger.app/primary-revision"


def _where(canary: Obj) -> str:
    spec, meta = canary.get("spec") or {}, canary.get("metadata") or {}
    return f"{(spec.get('targetRef') or {}).get('name')}.{meta.get('namespace') or 'default'}"


def annotated(service: Obj) -> dict[str, Any] | None:
    """The Service with the primary-revision annotation set to the latest created revision, or None when it has
    one already."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if PRIMARY_REVISION in annotations:
        return None
    out: dict[str, Any] = copy.deepcopy(dict(service))
    out["metadata"].setdefault("annotations", {})[PRIMARY_REVISION] = (service.get("status") or {}).get(
        "latestCreatedRevisionName", ""
    )
    return out


def set_routes(service: Obj, canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    """The Service with its traffic split between the latest revision and the primary revision."""
    primary = ((service.get("metadata") or {}).get("annotations") or {}).get(PRIMARY_REVISION)
    if primary is None:
        raise RouterError(f"Knative Service {_where(canary)} annotation not found")
    out: dict[str, Any] = copy.deepcopy(dict(service))
    out.setdefault("spec", {})["traffic"] = [
        {"latestRevision": True, "percent": canary_weight},
        {"revisionName": primary, "percent": primary_weight},
    ]
    return out


def get_routes(service: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the traffic Knative reports in status."""
    primary = ((service.get("metadata") or {}).get("annotations") or {}).get(PRIMARY_REVISION)
    if primary is None:
        raise RouterError(f"service {_where(canary)} annotation not found")
    traffic = (service.get("status") or {}).get("traffic") or []
    latest = next((t for t in traffic if t.get("latestRevision")), None)
    # Knative names the revision on the latestRevision entry too: prefer the pinned entry for the primary
    pinned = [t for t in traffic if t.get("revisionName") == primary]
    primary_target = next((t for t in pinned if not t.get("latestRevision")), pinned[0] if pinned else None)
    if latest is None or primary_target is None:
        raise RouterError(f"Knative Service {_where(canary)} traffic spec invalid")
    if primary_target.get("percent") is None:
        raise RouterError(f"Knative Service {_where(canary)} primary revision traffic percent does not exist")
    if latest.get("percent") is None:
        raise RouterError(f"Knative Service {_where(canary)} canary revision traffic percent does not exist")
    return int(primary_target["percent"]), int(latest["percent"]), False


def reverted(service: Obj) -> dict[str, Any] | None:
    """revertOnDeletion: the Service without the primary-revision annotation, or None without one."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if PRIMARY_REVISION not in annotations:
        return None
    out: dict[str, Any] = copy.deepcopy(dict(service))
    del out["metadata"]["annotations"][PRIMARY_REVISION]
    return out


# ----- on a cluster ---------------------------------------------------------------------------------------------

_SERVING = "serving.knative.dev/v1"


def _service(session: Session) -> dict[str, Any]:
    return stub(_SERVING, "Service", ((session.canary.get("spec") or {}).get("targetRef") or {}).get("name", ""))


async def _reconcile(session: Session) -> None:
    """Pin the primary revision (the latest created one) when it is not pinned yet."""
    fixed = annotated(await session.objects.must_get(_service(session)))
    if fixed is not None:
        await session.objects.replace(fixed)


async def _finalize(session: Session) -> None:
    """revertOnDeletion: drop the primary-revision annotation."""
    current = await session.objects.get(_service(session))
    if current is not None and (fixed := reverted(current)) is not None:
        await session.objects.replace(fixed)


#: The traffic block of the Knative Service that is the target, and its primary-revision annotation.
ROUTING: Routing = routes_on(
    kinds=(ApiKind(_SERVING, "Service", "services"),),
    route_object=_service,
    set_routes=no_cookies(lambda s, svc, primary, canary: set_routes(svc, s.canary, primary, canary)),
    get_routes=lambda s, svc: Routes(*get_routes(svc, s.canary)),
    reconcile=_reconcile,
    finalize=_finalize,
)
