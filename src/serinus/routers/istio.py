"""The `istio` router: DestinationRules `<apex>-canary` / `<apex>-primary` and the VirtualService `<apex>`
(networking.istio.io/v1beta1), as Flagger's IstioRouter writes them (pkg/router/istio.go: Reconcile, SetRoutes
with getSessionAffinityRouteRules, Finalize).

Pure functions over Kubernetes JSON: `desired` objects for a Canary (built in istio_spec), set_routes / get_routes
over a VirtualService, the reconcile diff that never resets in-flight weights, and the revert used by finalize.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers import affinity
from serinus.routers.istio_spec import (
    API_VERSION,
    analysis_of,
    desired,
    destination,
    destination_rules,
    http_rule,
    is_tcp,
    merge_match,
    service_of,
    tcp_rule,
    virtual_service,
)
from serinus.routers.kubernetes import KUBECTL_LAST_APPLIED, canary_namespace, service_names, with_flux_annotations
from serinus.routers.routing import ApiKind, Routing, Session, last_desired, managed, routes_on

__all__ = [
    "API_VERSION",
    "ORIGINAL_CONFIGURATION",
    "ROUTING",
    "desired",
    "destination_rules",
    "get_routes",
    "reconciled",
    "reverted",
    "set_routes",
    "virtual_service",
]

log = logging.getLogger("serinus.canary")
Obj = Mapping[str, Any]
ORIGINAL_CONFIGURATION = "flagger.kubernetes.io/original-configuration"
#: The VirtualService spec keys Serinus owns; any other key (exportTo, tls, ...) a user adds is kept.
OWNED_SPEC_KEYS = ("hosts", "gateways", "http", "tcp")


def _cookie_match(cookie: str) -> dict[str, Any]:
    return {"headers": {affinity.COOKIE_HEADER: {"regex": affinity.cookie_regex(cookie)}}}


def _set_cookie_headers(value: str) -> dict[str, Any]:
    return {"response": {"add": {affinity.SET_COOKIE_HEADER: value}}}


def _sticky_rules(
    canary: Obj,
    sa: Obj,
    canary_weight: int,
    weighted: dict[str, Any],
    cookies: affinity.Cookies,
) -> list[dict[str, Any]]:
    _, primary, canary_host = service_names(canary)
    service_match = service_of(canary).get("match")
    if canary_weight != 0:
        for dest in weighted["route"]:
            if dest["destination"]["host"] == canary_host:
                dest["headers"] = _set_cookie_headers(affinity.build_cookie(sa, cookies.session, affinity.max_age(sa)))
            elif dest["destination"]["host"] == primary and sa.get("primaryCookieName"):
                dest["headers"] = _set_cookie_headers(
                    affinity.build_cookie(sa, cookies.primary, affinity.interval_seconds(canary))
                )
        sticky_canary = {
            **copy.deepcopy(weighted),
            "match": merge_match([_cookie_match(cookies.session)], service_match),
            "route": [destination(canary, primary, 0), destination(canary, canary_host, 100)],
        }
        if not sa.get("primaryCookieName"):
            return [sticky_canary, weighted]
        sticky_primary = {
            **copy.deepcopy(weighted),
            "match": merge_match([_cookie_match(cookies.primary)], service_match),
            "route": [destination(canary, primary, 100), destination(canary, canary_host, 0)],
        }
        return [sticky_canary, sticky_primary, weighted]
    sticky = copy.deepcopy(weighted)
    if cookies.previous:
        sticky["match"] = merge_match([_cookie_match(cookies.previous)], service_match)
        deletion = affinity.deletion_cookie(cookies.previous)
        sticky.setdefault("headers", {}).setdefault("response", {}).setdefault("add", {})[
            affinity.SET_COOKIE_HEADER
        ] = deletion
        if "headers" in weighted:
            # QUIRK: Flagger's sticky rule shares its headers with the weighted rule whenever service.headers is
            # set, so the weighted rule also tells every client to drop the previous cookie.
            weighted["headers"] = copy.deepcopy(sticky["headers"])
    return [sticky, weighted]


def set_routes(
    vs: Obj,
    canary: Obj,
    primary_weight: int,
    canary_weight: int,
    mirrored: bool,
    *,
    rand: Callable[[], str] = affinity.random_value,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the VirtualService with its routes rewritten, the status cookies to persist or {}).

    Order as Flagger: the weighted rule; the sticky rules before it with session affinity; `mirror` and
    `mirrorPercentage` on the first rule when mirrored; the A/B pair replacing all of it when analysis.match is set
    (QUIRK: its second rule routes `primary_weight` to the primary, 0 during an A/B run)."""
    _, primary, canary_host = service_names(canary)
    out: dict[str, Any] = copy.deepcopy(dict(vs))
    spec = out.setdefault("spec", {})
    route = [destination(canary, primary, primary_weight), destination(canary, canary_host, canary_weight)]
    if is_tcp(canary):
        spec["tcp"] = [tcp_rule(canary, route)]
        return out, {}
    service_match = service_of(canary).get("match")
    weighted = http_rule(canary, service_match, route)
    rules = [weighted]
    status: dict[str, str] = {}
    sa = affinity.session_affinity(canary)
    if sa is not None:
        cookies = affinity.advance(
            affinity.Cookies.from_status(canary.get("status")), sa, canary_weight, with_primary=True, rand=rand
        )
        rules = _sticky_rules(canary, sa, canary_weight, weighted, cookies)
        status = cookies.as_status()
    if mirrored:
        rules[0]["mirror"] = {"host": canary_host}
        mirror_weight = int(analysis_of(canary).get("mirrorWeight") or 0)
        if mirror_weight > 0:
            rules[0]["mirrorPercentage"] = {"value": mirror_weight}
    analysis_match = analysis_of(canary).get("match")
    if analysis_match:
        rules = [
            http_rule(
                canary,
                merge_match(analysis_match, service_match),
                [destination(canary, primary, primary_weight), destination(canary, canary_host, canary_weight)],
            ),
            http_rule(canary, service_match, [destination(canary, primary, primary_weight)]),
        ]
    spec["http"] = rules
    return out, status


def _weights(
    rule: Obj,
    primary: str,
    canary_host: str,
    pw: int,
    cw: int,
    only_with_headers: bool = False,
) -> tuple[int, int]:
    for dest in rule.get("route") or []:
        if only_with_headers and dest.get("headers") is None:
            continue
        host = (dest.get("destination") or {}).get("host")
        if host == primary:
            pw = int(dest.get("weight") or 0)
        elif host == canary_host:
            cw = int(dest.get("weight") or 0)
    return pw, cw


def get_routes(vs: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary weight, canary weight, mirrored) from the last rule routing to the canary (with session affinity:
    from the destinations that set cookies); an error when both weights are 0."""
    apex, primary, canary_host = service_names(canary)
    spec = vs.get("spec") or {}
    rules = spec.get("tcp") if is_tcp(canary) else spec.get("http")
    chosen: Obj = {}
    for rule in rules or []:
        if any((d.get("destination") or {}).get("host") == canary_host for d in rule.get("route") or []):
            chosen = rule
    pw, cw = _weights(chosen, primary, canary_host, 0, 0)
    mirrored = False
    if not is_tcp(canary):
        mirrored = bool((chosen.get("mirror") or {}).get("host"))
        if affinity.session_affinity(canary) is not None:
            for rule in rules or []:
                pw, cw = _weights(rule, primary, canary_host, pw, cw, only_with_headers=True)
    if pw == 0 and cw == 0:
        raise RouterError(
            f"VirtualService {apex}.{canary_namespace(canary)} does not contain routes for "
            f"{apex}-primary and {apex}-canary"
        )
    return pw, cw, mirrored


def _pruned(value: Any) -> Any:
    """The value without None, empty lists and empty maps: what the apiserver and Go's omitempty treat alike."""
    if isinstance(value, Mapping):
        out = {k: p for k, v in value.items() if (p := _pruned(v)) not in (None, [], {})}
        return out
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _is_sticky(rule: Obj, cookie_name: str) -> bool:
    # QUIRK kept from Flagger: an empty cookie name (no primaryCookieName) marks every rule that has a match.
    return any(
        cookie_name in str((((m.get("headers") or {}).get(affinity.COOKIE_HEADER)) or {}).get("regex") or "")
        for m in rule.get("match") or []
    )


def comparable_spec(spec: Obj, canary: Obj) -> Any:
    """The part of a VirtualService spec the reconcile diff looks at: owned keys, without weights and mirrors
    (and without sticky rules and destination headers when session affinity is on)."""
    out = copy.deepcopy({k: spec[k] for k in OWNED_SPEC_KEYS if k in spec})
    sa = affinity.session_affinity(canary)
    if sa is not None and out.get("http"):
        names = (str(sa.get("cookieName") or ""), str(sa.get("primaryCookieName") or ""))
        out["http"] = [r for r in out["http"] if not any(_is_sticky(r, n) for n in names)]
    for rule in [*(out.get("http") or []), *(out.get("tcp") or [])]:
        rule.pop("mirror", None)
        rule.pop("mirrorPercentage", None)
        for dest in rule.get("route") or []:
            dest.pop("weight", None)
            if sa is not None:
                dest.pop("headers", None)
    return _pruned(out)


def _reconciled_destination_rule(existing: Obj, desired_obj: Obj) -> dict[str, Any] | None:
    want = desired_obj.get("spec") or {}
    have = existing.get("spec") or {}
    owned = ("host", "trafficPolicy")
    if _pruned({k: have.get(k) for k in owned}) == _pruned({k: want.get(k) for k in owned}):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = {**{k: v for k, v in have.items() if k not in owned}, **copy.deepcopy(dict(want))}
    return out


def reconciled(existing: Obj, desired_obj: Obj, canary: Obj) -> dict[str, Any] | None:
    """The object to write so that `existing` matches `desired_obj`, or None when nothing Serinus owns differs.

    VirtualService: labels and annotations become the apex metadata (kubectl's last-applied and the original
    configuration kept); a spec change keeps in-flight weights out of the diff, and when the object has no
    last-applied annotation its previous spec is saved in `flagger.kubernetes.io/original-configuration`, which
    is how a user's own VirtualService is taken over and later reverted. Spec keys Serinus does not own are kept.
    """
    if desired_obj.get("kind") == "DestinationRule":
        return _reconciled_destination_rule(existing, desired_obj)
    meta = existing.get("metadata") or {}
    have_ann = dict(meta.get("annotations") or {})
    labels = dict((desired_obj.get("metadata") or {}).get("labels") or {})
    annotations = dict((desired_obj.get("metadata") or {}).get("annotations") or {})
    for key in (KUBECTL_LAST_APPLIED, ORIGINAL_CONFIGURATION):
        if key in have_ann:
            annotations[key] = have_ann[key]
    current = copy.deepcopy(dict(existing.get("spec") or {}))
    if service_of(canary).get("delegation"):
        current["hosts"] = []
        current.pop("gateways", None)
    want = desired_obj.get("spec") or {}
    spec_diff = comparable_spec(current, canary) != comparable_spec(want, canary)
    if not spec_diff and labels == dict(meta.get("labels") or {}) and annotations == have_ann:
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = {**{k: v for k, v in current.items() if k not in OWNED_SPEC_KEYS}, **copy.deepcopy(dict(want))}
    if KUBECTL_LAST_APPLIED not in annotations and spec_diff:
        annotations = with_flux_annotations(annotations)
        annotations[ORIGINAL_CONFIGURATION] = original_configuration(current)
    out["metadata"]["labels"] = labels
    out["metadata"]["annotations"] = annotations
    return out


def original_configuration(spec: Obj) -> str:
    """The spec as Flagger stores it for revert: compact JSON of the keys it knows, `hosts` always present."""
    known: dict[str, Any] = {"hosts": spec.get("hosts")}
    known.update({k: spec[k] for k in ("gateways", "http", "tcp") if spec.get(k)})
    return json.dumps(known, separators=(",", ":"))


def revert_missing_message(canary: Obj) -> str:
    """The warning logged when finalize finds nothing to revert to."""
    apex = service_names(canary)[0]
    return f"VirtualService {apex}.{canary_namespace(canary)} original configuration not found, unable to revert"


def reverted(existing: Obj, canary: Obj) -> dict[str, Any] | None:
    """Finalize (revertOnDeletion): the VirtualService with the spec from kubectl's last-applied annotation or the
    original configuration; None when neither exists (log revert_missing_message)."""
    apex = service_names(canary)[0]
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    for key in (KUBECTL_LAST_APPLIED, ORIGINAL_CONFIGURATION):
        if key not in annotations:
            continue
        try:
            stored = json.loads(annotations[key])
            spec = (stored.get("spec") or {"hosts": None}) if key == KUBECTL_LAST_APPLIED else stored
            if not isinstance(spec, dict):
                raise ValueError(key)
        except ValueError as err:
            raise RouterError(
                f"VirtualService {apex}.{canary_namespace(canary)} failed to unMarshal annotation {key}"
            ) from err
        out: dict[str, Any] = copy.deepcopy(dict(existing))
        out["spec"] = spec
        return out
    return None


# ----- on a cluster ---------------------------------------------------------------------------------------------


def _desired(session: Session) -> list[dict[str, Any]]:
    return desired(session.canary)


async def _finalize(session: Session) -> None:
    """revertOnDeletion: restore the VirtualService the user had."""
    existing = await session.objects.get(_desired(session)[-1])
    if existing is None:
        return
    restored = reverted(existing, session.canary)
    if restored is None:
        log.warning(revert_missing_message(session.canary))
        return
    await session.objects.replace(restored)


#: Both DestinationRules and the VirtualService, reconciled by Istio's rules (takeover saves the original
#: configuration); routes and session-affinity cookies on the VirtualService.
ROUTING: Routing = routes_on(
    kinds=(
        ApiKind(API_VERSION, "VirtualService", "virtualservices"),
        ApiKind(API_VERSION, "DestinationRule", "destinationrules"),
    ),
    route_object=last_desired(_desired),
    set_routes=lambda s, vs, primary, canary, mirrored: set_routes(vs, s.canary, primary, canary, mirrored),
    get_routes=lambda s, vs: Routes(*get_routes(vs, s.canary)),
    reconcile=managed(_desired, lambda s, existing, want: reconciled(existing, want, s.canary)),
    finalize=_finalize,
)
