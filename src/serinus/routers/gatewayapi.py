"""The `gatewayapi:v1` and `gatewayapi:v1beta1` routers: the HTTPRoute `<apex>` as Flagger's GatewayAPIRouter and
GatewayAPIV1Beta1Router write it (pkg/router/gateway_api.go and gateway_api_v1beta1.go: SetRoutes, GetRoutes,
getSessionAffinityRouteRules).

Pure functions over Kubernetes JSON: `http_route` (built in gatewayapi_spec), set_routes / get_routes over an
HTTPRoute (its apiVersion picks the variant), and the reconcile diff that never resets in-flight weights, keeps
annotations other controllers added, and does not fight the apiserver's schema defaults. Finalize is a no-op:
the HTTPRoute stays.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers import affinity
from serinus.routers.gatewayapi_spec import (
    DEFAULT_MATCH,
    GROUP,
    Version,
    analysis_matches,
    api_version,
    backend_ref,
    http_route,
    merge_matches,
    mirror_filter,
    route_matches,
    route_spec,
    rule,
    service_matches,
    version_of,
)
from serinus.routers.istio_spec import analysis_of, service_of
from serinus.routers.kubernetes import canary_namespace, service_names
from serinus.routers.routing import ApiKind, Routing, Session, last_desired, managed, routes_on

__all__ = ["ROUTING", "api_version", "get_routes", "http_route", "reconciled", "set_routes"]

Obj = Mapping[str, Any]
#: The spec keys Serinus owns; any other key a user adds is kept.
OWNED_SPEC_KEYS = ("parentRefs", "hostnames", "rules")
IN_PROGRESS = ("Waiting", "Progressing", "WaitingPromotion")


def _cookie_match(cookie: str) -> dict[str, Any]:
    return {
        "headers": [
            {"name": affinity.COOKIE_HEADER, "type": "RegularExpression", "value": affinity.cookie_regex(cookie)}
        ]
    }


def _set_cookie(value: str) -> dict[str, Any]:
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": affinity.SET_COOKIE_HEADER, "value": value}]},
    }


def _sticky_rules(
    canary: Obj, version: Version, sa: Obj, canary_weight: int, weighted: dict[str, Any], cookies: affinity.Cookies
) -> list[dict[str, Any]]:
    _, primary, canary_svc = service_names(canary)
    port = int(service_of(canary)["port"])
    with_primary = version == "v1" and bool(sa.get("primaryCookieName"))
    if canary_weight != 0:
        for backend in weighted["backendRefs"]:
            if backend["name"] == canary_svc:
                cookie = affinity.build_cookie(sa, cookies.session, affinity.max_age(sa))
                backend["filters"] = [*backend.get("filters", []), _set_cookie(cookie)]
            elif backend["name"] == primary and with_primary:
                cookie = affinity.build_cookie(sa, cookies.primary, affinity.interval_seconds(canary))
                backend["filters"] = [*backend.get("filters", []), _set_cookie(cookie)]
        matches = route_matches(service_of(canary).get("match"))
        sticky_canary = {
            **copy.deepcopy(weighted),
            "matches": merge_matches([_cookie_match(cookies.session)], matches),
            "backendRefs": [backend_ref(primary, 0, port), backend_ref(canary_svc, 100, port)],
        }
        if not with_primary:
            return [sticky_canary, weighted]
        sticky_primary = {
            **copy.deepcopy(weighted),
            "matches": merge_matches([_cookie_match(cookies.primary)], matches),
            "backendRefs": [backend_ref(primary, 100, port), backend_ref(canary_svc, 0, port)],
        }
        return [sticky_canary, sticky_primary, weighted]
    sticky = copy.deepcopy(weighted)
    if cookies.previous:
        try:
            matches = route_matches(service_of(canary).get("match"))
        except RouterError:
            matches = []
        sticky["matches"] = merge_matches([_cookie_match(cookies.previous)], matches)
        sticky["filters"] = [*sticky.get("filters", []), _set_cookie(affinity.deletion_cookie(cookies.previous))]
    return [sticky, weighted]


def set_routes(
    route: Obj,
    canary: Obj,
    primary_weight: int,
    canary_weight: int,
    mirrored: bool,
    *,
    rand: Callable[[], str] = affinity.random_value,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the HTTPRoute with its spec rewritten, the status cookies to persist or {}).

    The weighted rule (plus a RequestMirror to the canary when mirrored in blue/green, i.e. iterations > 0); sticky
    rules before it with session affinity (v1beta1: the canary cookie only); with analysis.match the first rule
    gets the merged A/B matches and a last rule sends the service matches to the primary."""
    version = version_of(route)
    out: dict[str, Any] = copy.deepcopy(dict(route))
    spec = route_spec(canary, version, primary_weight, canary_weight)
    weighted = rule(canary, version, service_matches(canary), spec["rules"][0]["backendRefs"])
    if mirrored and int(analysis_of(canary).get("iterations") or 0) > 0:
        weighted["filters"] = [*weighted.get("filters", []), mirror_filter(canary)]
    rules = [weighted]
    status: dict[str, str] = {}
    sa = affinity.session_affinity(canary)
    if sa is not None:
        cookies = affinity.advance(
            affinity.Cookies.from_status(canary.get("status")),
            sa,
            canary_weight,
            with_primary=version == "v1",
            rand=rand,
        )
        rules = _sticky_rules(canary, version, sa, canary_weight, weighted, cookies)
        status = cookies.as_status()
    if analysis_of(canary).get("match"):
        matches = service_matches(canary)
        rules[0]["matches"] = merge_matches(analysis_matches(canary), matches)
        port = int(service_of(canary)["port"])
        rules.append(rule(canary, version, matches, [backend_ref(service_names(canary)[1], 100, port)]))
    spec["rules"] = rules
    out["spec"] = {**{k: v for k, v in (route.get("spec") or {}).items() if k not in OWNED_SPEC_KEYS}, **spec}
    return out, status


def _parent_key(ref: Obj) -> tuple[Any, ...]:
    return tuple(ref.get(k) for k in ("group", "kind", "namespace", "name", "sectionName", "port"))


def not_ready(route: Obj, canary: Obj) -> str | None:
    """Flagger's error when a parent has not accepted the current generation of the route (v1 only), else None."""
    if version_of(route) != "v1":
        return None
    generation = int((route.get("metadata") or {}).get("generation") or 0)
    parents = (route.get("status") or {}).get("parents") or []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        for parent in parents:
            if _parent_key(parent.get("parentRef") or {}) != _parent_key(ref):
                continue
            for cond in parent.get("conditions") or []:
                observed = int(cond.get("observedGeneration") or 0)
                if cond.get("type") == "Accepted" and (cond.get("status") != "True" or observed < generation):
                    return (
                        f"HTTPRoute {service_names(canary)[0]}.{canary_namespace(canary)} parent "
                        f"{ref.get('name')} is not ready (status: {cond.get('status')}, observed generation: "
                        f"{observed}, current generation: {generation})"
                    )
    return None


def get_routes(route: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary weight, canary weight, mirrored): weights from the rules with exactly two backendRefs (with session
    affinity: from the rule whose backendRefs carry filters); mirrored when a RequestMirror targets the canary."""
    problem = not_ready(route, canary)
    if problem:
        raise RouterError(problem)
    _, primary, canary_svc = service_names(canary)
    pw = cw = 0
    mirrored = False
    weighted: Obj | None = None
    sa = affinity.session_affinity(canary)

    def read(backends: list[Any], pw: int, cw: int) -> tuple[int, int]:
        for b in backends:
            if b.get("name") == primary:
                pw = int(b.get("weight", 1))
            elif b.get("name") == canary_svc:
                cw = int(b.get("weight", 1))
        return pw, cw

    for r in (route.get("spec") or {}).get("rules") or []:
        backends = r.get("backendRefs") or []
        if sa is not None and any(b.get("filters") for b in backends):
            weighted = r
        if len(backends) == 2:
            pw, cw = read(backends, pw, cw)
        for f in r.get("filters") or []:
            if (
                f.get("type") == "RequestMirror"
                and ((f.get("requestMirror") or {}).get("backendRef") or {}).get("name") == canary_svc
            ):
                mirrored = True
    if weighted is not None:
        pw, cw = read(weighted.get("backendRefs") or [], pw, cw)
    return pw, cw, mirrored


def _defaulted_backend(ref: dict[str, Any]) -> None:
    ref.setdefault("group", "")
    ref.setdefault("kind", "Service")


def _defaulted_filters(filters: list[Any]) -> None:
    for f in filters:
        if isinstance(f.get("cors"), dict):
            f["cors"].setdefault("maxAge", 5)
        if isinstance(f.get("requestMirror"), dict):
            _defaulted_backend(f["requestMirror"].setdefault("backendRef", {}))


def with_server_defaults(spec: Obj) -> dict[str, Any]:
    """The spec with the defaults the HTTPRoute schema fills in, so a freshly written route compares equal."""
    out: dict[str, Any] = copy.deepcopy(dict(spec))
    for ref in out.get("parentRefs") or []:
        ref.setdefault("group", GROUP)
        ref.setdefault("kind", "Gateway")
    if "rules" not in out:
        out["rules"] = [{"matches": [copy.deepcopy(DEFAULT_MATCH)]}]
    for r in out["rules"]:
        if not r.get("matches"):
            r["matches"] = [copy.deepcopy(DEFAULT_MATCH)]
        for m in r["matches"]:
            if "path" in m:
                m["path"].setdefault("type", "PathPrefix")
                m["path"].setdefault("value", "/")
            for h in [*(m.get("headers") or []), *(m.get("queryParams") or [])]:
                h.setdefault("type", "Exact")
        _defaulted_filters(r.get("filters") or [])
        for b in r.get("backendRefs") or []:
            _defaulted_backend(b)
            b.setdefault("weight", 1)
            _defaulted_filters(b.get("filters") or [])
    return out


def _pruned(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: p for k, v in value.items() if (p := _pruned(v)) not in (None, [], {})}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _is_sticky(r: Obj, cookie_name: str) -> bool:
    return any(
        h.get("type") == "RegularExpression"
        and h.get("name") == affinity.COOKIE_HEADER
        and cookie_name in str(h.get("value") or "")
        for m in r.get("matches") or []
        for h in m.get("headers") or []
    )


def comparable_spec(spec: Obj, canary: Obj, version: Version) -> Any:
    """What the reconcile diff looks at: owned keys with schema defaults, without backend weights; without sticky
    rules and backend filters under session affinity; without rule filters while a mirrored run is in progress."""
    out = with_server_defaults({k: spec[k] for k in OWNED_SPEC_KEYS if k in spec})
    sa = affinity.session_affinity(canary)
    if sa is not None:
        names = [str(sa.get("cookieName") or "")]
        if version == "v1":
            names.append(str(sa.get("primaryCookieName") or ""))
        out["rules"] = [r for r in out["rules"] if not any(_is_sticky(r, n) for n in names)]
    phase = (canary.get("status") or {}).get("phase")
    drop_filters = bool(analysis_of(canary).get("mirror")) and phase in IN_PROGRESS
    for r in out["rules"]:
        if drop_filters:
            r.pop("filters", None)
        for b in r.get("backendRefs") or []:
            b.pop("weight", None)
            if sa is not None:
                b.pop("filters", None)
    return _pruned(out)


def reconciled(existing: Obj, desired_obj: Obj, canary: Obj) -> dict[str, Any] | None:
    """The HTTPRoute to write so that `existing` matches `desired_obj`, or None when nothing Serinus owns differs.
    Labels become the apex labels; annotations are the apex ones plus every other key already on the route."""
    version = version_of(desired_obj)
    meta = existing.get("metadata") or {}
    labels = dict((desired_obj.get("metadata") or {}).get("labels") or {})
    annotations = dict((desired_obj.get("metadata") or {}).get("annotations") or {})
    for key, value in (meta.get("annotations") or {}).items():
        annotations.setdefault(key, value)
    have = existing.get("spec") or {}
    want = desired_obj.get("spec") or {}
    if (
        comparable_spec(have, canary, version) == comparable_spec(want, canary, version)
        and labels == dict(meta.get("labels") or {})
        and annotations == dict(meta.get("annotations") or {})
    ):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = {**{k: v for k, v in have.items() if k not in OWNED_SPEC_KEYS}, **copy.deepcopy(dict(want))}
    out["metadata"]["labels"] = labels
    out["metadata"]["annotations"] = annotations
    return out


# ----- on a cluster ---------------------------------------------------------------------------------------------

#: The HTTPRoute version of each router kind this module drives.
VERSIONS: dict[str, Version] = {"gatewayapi:v1": "v1", "gatewayapi:v1beta1": "v1beta1"}


def _desired(session: Session) -> list[dict[str, Any]]:
    return [http_route(session.canary, VERSIONS[session.options.kind])]


#: The HTTPRoute `<apex>` with weighted backendRefs; routes and session-affinity cookies on it; nothing to revert
#: (as in Flagger).
ROUTING: Routing = routes_on(
    kinds=tuple(ApiKind(api_version(v), "HTTPRoute", "httproutes") for v in VERSIONS.values()),
    route_object=last_desired(_desired),
    set_routes=lambda s, route, primary, canary, mirrored: set_routes(route, s.canary, primary, canary, mirrored),
    get_routes=lambda s, route: Routes(*get_routes(route, s.canary)),
    reconcile=managed(_desired, lambda s, existing, want: reconciled(existing, want, s.canary)),
)
