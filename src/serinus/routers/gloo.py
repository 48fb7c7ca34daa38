"""The `gloo` router: Gloo Edge Upstreams for primary and canary, and the RouteTable `<apex>` that splits between
them (Flagger's pkg/router/gloo.go GlooRouter). The user's Gloo VirtualService delegates to the RouteTable.

Upstreams are `<ns>-<apex>-primaryupstream-<port>` and `<ns>-<apex>-canaryupstream-<port>`: kube upstreams for the
primary and canary Services, with the settings of the Canary's `upstreamRef` (TLS, circuit breakers, connection
and load-balancer config, HTTP/2...) copied in when it has one; afterwards only the load-balancer config is kept
in line. The RouteTable has one route that inherits the parent's path matchers, the A/B header and method
matchers of the analysis, and the two weighted destinations. As Go does, a weight of 0 is left out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.api.meta import include_by_prefix
from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import (
    apex_object_meta,
    canary_namespace,
    canary_owner_reference,
    reconcile_owned,
    service_names,
)
from serinus.routers.routing import (
    ApiKind,
    Routing,
    Session,
    last_desired,
    managed,
    no_cookies,
    routes_on,
    stub,
)

Obj = Mapping[str, Any]
GATEWAY_API = "gateway.solo.io/v1"
GLOO_API = "gloo.solo.io/v1"
#: the upstreamRef settings copied onto generated upstreams (Flagger's list, JSON names)
COPIED = (
    "labels",
    "sslConfig",
    "circuitBreakers",
    "connectionConfig",
    "loadBalancerConfig",
    "useHttp2",
    "initialStreamWindowSize",
    "initialConnectionWindowSize",
    "httpProxyHostName",
)


def upstream_names(canary: Obj) -> tuple[str, str]:
    """(primary, canary) upstream names."""
    apex, _, _ = service_names(canary)
    port = ((canary.get("spec") or {}).get("service") or {}).get("port")
    ns = canary_namespace(canary)
    return f"{ns}-{apex}-primaryupstream-{port}", f"{ns}-{apex}-canaryupstream-{port}"


def upstream(
    canary: Obj,
    name: str,
    service: str,
    selector: Mapping[str, str],
    config: Obj | None,
    include_label_prefixes: tuple[str, ...] = (),
    set_owner: bool = True,
) -> dict[str, Any]:
    """A kube Upstream for `service`, with the config upstream's settings when the Canary names one."""
    spec: dict[str, Any] = {
        k: copy.deepcopy(v)
        for k, v in ((config or {}).get("spec") or {}).items()
        if k in COPIED and v not in (None, "", 0, False, {}, [])
    }
    ns = canary_namespace(canary)
    spec["kube"] = {
        "serviceName": service,
        "serviceNamespace": ns,
        "servicePort": ((canary.get("spec") or {}).get("service") or {}).get("port"),
        "selector": dict(selector),
    }
    labels = include_by_prefix(spec.get("labels"), include_label_prefixes)
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
    if set_owner:
        meta["ownerReferences"] = [canary_owner_reference(canary)]
    return {"apiVersion": GLOO_API, "kind": "Upstream", "metadata": meta, "spec": spec}


def upstream_drift(existing: Obj, config: Obj | None) -> dict[str, Any] | None:
    """The merge patch that brings an existing upstream's loadBalancerConfig back to the config upstream's, or
    None (nothing else is kept in line, as in Flagger, whose plain merge patch can leave the old policy beside the
    new one; this one cannot)."""
    if config is None:
        return None
    wanted = (config.get("spec") or {}).get("loadBalancerConfig")
    have = (existing.get("spec") or {}).get("loadBalancerConfig")
    if have == wanted:
        return None
    return {"spec": {"loadBalancerConfig": _replacing(have, wanted)}}


def _replacing(old: Any, new: Any) -> Any:
    """A merge-patch value that turns `old` into `new` exactly: keys `new` drops are set to null (a plain merge
    patch would leave `roundRobin` beside a new `leastRequest`)."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    return {**{k: None for k in old if k not in new}, **{k: _replacing(old.get(k), v) for k, v in new.items()}}


def _matchers(canary: Obj) -> list[dict[str, Any]] | None:
    matches = ((canary.get("spec") or {}).get("analysis") or {}).get("match") or []
    headers: list[dict[str, Any]] = []
    methods: list[str] = []
    for match in matches:
        for name, rule in (match.get("headers") or {}).items():
            if rule.get("regex"):
                headers.append({"name": name, "value": rule["regex"], "regex": True})
            else:
                headers.append({"name": name, **({"value": rule["exact"]} if rule.get("exact") else {})})
        method = match.get("method")
        if method is not None:
            methods.append(method.get("exact") or "")
    if not headers and not methods:
        return None
    matcher: dict[str, Any] = {}
    if headers:
        matcher["headers"] = headers
    if methods:
        matcher["methods"] = methods
    return [matcher]


def _destination(canary: Obj, name: str, weight: int) -> dict[str, Any]:
    out: dict[str, Any] = {"destination": {"upstream": {"name": name, "namespace": canary_namespace(canary)}}}
    if weight:
        out["weight"] = weight
    return out


def _spec(canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    primary, canary_upstream = upstream_names(canary)
    route: dict[str, Any] = {}
    matchers = _matchers(canary)
    if matchers:
        route["matchers"] = matchers
    route["routeAction"] = {
        "multi": {
            "destinations": [
                _destination(canary, primary, primary_weight),
                _destination(canary, canary_upstream, canary_weight),
            ]
        }
    }
    route["inheritablePathMatchers"] = True
    return {"routes": [route]}


def route_table(canary: Obj, set_owner: bool = True) -> dict[str, Any]:
    """The RouteTable as created: all traffic to the primary upstream."""
    return {
        "apiVersion": GATEWAY_API,
        "kind": "RouteTable",
        "metadata": apex_object_meta(canary, set_owner),
        "spec": _spec(canary, 100, 0),
    }


def _without_weights(spec: Obj) -> Any:
    out = copy.deepcopy(dict(spec))
    for route in out.get("routes") or []:
        for dest in ((route.get("routeAction") or {}).get("multi") or {}).get("destinations") or []:
            dest.pop("weight", None)
    return out


def reconciled(existing: Obj, canary: Obj) -> dict[str, Any] | None:
    """The RouteTable brought back in line (weights in flight ignored), or None; a rewrite resets the weights."""
    desired = route_table(canary)
    return reconcile_owned(
        existing, desired["spec"], desired["metadata"]["labels"], desired["metadata"]["annotations"], _without_weights
    )


def set_routes(existing: Obj, canary: Obj, primary_weight: int, canary_weight: int) -> dict[str, Any]:
    """The RouteTable with the new weights."""
    apex, _, _ = service_names(canary)
    if primary_weight == 0 and canary_weight == 0:
        raise RouterError(f"RoutingRule {apex}.{canary_namespace(canary)} update failed: no valid weights")
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = _spec(canary, primary_weight, canary_weight)
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the first route's primary destination."""
    apex, _, _ = service_names(canary)
    primary, _ = upstream_names(canary)
    routes = (existing.get("spec") or {}).get("routes") or [{}]
    destinations = ((routes[0].get("routeAction") or {}).get("multi") or {}).get("destinations") or []
    if len(destinations) < 2:
        raise RouterError(f"RouteTable {apex}.{canary_namespace(canary)} destinations not found")
    for dest in destinations:
        if ((dest.get("destination") or {}).get("upstream") or {}).get("name") == primary:
            weight = int(dest.get("weight") or 0)
            return weight, 100 - weight, False
    return 0, 0, False


# ----- on a cluster ---------------------------------------------------------------------------------------------


async def _config_upstream(session: Session) -> dict[str, Any] | None:
    """The Upstream spec.upstreamRef names (in its namespace, else the Canary's), or None without one."""
    ref = (session.canary.get("spec") or {}).get("upstreamRef")
    if not ref:
        return None
    like = {"apiVersion": GLOO_API, "kind": "Upstream", "metadata": {"name": ref.get("name")}}
    found = await session.objects.elsewhere(ref.get("namespace") or session.objects.namespace).get(like)
    if found is None:
        raise RouterError(f"config upstream {ref.get('name')}.{session.objects.namespace} get query error: not found")
    return found


def _desired(session: Session) -> list[dict[str, Any]]:
    return [route_table(session.canary)]


_route_table = managed(_desired, lambda s, existing, _: reconciled(existing, s.canary))


async def _reconcile(session: Session) -> None:
    """The two Upstreams (created from the Services, load-balancer config kept in line), then the RouteTable."""
    config = await _config_upstream(session)
    _, primary_svc, canary_svc = service_names(session.canary)
    for name, svc in zip(upstream_names(session.canary), (primary_svc, canary_svc), strict=True):
        like = stub(GLOO_API, "Upstream", name)
        existing = await session.objects.get(like)
        if existing is not None:
            patch = upstream_drift(existing, config)
            if patch is not None:
                await session.objects.patch(like, patch)
            continue
        service = await session.objects.must_get(stub("v1", "Service", svc))
        selector = (service.get("spec") or {}).get("selector") or {}
        await session.objects.create(
            upstream(session.canary, name, svc, selector, config, session.options.include_label_prefixes)
        )
    await _route_table(session)


#: Upstreams for the primary and canary Services (the operator's --include-label-prefix labels copied on), and the
#: RouteTable `<apex>` between them; nothing to revert (as in Flagger).
ROUTING: Routing = routes_on(
    kinds=(
        ApiKind(GATEWAY_API, "RouteTable", "routetables"),
        ApiKind(GLOO_API, "Upstream", "upstreams"),
        ApiKind("v1", "Service", "services"),
    ),
    route_object=last_desired(_desired),
    set_routes=no_cookies(lambda s, table, primary, canary: set_routes(table, s.canary, primary, canary)),
    get_routes=lambda s, table: Routes(*get_routes(table, s.canary)),
    reconcile=_reconcile,
)
