"""The `apisix` router: an ApisixRoute `<route>-<apex>-canary` beside the user's (Flagger's pkg/router/apisix.go
ApisixRouter).

The Canary's `routeRef` names the user's ApisixRoute. Serinus copies the one HTTP route whose backend is the apex
Service, raises it to priority 10000 so it wins over the user's, and gives it two weighted backends: the primary
(port, resolveGranularity and subset copied from the apex backend) and the canary.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import canary_namespace, canary_owner_reference, service_names
from serinus.routers.routing import ApiKind, Routing, Session, copied, no_cookies, routes_on, stub

Obj = Mapping[str, Any]
API_VERSION = "apisix.apache.org/v2"
MAX_PRIORITY = 10000


def route_ref(canary: Obj) -> str:
    """The user's ApisixRoute name; an error without one."""
    name = str(((canary.get("spec") or {}).get("routeRef") or {}).get("name") or "")
    if not name:
        raise RouterError("apisix route selector is empty")
    return name


def canary_route_name(canary: Obj) -> str:
    """`<route>-<apex>-canary`."""
    return f"{route_ref(canary)}-{service_names(canary)[0]}-canary"


def _target(route: Obj, canary: Obj, service: str) -> int:
    for index, http in enumerate(((route.get("spec") or {}).get("http")) or []):
        if any(b.get("serviceName") == service for b in http.get("backends") or []):
            return index
    raise RouterError(f"Can not find {service} backend on apisix route {route_ref(canary)}.{canary_namespace(canary)} ")


def _canary_spec(user: Obj, canary: Obj) -> dict[str, Any]:
    apex, primary, canary_name = service_names(canary)
    ns = canary_namespace(canary)
    if not ((user.get("spec") or {}).get("http")):
        raise RouterError(f"APISIX route {route_ref(canary)}.{ns}'s spec.http is empty")
    http = copy.deepcopy(user["spec"]["http"][_target(user, canary, apex)])
    backends = http.get("backends") or []
    if len(backends) != 1:
        raise RouterError(
            f"APISIX route {route_ref(canary)}.{ns}'s http route {http.get('name')} only one http backend is supported"
        )
    http["priority"] = MAX_PRIORITY
    first = {**backends[0], "serviceName": primary, "weight": 100}
    second = {
        "serviceName": canary_name,
        "weight": 0,
        **{k: first[k] for k in ("servicePort", "resolveGranularity", "subset") if k in first},
    }
    http["backends"] = [first, second]
    return {**copy.deepcopy(dict(user["spec"])), "http": [http]}


def new_canary_route(user: Obj, canary: Obj, set_owner: bool = True) -> dict[str, Any]:
    """The canary ApisixRoute, from the user's: its labels and annotations, the one route, all to the primary."""
    meta = user.get("metadata") or {}
    out_meta: dict[str, Any] = {
        "name": canary_route_name(canary),
        "namespace": canary_namespace(canary),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
    }
    if set_owner:
        out_meta["ownerReferences"] = [canary_owner_reference(canary)]
    return {"apiVersion": API_VERSION, "kind": "ApisixRoute", "metadata": out_meta, "spec": _canary_spec(user, canary)}


def _without_weights(spec: Obj) -> Any:
    out = copy.deepcopy(dict(spec))
    for http in out.get("http") or []:
        for backend in http.get("backends") or []:
            backend.pop("weight", None)
    return out


def reconciled(existing: Obj, user: Obj, canary: Obj) -> dict[str, Any] | None:
    """The canary ApisixRoute with the user's route again (weights in flight kept), or None."""
    desired = _canary_spec(user, canary)
    if _without_weights(existing.get("spec") or {}) == _without_weights(desired):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = desired
    return out


def set_routes(existing: Obj, canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    """The canary ApisixRoute with the two backend weights."""
    apex, primary, canary_name = service_names(canary)
    if primary_weight == 0 and canary_weight == 0:
        raise RouterError(f"RoutingRule {apex}.{canary_namespace(canary)} update failed: no valid weights")
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    for backend in out["spec"]["http"][_target(out, canary, primary)].get("backends") or []:
        if backend.get("serviceName") == primary:
            backend["weight"] = primary_weight
        elif backend.get("serviceName") == canary_name:
            backend["weight"] = canary_weight
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the primary backend's weight."""
    _, primary, _ = service_names(canary)
    for backend in existing["spec"]["http"][_target(existing, canary, primary)].get("backends") or []:
        if backend.get("serviceName") == primary:
            weight = int(backend.get("weight") or 0)
            return weight, 100 - weight, False
    return 0, 0, False


# ----- on a cluster ---------------------------------------------------------------------------------------------


def _canary_route(session: Session) -> dict[str, Any]:
    return stub(API_VERSION, "ApisixRoute", canary_route_name(session.canary))


async def _read_user_route(session: Session) -> dict[str, Any]:
    name = route_ref(session.canary)
    user = await session.objects.get(stub(API_VERSION, "ApisixRoute", name))
    if user is None:
        raise RouterError(f"APISIX route {name}.{session.objects.namespace} get query error: not found")
    return user


#: The `<route>-<apex>-canary` ApisixRoute beside the user's; nothing to revert (as in Flagger).
ROUTING: Routing = routes_on(
    kinds=(ApiKind(API_VERSION, "ApisixRoute", "apisixroutes"),),
    route_object=_canary_route,
    set_routes=no_cookies(lambda s, route, primary, canary: set_routes(route, s.canary, primary, canary)),
    get_routes=lambda s, route: Routes(*get_routes(route, s.canary)),
    reconcile=copied(
        _read_user_route,
        _canary_route,
        lambda s, user: new_canary_route(user, s.canary),
        lambda s, existing, user: reconciled(existing, user, s.canary),
    ),
)
