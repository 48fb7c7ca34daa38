"""The `kuma` router: a cluster-scoped TrafficRoute `<apex>` splitting between the primary and canary Kuma services
(Flagger's pkg/router/kuma.go KumaRouter).

Kuma names a service `<name>_<namespace>_svc_<port>`. The TrafficRoute is cluster scoped, so it carries no owner
reference (a namespaced Canary cannot own it) and is left in place when the Canary goes, as in Flagger. Its mesh is
the Canary's `kuma.io/mesh` annotation, `default` without one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import apex_metadata, canary_namespace, reconcile_owned, service_names
from serinus.routers.routing import ApiKind, Routing, Session, last_desired, managed, no_cookies, routes_on

Obj = Mapping[str, Any]
API_VERSION = "kuma.io/v1alpha1"
SERVICE_TAG = "kuma.io/service"


def kuma_service(canary: Obj, name: str) -> str:
    """Kuma's service tag for a Kubernetes Service of the Canary's namespace and port."""
    port = ((canary.get("spec") or {}).get("service") or {}).get("port")
    return f"{name}_{canary_namespace(canary)}_svc_{port}"


def _split(canary: Obj, primary_weight: int, canary_weight: int) -> list[dict[str, Any]]:
    _, primary, canary_name = service_names(canary)
    return [
        {"weight": primary_weight, "destination": {SERVICE_TAG: kuma_service(canary, primary)}},
        {"weight": canary_weight, "destination": {SERVICE_TAG: kuma_service(canary, canary_name)}},
    ]


def _spec(canary: Obj) -> dict[str, Any]:
    apex, _, _ = service_names(canary)
    return {
        "sources": [{"match": {SERVICE_TAG: "*"}}],
        "destinations": [{"match": {SERVICE_TAG: kuma_service(canary, apex)}}],
        "conf": {"split": _split(canary, 100, 0)},
    }


def traffic_route(canary: Obj) -> dict[str, Any]:
    """The TrafficRoute as created: every source, the apex destination, all traffic to the primary."""
    apex, _, _ = service_names(canary)
    labels, annotations = apex_metadata(canary)
    mesh = ((canary.get("metadata") or {}).get("annotations") or {}).get("kuma.io/mesh") or "default"
    return {
        "apiVersion": API_VERSION,
        "kind": "TrafficRoute",
        "mesh": mesh,
        "metadata": {"name": apex, "labels": labels, "annotations": annotations},
        "spec": _spec(canary),
    }


def _without_weights(spec: Obj) -> Any:
    out = copy.deepcopy(dict(spec))
    for split in (out.get("conf") or {}).get("split") or []:
        split.pop("weight", None)
    return out


def reconciled(existing: Obj, canary: Obj) -> dict[str, Any] | None:
    """The TrafficRoute brought back in line (the spec keys and metadata Serinus writes; weights in flight
    ignored), or None. As in Flagger, a rewrite sends all traffic back to the primary."""
    desired = traffic_route(canary)
    return reconcile_owned(
        existing, desired["spec"], desired["metadata"]["labels"], desired["metadata"]["annotations"], _without_weights
    )


def set_routes(existing: Obj, canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    """The TrafficRoute with the new split."""
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out.setdefault("spec", {})["conf"] = {"split": _split(canary, primary_weight, canary_weight)}
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored): the primary's split and the rest for the canary."""
    apex, primary, canary_name = service_names(canary)
    for split in (((existing.get("spec") or {}).get("conf") or {}).get("split")) or []:
        if str((split.get("destination") or {}).get(SERVICE_TAG, "")).split("_")[0] == primary:
            weight = int(split.get("weight") or 0)
            return weight, 100 - weight, False
    raise RouterError(f"TrafficRoute {apex} does not contain routes for {primary} and {canary_name}")


# ----- on a cluster ---------------------------------------------------------------------------------------------


def _desired(session: Session) -> list[dict[str, Any]]:
    return [traffic_route(session.canary)]


#: The cluster-scoped TrafficRoute `<apex>` between the primary and canary Kuma services; nothing to revert (as in
#: Flagger).
ROUTING: Routing = routes_on(
    kinds=(ApiKind(API_VERSION, "TrafficRoute", "trafficroutes", namespaced=False),),
    route_object=last_desired(_desired),
    set_routes=no_cookies(lambda s, route, primary, canary: set_routes(route, s.canary, primary, canary)),
    get_routes=lambda s, route: Routes(*get_routes(route, s.canary)),
    reconcile=managed(_desired, lambda s, existing, _: reconciled(existing, s.canary)),
)
