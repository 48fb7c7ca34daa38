"""The `contour` router: an HTTPProxy `<apex>` splitting traffic between the primary and canary Services
(Flagger's pkg/router/contour.go ContourRouter). The proxy is not a root: the user's root HTTPProxy `include`s
it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import apex_metadata, canary_namespace, canary_owner_reference, service_names
from serinus.routers.routing import ApiKind, Routing, Session, last_desired, managed, no_cookies, routes_on

Obj = Mapping[str, Any]
API_VERSION = "projectcontour.io/v1"
LINKERD_HEADER = "l5d-dst-override"


def _service(canary: Obj) -> Obj:
    return (canary.get("spec") or {}).get("service") or {}


def _analysis(canary: Obj) -> Obj:
    spec = canary.get("spec") or {}
    return spec.get("analysis") or spec.get("canaryAnalysis") or {}


def prefix(canary: Obj) -> str:
    """The path prefix: the first service.match's uri.prefix, else `/`."""
    match = _service(canary).get("match") or []
    uri = (match[0].get("uri") or {}) if match else {}
    return str(uri.get("prefix") or "/")


def _backend(canary: Obj, name: str, weight: int) -> dict[str, Any]:
    port = int(_service(canary).get("port") or 0)
    out: dict[str, Any] = {"name": name, "port": port}
    if weight:
        out["weight"] = weight  # Go omits a zero weight
    out["requestHeadersPolicy"] = {
        "set": [{"name": LINKERD_HEADER, "value": f"{name}.{canary_namespace(canary)}.svc.cluster.local:{port}"}]
    }
    return out


def _route(canary: Obj, conditions: list[dict[str, Any]], primary: int, canary_weight: int) -> dict[str, Any]:
    _, primary_name, canary_name = service_names(canary)
    route: dict[str, Any] = {"conditions": conditions}
    service = _service(canary)
    if service.get("timeout"):
        route["timeoutPolicy"] = {"response": service["timeout"], "idle": "5m"}
    retries = service.get("retries")
    if retries:
        policy: dict[str, Any] = {}
        if retries.get("attempts"):
            policy["count"] = int(retries["attempts"])
        if retries.get("perTryTimeout"):
            policy["perTryTimeout"] = retries["perTryTimeout"]
        if retries.get("retryOn"):
            policy["retryOn"] = str(retries["retryOn"]).split(",")
        route["retryPolicy"] = policy
    route["services"] = [_backend(canary, primary_name, primary), _backend(canary, canary_name, canary_weight)]
    return route


def conditions(canary: Obj) -> list[dict[str, Any]]:
    """The A/B conditions: one per header match (exact; prefix and suffix become `contains`)."""
    out: list[dict[str, Any]] = []
    for match in _analysis(canary).get("match") or []:
        for name, string in sorted((match.get("headers") or {}).items()):
            header: dict[str, Any] = {"name": name}
            if string.get("prefix"):
                header["contains"] = string["prefix"]
            elif string.get("suffix"):
                header["contains"] = string["suffix"]
            else:
                header["exact"] = string.get("exact", "")
            out.append({"prefix": prefix(canary), "header": header})
    return out or [{"prefix": prefix(canary)}]


def proxy_spec(canary: Obj, primary: int, canary_weight: int, ingress_class: str = "") -> dict[str, Any]:
    """The HTTPProxy spec for these weights: one weighted route, or with A/B the matched route then the rest
    to the primary."""
    if _analysis(canary).get("match"):
        routes = [
            _route(canary, conditions(canary), primary, canary_weight),
            _route(canary, [{"prefix": prefix(canary)}], 100, 0),
        ]
    else:
        routes = [_route(canary, [{"prefix": prefix(canary)}], primary, canary_weight)]
    spec: dict[str, Any] = {"routes": routes}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    return spec


def http_proxy(canary: Obj, ingress_class: str = "", set_owner: bool = True) -> dict[str, Any]:
    """The HTTPProxy as created: all traffic to the primary."""
    labels, annotations = apex_metadata(canary)
    meta: dict[str, Any] = {
        "name": service_names(canary)[0],
        "namespace": canary_namespace(canary),
        "labels": labels,
        "annotations": annotations,
    }
    if set_owner:
        meta["ownerReferences"] = [canary_owner_reference(canary)]
    return {
        "apiVersion": API_VERSION,
        "kind": "HTTPProxy",
        "metadata": meta,
        "spec": proxy_spec(canary, 100, 0, ingress_class),
    }


def _without_weights(spec: Obj) -> Any:
    spec = copy.deepcopy(dict(spec))
    for route in spec.get("routes") or []:
        for service in route.get("services") or []:
            service.pop("weight", None)
    return spec


def reconciled(existing: Obj, canary: Obj, ingress_class: str = "") -> dict[str, Any] | None:
    """The HTTPProxy brought back in line (weights in flight ignored when comparing), or None."""
    desired = http_proxy(canary, ingress_class)
    meta = existing.get("metadata") or {}
    same = (
        _without_weights(existing.get("spec") or {}) == _without_weights(desired["spec"])
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


def set_routes(existing: Obj, canary: Obj, primary: int, canary_weight: int, ingress_class: str = "") -> dict[str, Any]:
    """The HTTPProxy with these weights; (0, 0) is refused, as in Flagger."""
    if primary == 0 and canary_weight == 0:
        raise RouterError(
            f"HTTPProxy {service_names(canary)[0]}.{canary_namespace(canary)} update failed: no valid weights"
        )
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = proxy_spec(canary, primary, canary_weight, ingress_class)
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the first route: the canary gets what the primary does not."""
    apex, primary_name, _ = service_names(canary)
    routes = (existing.get("spec") or {}).get("routes") or []
    if not routes or len(routes[0].get("services") or []) < 2:
        raise RouterError(f"HTTPProxy {apex}.{canary_namespace(canary)} services not found")
    for service in routes[0]["services"]:
        if service.get("name") == primary_name:
            weight = int(service.get("weight") or 0)
            return weight, 100 - weight, False
    return 0, 0, False


# ----- on a cluster ---------------------------------------------------------------------------------------------


def _desired(session: Session) -> list[dict[str, Any]]:
    return [http_proxy(session.canary, session.options.ingress_class)]


#: The HTTPProxy `<apex>` the user's root proxy includes, with the operator's --ingress-class; nothing to revert (as
#: in Flagger).
ROUTING: Routing = routes_on(
    kinds=(ApiKind(API_VERSION, "HTTPProxy", "httpproxies"),),
    route_object=last_desired(_desired),
    set_routes=no_cookies(
        lambda s, proxy, primary, canary: set_routes(proxy, s.canary, primary, canary, s.options.ingress_class)
    ),
    get_routes=lambda s, proxy: Routes(*get_routes(proxy, s.canary)),
    reconcile=managed(_desired, lambda s, existing, _: reconciled(existing, s.canary, s.options.ingress_class)),
)
