"""The `appmesh:v1beta2` router: App Mesh VirtualNodes, VirtualRouters and VirtualServices (Flagger's
pkg/router/appmesh_v1beta2.go AppMeshv1beta2Router).

- VirtualNodes `<apex>-primary` and `<apex>-canary`: one listener on the container port (http, or grpc when the
  port name says so) with the service timeout, DNS discovery of the matching Service, a pod selector on the
  target's selector label, the Canary's backends, and an access log when `appmesh.flagger.app/accesslog` is
  `enabled`.
- VirtualRouters and VirtualServices `<apex>` and `<apex>-canary`: the first splits between the nodes, the second
  always sends everything to the canary node (for tests against the canary alone). The route matches
  `service.match[0].uri.prefix` (default `/`) with the Canary's timeout and retry policy; with A/B matches the
  apex router has `<apex>-a` (priority 10, the header matches) and `<apex>-b` (priority 20, all to the primary).
- VirtualServices are created with their router; the apex one carries the `gateway.appmesh.k8s.aws/*`
  annotations when the Canary has hosts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.api.duration import parse_duration
from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import apex_metadata, canary_namespace, canary_owner_reference, service_names
from serinus.routers.routing import ApiKind, Routing, Session, no_cookies, routes_on

Obj = Mapping[str, Any]
API_VERSION = "appmesh.k8s.aws/v1beta2"
ACCESS_LOG = "appmesh.flagger.app/accesslog"


def _service(canary: Obj) -> dict[str, Any]:
    return dict((canary.get("spec") or {}).get("service") or {})


def _port(canary: Obj) -> int:
    service = _service(canary)
    target = service.get("targetPort")
    return int(target) if isinstance(target, int) and target > 0 else int(service.get("port") or 0)


def _protocol(canary: Obj) -> str:
    return "grpc" if "grpc" in str(_service(canary).get("portName") or "") else "http"


def _ms(text: str) -> int | None:
    try:
        return parse_duration(text) // 1_000_000 if text else None
    except ValueError:
        return None


def _route_timeout(canary: Obj) -> dict[str, Any] | None:
    ms = _ms(str(_service(canary).get("timeout") or ""))
    return {"perRequest": {"unit": "ms", "value": ms}} if ms is not None else None


def _retry_policy(canary: Obj) -> dict[str, Any] | None:
    retries = _service(canary).get("retries")
    if retries is None:
        return None
    per_try = _ms(str(retries.get("perTryTimeout") or ""))
    events = str(retries.get("retryOn") or "").split(",") if retries.get("retryOn") else ["gateway-error"]
    return {
        "httpRetryEvents": events,
        "maxRetries": int(retries.get("attempts") or 0) or 1,
        "perRetryTimeout": {"unit": "ms", "value": per_try if per_try is not None else 250},
    }


def _meta(
    canary: Obj,
    name: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    set_owner: bool = True,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": canary_namespace(canary)}
    if labels is not None:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if set_owner:
        meta["ownerReferences"] = [canary_owner_reference(canary)]
    return meta


def virtual_node(canary: Obj, name: str, pod_value: str, label: str) -> dict[str, Any]:
    """The VirtualNode `name` for the pods whose `label` is `pod_value`."""
    host = f"{name}.{canary_namespace(canary)}.svc.cluster.local."
    listener: dict[str, Any] = {"portMapping": {"port": _port(canary), "protocol": _protocol(canary)}}
    timeout = _route_timeout(canary)
    if timeout is not None:
        listener["timeout"] = {"http": timeout}
    spec: dict[str, Any] = {
        "listeners": [listener],
        "serviceDiscovery": {"dns": {"hostname": host}},
        "podSelector": {"matchLabels": {label: pod_value}},
    }
    backends = [
        {"virtualService": {"virtualServiceARN": b} if b.startswith("arn:aws") else {"virtualServiceRef": {"name": b}}}
        for b in _service(canary).get("backends") or []
    ]
    if backends:
        spec["backends"] = backends
    if ((canary.get("metadata") or {}).get("annotations") or {}).get(ACCESS_LOG) == "enabled":
        spec["logging"] = {"accessLog": {"file": {"path": "/dev/stdout"}}}
    labels, annotations = apex_metadata(canary)
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualNode",
        "metadata": _meta(canary, name, labels, annotations),
        "spec": spec,
    }


def virtual_nodes(canary: Obj, label: str) -> list[dict[str, Any]]:
    """The primary and canary VirtualNodes."""
    _, primary, canary_name = service_names(canary)
    target = ((canary.get("spec") or {}).get("targetRef") or {}).get("name", "")
    return [virtual_node(canary, primary, f"{target}-primary", label), virtual_node(canary, canary_name, target, label)]


def _targets(canary: Obj, canary_weight: int) -> dict[str, Any]:
    _, primary, canary_name = service_names(canary)
    return {
        "weightedTargets": [
            {"virtualNodeRef": {"name": canary_name}, "weight": canary_weight},
            {"virtualNodeRef": {"name": primary}, "weight": 100 - canary_weight},
        ]
    }


def _http_route(canary: Obj, prefix: str, action: dict[str, Any], headers: list[Any] | None = None) -> dict[str, Any]:
    match: dict[str, Any] = {"prefix": prefix}
    if headers:
        match["headers"] = headers
    route: dict[str, Any] = {"match": match, "action": action}
    timeout, retry = _route_timeout(canary), _retry_policy(canary)
    if timeout is not None:
        route["timeout"] = timeout
    if retry is not None:
        route["retryPolicy"] = retry
    return route


def _headers(canary: Obj) -> list[dict[str, Any]]:
    out = []
    for match in ((canary.get("spec") or {}).get("analysis") or {}).get("match") or []:
        for name, rule in (match.get("headers") or {}).items():
            kinds = {k: rule[k] for k in ("exact", "prefix", "regex", "suffix") if rule.get(k)}
            out.append({"name": name, "match": kinds})
    return out


def virtual_router(canary: Obj, name: str, canary_weight: int) -> dict[str, Any]:
    """The VirtualRouter `name`: the apex one (canary weight 0) or `<apex>-canary` (everything to the canary)."""
    apex, primary, _ = service_names(canary)
    uri = ((_service(canary).get("match") or [{}])[0] or {}).get("uri") or {}
    prefix = uri.get("prefix") or "/"
    analysis_match = ((canary.get("spec") or {}).get("analysis") or {}).get("match") or []
    if analysis_match and canary_weight == 0:
        routes = [
            {
                "name": f"{apex}-a",
                "priority": 10,
                "httpRoute": _http_route(canary, prefix, _targets(canary, 0), _headers(canary)),
            },
            {
                "name": f"{apex}-b",
                "priority": 20,
                "httpRoute": _http_route(
                    canary, prefix, {"weightedTargets": [{"virtualNodeRef": {"name": primary}, "weight": 100}]}
                ),
            },
        ]
    else:
        routes = [{"name": name, "httpRoute": _http_route(canary, prefix, _targets(canary, canary_weight))}]
    spec = {"listeners": [{"portMapping": {"port": _port(canary), "protocol": _protocol(canary)}}], "routes": routes}
    return {"apiVersion": API_VERSION, "kind": "VirtualRouter", "metadata": _meta(canary, name), "spec": spec}


def virtual_service(canary: Obj, name: str, apex: bool) -> dict[str, Any]:
    """The VirtualService `name` provided by the VirtualRouter of the same name."""
    annotations: dict[str, str] = {}
    service = _service(canary)
    if apex and service.get("hosts"):
        annotations = {
            "gateway.appmesh.k8s.aws/expose": "true",
            "gateway.appmesh.k8s.aws/domain": "".join(f"{h}," for h in service["hosts"]),
        }
        if service.get("timeout"):
            annotations["gateway.appmesh.k8s.aws/timeout"] = str(service["timeout"])
        if (service.get("retries") or {}).get("attempts"):
            annotations["gateway.appmesh.k8s.aws/retries"] = str(service["retries"]["attempts"])
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualService",
        "metadata": _meta(canary, name, annotations=annotations),
        "spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": name}}}},
    }


def routers(canary: Obj) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(VirtualRouter, VirtualService) for the apex and for `<apex>-canary`."""
    apex, _, canary_name = service_names(canary)
    return [
        (virtual_router(canary, apex, 0), virtual_service(canary, apex, True)),
        (virtual_router(canary, canary_name, 100), virtual_service(canary, canary_name, False)),
    ]


_AWS = ("awsName", "meshRef")


def node_reconciled(existing: Obj, desired: Obj) -> dict[str, Any] | None:
    """The VirtualNode brought back in line (App Mesh's awsName and meshRef kept), or None."""
    spec = {k: v for k, v in (existing.get("spec") or {}).items() if k not in _AWS}
    meta = existing.get("metadata") or {}
    if (
        spec == desired["spec"]
        and (meta.get("labels") or {}) == desired["metadata"].get("labels", {})
        and (meta.get("annotations") or {}) == desired["metadata"].get("annotations", {})
    ):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    kept = {k: v for k, v in (existing.get("spec") or {}).items() if k in _AWS}
    out["spec"] = {**copy.deepcopy(desired["spec"]), **kept}
    out["metadata"] = {
        **out["metadata"],
        "labels": desired["metadata"].get("labels", {}),
        "annotations": desired["metadata"].get("annotations", {}),
    }
    return out


def _without_targets(spec: Obj) -> Any:
    out = {k: copy.deepcopy(v) for k, v in spec.items() if k not in _AWS}
    for route in out.get("routes") or []:
        (route.get("httpRoute") or {}).pop("action", None)
    return out


def router_reconciled(existing: Obj, desired: Obj) -> dict[str, Any] | None:
    """The VirtualRouter brought back in line, keeping the first route's weighted targets in flight, or None."""
    if _without_targets(existing.get("spec") or {}) == _without_targets(desired["spec"]):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    spec = copy.deepcopy(dict(desired["spec"]))
    old_routes = (existing.get("spec") or {}).get("routes") or []
    if old_routes and (old_routes[0].get("httpRoute") or {}).get("action") is not None:
        spec["routes"][0]["httpRoute"]["action"] = copy.deepcopy(old_routes[0]["httpRoute"]["action"])
    spec.update({k: v for k, v in (existing.get("spec") or {}).items() if k in _AWS})
    out["spec"] = spec
    return out


def set_routes(existing: Obj, canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    """The apex VirtualRouter with the first route's targets at the new weights."""
    _, primary, canary_name = service_names(canary)
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"]["routes"][0]["httpRoute"]["action"] = {
        "weightedTargets": [
            {"virtualNodeRef": {"name": canary_name}, "weight": canary_weight},
            {"virtualNodeRef": {"name": primary}, "weight": primary_weight},
        ]
    }
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the first route's weighted targets."""
    apex, primary, canary_name = service_names(canary)
    routes = (existing.get("spec") or {}).get("routes") or []
    targets = (((routes[0].get("httpRoute") or {}).get("action") or {}).get("weightedTargets") or []) if routes else []
    if len(targets) != 2:
        raise RouterError(f"VirtualRouter routes {apex} not found")
    weights = {(t.get("virtualNodeRef") or {}).get("name"): int(t.get("weight") or 0) for t in targets}
    primary_weight, canary_weight = weights.get(primary, 0), weights.get(canary_name, 0)
    if primary_weight == 0 and canary_weight == 0:
        raise RouterError(f"VirtualRouter {apex} does not contain routes for {apex}-primary and {apex}-canary")
    return primary_weight, canary_weight, False


# ----- on a cluster ---------------------------------------------------------------------------------------------


async def _reconcile(session: Session) -> None:
    """Nodes created or brought in line; each router created with its service, or brought in line with its weights
    kept."""
    objects = session.objects
    for node in virtual_nodes(session.canary, session.options.label):
        existing = await objects.get(node)
        if existing is None:
            await objects.create(node)
        elif (fixed := node_reconciled(existing, node)) is not None:
            await objects.replace(fixed)
    for router, service in routers(session.canary):
        existing = await objects.get(router)
        if existing is None:
            await objects.create(router)
            await objects.create(service)
        elif (fixed := router_reconciled(existing, router)) is not None:
            await objects.replace(fixed)


#: VirtualNodes for primary and canary (selecting pods by the operator's --selector-labels), VirtualRouters and
#: VirtualServices for the apex and the canary; routes on the apex router; nothing to revert (as in Flagger).
ROUTING: Routing = routes_on(
    kinds=tuple(
        ApiKind(API_VERSION, kind, plural)
        for kind, plural in (
            ("VirtualNode", "virtualnodes"),
            ("VirtualRouter", "virtualrouters"),
            ("VirtualService", "virtualservices"),
        )
    ),
    route_object=lambda s: routers(s.canary)[0][0],
    set_routes=no_cookies(lambda s, router, primary, canary: set_routes(router, s.canary, primary, canary)),
    get_routes=lambda s, router: Routes(*get_routes(router, s.canary)),
    reconcile=_reconcile,
)
