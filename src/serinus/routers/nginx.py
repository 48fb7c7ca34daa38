"""The `nginx` router: a `<ingress>-canary` Ingress that ingress-nginx splits traffic to by weight, header or
cookie, driven by its `<prefix>/canary*` annotations (prefix `nginx.ingress.kubernetes.io` unless
`--ingress-annotations-prefix` says otherwise). Pure functions over Kubernetes JSON, as Flagger's IngressRouter.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import (
    KUBECTL_LAST_APPLIED,
    canary_owner_reference,
    service_names,
    with_flux_annotations,
)
from serinus.routers.routing import ApiKind, Routing, Session, copied, no_cookies, routes_on, stub

Obj = Mapping[str, Any]
DEFAULT_PREFIX = "nginx.ingress.kubernetes.io"
CANARY_KEYS = (
    "canary",
    "canary-weight",
    "canary-by-cookie",
    "canary-by-header",
    "canary-by-header-value",
    "canary-by-header-pattern",
)


def canary_ingress_name(canary: Obj) -> str:
    """`<ingressRef.name>-canary`."""
    return f"{_ingress_ref(canary)}-canary"


def _ingress_ref(canary: Obj) -> str:
    name = str(((canary.get("spec") or {}).get("ingressRef") or {}).get("name") or "")
    if not name:
        raise RouterError("ingress selector is empty")
    return name


def _base_annotations(annotations: Mapping[str, str] | None, prefix: str) -> dict[str, str]:
    """Flagger's makeAnnotations: drop every canary key and kubectl's last-applied, then canary on at weight 0."""
    out = {
        k: v
        for k, v in with_flux_annotations(annotations).items()
        if f"{prefix}/canary" not in k and KUBECTL_LAST_APPLIED not in k
    }
    out[f"{prefix}/canary"] = "true"
    out[f"{prefix}/canary-weight"] = "0"
    return out


def desired_spec(ingress: Obj, canary: Obj) -> dict[str, Any]:
    """The user's Ingress spec with every path to the apex Service sent to `<apex>-canary` instead."""
    apex, _, canary_svc = service_names(canary)
    spec: dict[str, Any] = copy.deepcopy(dict(ingress.get("spec") or {}))
    found = False
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service")
            if service is not None and service.get("name") == apex:
                service["name"] = canary_svc
                found = True
    if not found:
        raise RouterError(f"backend {apex} not found in ingress {_ingress_ref(canary)}")
    return spec


def new_canary_ingress(
    ingress: Obj, canary: Obj, owner: Mapping[str, Any] | None, prefix: str = DEFAULT_PREFIX
) -> dict[str, Any]:
    """The `<ingress>-canary` Ingress created on first reconcile (canary on, weight 0)."""
    meta = ingress.get("metadata") or {}
    out: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": canary_ingress_name(canary),
            "namespace": meta.get("namespace"),
            "labels": dict(meta.get("labels") or {}),
            "annotations": _base_annotations(meta.get("annotations"), prefix),
        },
        "spec": desired_spec(ingress, canary),
    }
    if owner is not None:
        out["metadata"]["ownerReferences"] = [dict(owner)]
    return out


def reconciled_canary_ingress(existing: Obj, ingress: Obj, canary: Obj) -> dict[str, Any] | None:
    """An existing canary Ingress with its spec brought back to the user's Ingress (annotations are routing
    state and stay), or None when it already matches."""
    spec = desired_spec(ingress, canary)
    if spec == (existing.get("spec") or {}):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = spec
    return out


def _match_headers(canary: Obj) -> tuple[str, str, str, str]:
    """(cookie, header, exact value, regex) from analysis.match, the last entry of each kind winning."""
    cookie = header = value = regex = ""
    for match in ((canary.get("spec") or {}).get("analysis") or {}).get("match") or []:
        for name, condition in (match.get("headers") or {}).items():
            if name == "cookie":
                cookie = condition.get("exact", "")
            else:
                header, value, regex = name, condition.get("exact", ""), condition.get("regex", "")
    return cookie, header, value, regex


def set_routes(ingress: Obj, canary: Obj, canary_weight: int, prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The canary Ingress with traffic set: header/cookie rules for A/B, else the weight; weight 0 resets it."""
    out: dict[str, Any] = copy.deepcopy(dict(ingress))
    meta = out.setdefault("metadata", {})
    annotations: dict[str, str] = dict(meta.get("annotations") or {})
    if ((canary.get("spec") or {}).get("analysis") or {}).get("match"):
        cookie, header, value, regex = _match_headers(canary)
        # Flagger filters here by annotation *value*, so earlier canary keys survive (kept for identical objects).
        annotations = {k: v for k, v in with_flux_annotations(annotations).items() if f"{prefix}/canary" not in v}
        annotations[f"{prefix}/canary"] = "true"
        for suffix, text in (
            ("canary-by-cookie", cookie),
            ("canary-by-header", header),
            ("canary-by-header-value", value),
            ("canary-by-header-pattern", regex),
        ):
            if text:
                annotations[f"{prefix}/{suffix}"] = text
    else:
        annotations[f"{prefix}/canary-weight"] = str(canary_weight)
    if canary_weight > 0:
        annotations[f"{prefix}/canary"] = "true"
    else:
        annotations = _base_annotations(annotations, prefix)
    meta["annotations"] = annotations
    return out


def get_routes(ingress: Obj, canary: Obj, prefix: str = DEFAULT_PREFIX) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) as the canary Ingress routes now."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if ((canary.get("spec") or {}).get("analysis") or {}).get("match") and (
        f"{prefix}/canary-by-cookie" in annotations or f"{prefix}/canary-by-header" in annotations
    ):
        return 0, 100, False
    raw = annotations.get(f"{prefix}/canary-weight", "0")
    try:
        weight = int(raw)
    except ValueError as err:
        raise RouterError(f"failed to convert {raw} to int: {err}") from err
    return 100 - weight, weight, False


# ----- on a cluster ---------------------------------------------------------------------------------------------

_INGRESS = "networking.k8s.io/v1"


def _user_ingress(session: Session) -> dict[str, Any]:
    name = ((session.canary.get("spec") or {}).get("ingressRef") or {}).get("name") or ""
    return stub(_INGRESS, "Ingress", name)


def _canary_ingress(session: Session) -> dict[str, Any]:
    return stub(_INGRESS, "Ingress", canary_ingress_name(session.canary))


async def _read_user_ingress(session: Session) -> dict[str, Any]:
    return await session.objects.must_get(_user_ingress(session))


#: The `<ingress>-canary` Ingress beside the user's, steered by nginx's canary annotations (the operator's
#: --ingress-annotations-prefix); nothing to revert (as in Flagger).
ROUTING: Routing = routes_on(
    kinds=(ApiKind(_INGRESS, "Ingress", "ingresses"),),
    route_object=_canary_ingress,
    set_routes=no_cookies(
        lambda s, ingress, _primary, canary: set_routes(ingress, s.canary, canary, s.options.ingress_prefix)
    ),
    get_routes=lambda s, ingress: Routes(*get_routes(ingress, s.canary, s.options.ingress_prefix)),
    reconcile=copied(
        _read_user_ingress,
        _canary_ingress,
        lambda s, user: new_canary_ingress(user, s.canary, canary_owner_reference(s.canary), s.options.ingress_prefix),
        lambda s, existing, user: reconciled_canary_ingress(existing, user, s.canary),
    ),
)
