"""The `traefik` router: a TraefikService `<apex>` with weighted services (Flagger's pkg/router/traefik.go
TraefikRouter).

The user's IngressRoute points at the TraefikService; Serinus owns its weighted list: the primary always, the
canary only while it has weight.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import apex_object_meta, canary_namespace, service_names
from serinus.routers.routing import ApiKind, Routing, Session, last_desired, managed, no_cookies, routes_on

Obj = Mapping[str, Any]
API_VERSION = "traefik.io/v1alpha1"


def _port(canary: Obj) -> int:
    return int(((canary.get("spec") or {}).get("service") or {}).get("port") or 0)


def _service(canary: Obj, name: str, weight: int) -> dict[str, Any]:
    return {"name": name, "namespace": canary_namespace(canary), "port": _port(canary), "weight": weight}


def traffic_service(canary: Obj, set_owner: bool = True) -> dict[str, Any]:
    """The TraefikService as created: all traffic to the primary."""
    _, primary, _ = service_names(canary)
    return {
        "apiVersion": API_VERSION,
        "kind": "TraefikService",
        "metadata": apex_object_meta(canary, set_owner),
        "spec": {"weighted": {"services": [_service(canary, primary, 100)]}},
    }


def _shape(spec: Obj) -> list[tuple[Any, ...]]:
    services = ((spec.get("weighted") or {}).get("services")) or []
    return [(s.get("name"), s.get("namespace"), s.get("port")) for s in services]


def reconciled(existing: Obj, canary: Obj) -> dict[str, Any] | None:
    """The TraefikService brought back in line (services, ports, metadata; weights in flight ignored), or None.

    As in Flagger, a rewrite resets the weights of the services it lists (the canary keeps its entry when it had
    one)."""
    _, _, canary_name = service_names(canary)
    desired = traffic_service(canary)
    services = desired["spec"]["weighted"]["services"]
    if len(((existing.get("spec") or {}).get("weighted") or {}).get("services") or []) == 2:
        services.append(_service(canary, canary_name, 100))
    meta = existing.get("metadata") or {}
    same = (
        _shape(existing.get("spec") or {}) == _shape(desired["spec"])
        and (meta.get("labels") or {}) == desired["metadata"]["labels"]
        and (meta.get("annotations") or {}) == desired["metadata"]["annotations"]
    )
    if same:
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = desired["spec"]
    out["metadata"] = {
        **out["metadata"],
        "labels": desired["metadata"]["labels"],
        "annotations": desired["metadata"]["annotations"],
    }
    return out


def set_routes(existing: Obj, canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    """The TraefikService with the primary's weight and, while it has some, the canary's."""
    apex, primary, canary_name = service_names(canary)
    if primary_weight == 0 and canary_weight == 0:
        raise RouterError(f"RoutingRule {apex}.{canary_namespace(canary)} update failed: no valid weights")
    services = [_service(canary, primary, primary_weight)]
    if canary_weight > 0:
        services.append(_service(canary, canary_name, canary_weight))
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out.setdefault("spec", {})["weighted"] = {**(out["spec"].get("weighted") or {}), "services": services}
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored): the canary gets what the primary does not."""
    apex, primary, _ = service_names(canary)
    services = (((existing.get("spec") or {}).get("weighted") or {}).get("services")) or []
    if not services:
        raise RouterError(f"TraefikService {apex}.{canary_namespace(canary)} services not found")
    for service in services:
        if service.get("name") == primary:
            weight = int(service.get("weight") or 0)
            return weight, 100 - weight, False
    return 0, 0, False


# ----- on a cluster ---------------------------------------------------------------------------------------------


def _desired(session: Session) -> list[dict[str, Any]]:
    return [traffic_service(session.canary)]


#: The TraefikService `<apex>` the user's IngressRoute points at; nothing to revert (as in Flagger).
ROUTING: Routing = routes_on(
    kinds=(ApiKind(API_VERSION, "TraefikService", "traefikservices"),),
    route_object=last_desired(_desired),
    set_routes=no_cookies(lambda s, ts, primary, canary: set_routes(ts, s.canary, primary, canary)),
    get_routes=lambda s, ts: Routes(*get_routes(ts, s.canary)),
    reconcile=managed(_desired, lambda s, existing, _: reconciled(existing, s.canary)),
)
