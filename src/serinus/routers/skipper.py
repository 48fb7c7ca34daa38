"""The `skipper` router: a `<ingress>-canary` Ingress beside the user's, carrying both backends and Skipper's
backend-weights annotation (Flagger's pkg/router/skipper.go SkipperRouter). The user's Ingress is never
changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import KUBECTL_LAST_APPLIED, canary_namespace, canary_owner_reference, service_names
from serinus.routers.routing import ApiKind, Routing, Session, copied, no_cookies, routes_on, stub

Obj = Mapping[str, Any]
PREDICATE = "zalando.org/skipper-predicate"
BACKEND_WEIGHTS = "zalando.org/backend-weights"
ROUTE_WEIGHT = "Weight(100)"  # the canary Ingress's routes win over the user's
ROUTE_DISABLE = "False()"  # ... except while the canary has no weight


def ingress_names(canary: Obj) -> tuple[str, str]:
    """(the user's Ingress, `<it>-canary`)."""
    name = str(((canary.get("spec") or {}).get("ingressRef") or {}).get("name") or "")
    if not name:
        raise RouterError("ingress selector is empty")
    return name, f"{name}-canary"


def insert_predicate(raw: str, insert: str) -> str:
    """`insert` first, then the user's predicates (ours removed), joined with ` && `."""
    rest = [p.strip() for p in (raw or "").split("&&")]
    return " && ".join([insert, *(p for p in rest if p and p not in (ROUTE_WEIGHT, ROUTE_DISABLE))])


def _weights(canary: Obj, primary: int, canary_weight: int) -> str:
    _, primary_name, canary_name = service_names(canary)
    return json.dumps({primary_name: primary, canary_name: canary_weight}, sort_keys=True, separators=(",", ":"))


def _annotated(annotations: Mapping[str, str] | None, canary: Obj, primary: int, canary_weight: int) -> dict[str, str]:
    out = dict(annotations or {})
    out[BACKEND_WEIGHTS] = _weights(canary, primary, canary_weight)
    out[PREDICATE] = insert_predicate(out.get(PREDICATE, ""), ROUTE_WEIGHT)
    return out


def canary_spec(ingress: Obj, canary: Obj) -> dict[str, Any]:
    """The user's Ingress spec with each path to the apex sent to the primary and a copy sent to the canary."""
    apex, primary_name, canary_name = service_names(canary)
    spec: dict[str, Any] = copy.deepcopy(dict(ingress.get("spec") or {}))
    found = False
    for rule in spec.get("rules") or []:
        paths = (rule.get("http") or {}).get("paths") or []
        for path in list(paths):
            service = (path.get("backend") or {}).get("service")
            if service is not None and service.get("name") == apex:
                service["name"] = primary_name
                twin = copy.deepcopy(path)
                twin["backend"]["service"]["name"] = canary_name
                paths.append(twin)
                found = True
    if not found:
        raise RouterError(f"backend {apex} not found in ingress {ingress_names(canary)[0]}")
    return spec


def new_canary_ingress(ingress: Obj, canary: Obj) -> dict[str, Any]:
    """The canary Ingress as created: both backends, all traffic to the primary, `Weight(100)` first."""
    meta = ingress.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != KUBECTL_LAST_APPLIED}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": ingress_names(canary)[1],
            "namespace": canary_namespace(canary),
            "labels": dict(meta.get("labels") or {}),
            "annotations": _annotated(annotations, canary, 100, 0),
            "ownerReferences": [canary_owner_reference(canary)],
        },
        "spec": canary_spec(ingress, canary),
    }


def reconciled(existing: Obj, ingress: Obj, canary: Obj) -> dict[str, Any] | None:
    """The canary Ingress with its spec back in line with the user's Ingress, or None when it is."""
    desired = new_canary_ingress(ingress, canary)
    if (existing.get("spec") or {}) == desired["spec"]:
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = desired["spec"]
    out["metadata"] = {**out["metadata"], "annotations": desired["metadata"]["annotations"]}
    return out


def set_routes(existing: Obj, canary: Obj, primary: int, canary_weight: int) -> dict[str, Any]:
    """The canary Ingress with new backend weights (its routes disabled while the canary has none)."""
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    meta = out.setdefault("metadata", {})
    meta["annotations"] = _annotated(meta.get("annotations"), canary, primary, canary_weight)
    if canary_weight == 0:
        # as in Flagger, False() replaces Weight(100): the canary Ingress's routes stop matching at all
        meta["annotations"][PREDICATE] = insert_predicate(meta["annotations"][PREDICATE], ROUTE_DISABLE)
    return out


def get_routes(existing: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored) from the backend-weights annotation."""
    _, primary_name, canary_name = service_names(canary)
    name = f"{ingress_names(canary)[1]}.{canary_namespace(canary)}"
    raw = ((existing.get("metadata") or {}).get("annotations") or {}).get(BACKEND_WEIGHTS)
    if raw is None:
        raise RouterError(f"ingress {name} get backendWeights error: annotation {BACKEND_WEIGHTS} not found")
    try:
        weights = json.loads(raw)
    except ValueError as err:
        raise RouterError(f"ingress {name} get backendWeights error: {err}") from err
    if primary_name not in weights:
        raise RouterError(f"ingress {name} could not get weights[primarySvcName]")
    if canary_name not in weights:
        raise RouterError(f"ingress {name} could not get weights[canarySvcName]")
    return int(weights[primary_name]), int(weights[canary_name]), False


# ----- on a cluster ---------------------------------------------------------------------------------------------

_INGRESS = "networking.k8s.io/v1"


def _canary_ingress(session: Session) -> dict[str, Any]:
    return stub(_INGRESS, "Ingress", ingress_names(session.canary)[1])


async def _read_user_ingress(session: Session) -> dict[str, Any]:
    return await session.objects.must_get(stub(_INGRESS, "Ingress", ingress_names(session.canary)[0]))


async def _finalize(session: Session) -> None:
    """revertOnDeletion: delete the canary Ingress, leaving the user's alone."""
    await session.objects.delete(_canary_ingress(session))


#: The `<ingress>-canary` Ingress with both backends and Skipper's weights.
ROUTING: Routing = routes_on(
    kinds=(ApiKind(_INGRESS, "Ingress", "ingresses"),),
    route_object=_canary_ingress,
    set_routes=no_cookies(lambda s, ingress, primary, canary: set_routes(ingress, s.canary, primary, canary)),
    get_routes=lambda s, ingress: Routes(*get_routes(ingress, s.canary)),
    reconcile=copied(
        _read_user_ingress,
        _canary_ingress,
        lambda s, user: new_canary_ingress(user, s.canary),
        lambda s, existing, user: reconciled(existing, user, s.canary),
    ),
    finalize=_finalize,
)
