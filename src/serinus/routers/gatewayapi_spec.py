"""The HTTPRoute of the Gateway API routers as Flagger's GatewayAPIRouter.Reconcile builds it
(pkg/router/gateway_api.go): matches mapped from the Istio-style `service.match` (mapRouteMatches), filters from
headers / rewrite / mirror / CORS (makeFilters), backendRefs and timeouts, for `gateway.networking.k8s.io/v1` and
`v1beta1` (no timeouts, no CORS). Pure functions over Kubernetes JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from serinus.api.duration import SECOND, DurationError, parse_duration
from serinus.errors import RouterError
from serinus.routers.istio_spec import analysis_of, service_of
from serinus.routers.kubernetes import apex_metadata, canary_namespace, canary_owner_reference, service_names

Obj = Mapping[str, Any]
Version = Literal["v1", "v1beta1"]
GROUP = "gateway.networking.k8s.io"
DEFAULT_MATCH = {"path": {"type": "PathPrefix", "value": "/"}}
_PARENT_KEYS = ("group", "kind", "namespace", "name", "sectionName", "port")
_BACKEND_KEYS = ("group", "kind", "name", "namespace", "port")


def api_version(version: Version) -> str:
    """`gateway.networking.k8s.io/<version>`."""
    return f"{GROUP}/{version}"


def version_of(route: Obj) -> Version:
    """The Gateway API version of an HTTPRoute dict."""
    return "v1beta1" if str(route.get("apiVersion", "")).endswith("/v1beta1") else "v1"


def _go_string_match(m: Obj | None) -> str:
    m = m or {}
    return "{" + " ".join(f"{k.capitalize()}:{m.get(k) or ''}" for k in ("exact", "prefix", "suffix", "regex")) + "}"


def _go_map(matches: Obj | None) -> str:
    return "map[" + " ".join(f"{k}:{_go_string_match(v)}" for k, v in sorted((matches or {}).items())) + "]"


def _typed(kind: str, name: str, m: Obj, exact: str, regex: str, what: str, whole: Obj) -> dict[str, Any]:
    if m.get("exact"):
        return {"name": name, "type": exact, "value": m["exact"]}
    if m.get("regex"):
        return {"name": name, "type": regex, "value": m["regex"]}
    raise RouterError(f"Gateway API doesn't support the specified {what} matching selector: {_go_map(whole)}\n")


def route_matches(requests: list[Any] | None) -> list[dict[str, Any]]:
    """Istio HTTPMatchRequests as HTTPRouteMatches: uri exact/prefix/regex, method exact, headers and query
    parameters exact/regex (sorted by name, where Flagger's order is random); anything else is an error."""
    out = []
    for req in requests or []:
        match: dict[str, Any] = {}
        uri = req.get("uri")
        if uri is not None:
            for key, kind in (("regex", "RegularExpression"), ("exact", "Exact"), ("prefix", "PathPrefix")):
                if uri.get(key):
                    match["path"] = {"type": kind, "value": uri[key]}
                    break
            else:
                raise RouterError(
                    f"Gateway API doesn't support the specified path matching selector: &{_go_string_match(uri)}\n"
                )
        method = req.get("method")
        if method is not None:
            if not method.get("exact"):
                raise RouterError(
                    "Gateway API doesn't support the specified header matching selector: "
                    f"{_go_map(req.get('headers'))}\n"
                )
            match["method"] = method["exact"]
        headers = req.get("headers") or {}
        if headers:
            match["headers"] = [
                _typed("header", k, v, "Exact", "RegularExpression", "header", headers)
                for k, v in sorted(headers.items())
            ]
        params = req.get("queryParams") or {}
        if params:
            match["queryParams"] = [
                _typed("query", k, v, "Exact", "RegularExpression", "query", params) for k, v in sorted(params.items())
            ]
        if match:
            out.append(match)
    return out


def service_matches(canary: Obj) -> list[dict[str, Any]]:
    """The mapped service.match, or `PathPrefix /` when it maps to nothing."""
    try:
        return route_matches(service_of(canary).get("match")) or [copy.deepcopy(DEFAULT_MATCH)]
    except RouterError as err:
        raise RouterError(f"Invalid request matching selectors: {err}") from err


def analysis_matches(canary: Obj) -> list[dict[str, Any]]:
    """The mapped analysis.match; QUIRK: Flagger ignores a mapping error here and treats it as no match."""
    try:
        return route_matches(analysis_of(canary).get("match"))
    except RouterError:
        return []


def merge_matches(analysis: list[Any], service: list[Any]) -> list[Any]:
    """Each service match copied once per analysis match, headers and queryParams replaced by the analysis's."""
    if not analysis:
        return copy.deepcopy(service)
    if not service:
        return copy.deepcopy(analysis)
    merged = []
    for a in analysis:
        for s in service:
            m = copy.deepcopy(dict(s))
            for key in ("headers", "queryParams"):
                if a.get(key):
                    m[key] = copy.deepcopy(a[key])
            merged.append(m)
    return merged


def _header_filter(ops: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("add", "set"):
        if ops.get(key):
            out[key] = sorted(
                ({"name": k, "value": v} for k, v in ops[key].items()), key=lambda h: (h["name"], h["value"])
            )
    if ops.get("remove"):
        out["remove"] = list(ops["remove"])
    return out


def _cors(policy: Obj) -> dict[str, Any]:
    cors: dict[str, Any] = {}
    for src, dst in (
        ("allowOrigin", "allowOrigins"),
        ("allowMethods", "allowMethods"),
        ("allowHeaders", "allowHeaders"),
        ("exposeHeaders", "exposeHeaders"),
    ):
        if policy.get(src):
            cors[dst] = list(policy[src])
    if policy.get("allowCredentials"):
        cors["allowCredentials"] = True
    if policy.get("maxAge"):
        try:
            seconds = parse_duration(str(policy["maxAge"])) // SECOND
        except DurationError:
            seconds = 0
        if seconds:
            cors["maxAge"] = seconds
    return cors


def filters(canary: Obj, version: Version) -> list[dict[str, Any]]:
    """Rule filters: Request/ResponseHeaderModifier (entries sorted), URLRewrite, one RequestMirror per
    service.mirror, and CORS (v1 only; `allowOrigins` patterns are not expressible and are dropped)."""
    service = service_of(canary)
    out: list[dict[str, Any]] = []
    headers = service.get("headers") or {}
    for side, kind, field in (
        ("request", "RequestHeaderModifier", "requestHeaderModifier"),
        ("response", "ResponseHeaderModifier", "responseHeaderModifier"),
    ):
        if headers.get(side) is not None:
            out.append({"type": kind, field: _header_filter(headers[side])})
    rewrite = service.get("rewrite")
    if rewrite is not None:
        url: dict[str, Any] = {}
        if rewrite.get("authority"):
            url["hostname"] = rewrite["authority"]
        if rewrite.get("uri"):
            if rewrite.get("type") == "ReplacePrefixMatch":
                url["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": rewrite["uri"]}
            else:
                url["path"] = {"type": "ReplaceFullPath", "replaceFullPath": rewrite["uri"]}
        out.append({"type": "URLRewrite", "urlRewrite": url})
    for mirror in service.get("mirror") or []:
        if version == "v1":
            ref = mirror.get("backendRef") or {}
            mirror = {"backendRef": {k: ref[k] for k in _BACKEND_KEYS if ref.get(k) is not None}}
        out.append({"type": "RequestMirror", "requestMirror": copy.deepcopy(dict(mirror))})
    if version == "v1" and service.get("corsPolicy") is not None:
        out.append({"type": "CORS", "cors": _cors(service["corsPolicy"])})
    return out


def backend_ref(name: str, weight: int, port: int) -> dict[str, Any]:
    """A Service backendRef with Flagger's explicit empty group."""
    return {"group": "", "kind": "Service", "name": name, "port": port, "weight": weight}


def mirror_filter(canary: Obj) -> dict[str, Any]:
    """The RequestMirror filter that copies traffic to the canary Service (blue/green mirroring)."""
    return {
        "type": "RequestMirror",
        "requestMirror": {
            "backendRef": {
                "group": "",
                "kind": "Service",
                "name": service_names(canary)[2],
                "port": int(service_of(canary)["port"]),
            }
        },
    }


def rule(canary: Obj, version: Version, matches: list[Any], backends: list[dict[str, Any]]) -> dict[str, Any]:
    """One rule with the service filters and (v1) timeouts."""
    service = service_of(canary)
    out: dict[str, Any] = {"matches": copy.deepcopy(matches)}
    made = filters(canary, version)
    if made:
        out["filters"] = made
    out["backendRefs"] = [{**b} for b in backends]
    if version == "v1" and (service.get("timeout") or service.get("backendTimeout")):
        timeouts = {}
        if service.get("timeout"):
            timeouts["request"] = service["timeout"]
        if service.get("backendTimeout"):
            timeouts["backendRequest"] = service["backendTimeout"]
        out["timeouts"] = timeouts
    return out


def parent_refs(canary: Obj, version: Version) -> list[dict[str, Any]]:
    """service.gatewayRefs as parentRefs (required)."""
    refs = service_of(canary).get("gatewayRefs") or []
    if not refs:
        raise RouterError("GatewayRefs must be specified when using Gateway API as a provider.")
    if version == "v1beta1":
        return copy.deepcopy(list(refs))
    return [{k: r[k] for k in _PARENT_KEYS if r.get(k) is not None} for r in refs]


def route_spec(canary: Obj, version: Version, primary_weight: int = 100, canary_weight: int = 0) -> dict[str, Any]:
    """The spec at the given weights, without mirroring or session affinity: one weighted rule, or the A/B pair
    (analysis matches merged into the first; the second sends the service matches to the primary only)."""
    _, primary, canary_svc = service_names(canary)
    port = int(service_of(canary)["port"])
    spec: dict[str, Any] = {"parentRefs": parent_refs(canary, version)}
    if service_of(canary).get("hosts"):
        spec["hostnames"] = list(service_of(canary)["hosts"])
    matches = service_matches(canary)
    spec["rules"] = [
        rule(
            canary,
            version,
            matches,
            [backend_ref(primary, primary_weight, port), backend_ref(canary_svc, canary_weight, port)],
        )
    ]
    if analysis_of(canary).get("match"):
        spec["rules"][0]["matches"] = merge_matches(analysis_matches(canary), matches)
        spec["rules"].append(rule(canary, version, matches, [backend_ref(primary, 100, port)]))
    return spec


def http_route(canary: Obj, version: Version = "v1", set_owner: bool = True) -> dict[str, Any]:
    """The HTTPRoute `<apex>` as created: apex metadata plus the Flux keys, owned by the Canary."""
    labels, annotations = apex_metadata(canary)
    meta: dict[str, Any] = {"name": service_names(canary)[0], "namespace": canary_namespace(canary)}
    if labels:
        meta["labels"] = labels
    meta["annotations"] = annotations
    if set_owner:
        meta["ownerReferences"] = [canary_owner_reference(canary)]
    return {
        "apiVersion": api_version(version),
        "kind": "HTTPRoute",
        "metadata": meta,
        "spec": route_spec(canary, version),
    }
