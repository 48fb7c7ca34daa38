"""The SMI router (`linkerd`, `osm`, `smi:v1alpha1..3`): a TrafficSplit named after the apex Service that
splits it between `<apex>-primary` and `<apex>-canary`. Pure functions over Kubernetes JSON, as Flagger's."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.kubernetes import canary_owner_reference, service_names
from serinus.routers.routing import ApiKind, Routing, Session, last_desired, managed, no_cookies, routes_on

Obj = Mapping[str, Any]
GATEWAYS_ANNOTATION = "VirtualService.v1alpha3.networking.istio.io/spec.gateways"


def api_version(provider: str) -> str:
    """split.smi-spec.io version for a provider: linkerd speaks v1alpha1, osm v1alpha2, `smi:<v>[:mesh]` its own."""
    if provider == "linkerd":
        return "split.smi-spec.io/v1alpha1"
    if provider == "osm":
        return "split.smi-spec.io/v1alpha2"
    version = provider.split(":")[1] if provider.startswith("smi:") else "v1alpha3"
    if version not in ("v1alpha1", "v1alpha2", "v1alpha3"):
        raise RouterError(f"unknown SMI version {version!r} in provider {provider!r}")
    return f"split.smi-spec.io/{version}"


def target_mesh(provider: str) -> str:
    """The mesh behind an SMI provider (`smi:v1alpha3:istio` -> istio)."""
    if provider in ("linkerd", "osm"):
        return provider
    parts = provider.split(":")
    return parts[2] if len(parts) > 2 else ""


def _weight(value: int, version: str) -> int | str:
    # v1alpha1 weights are resource.Quantity values; the apiserver stores them as strings.
    return str(value) if version.endswith("v1alpha1") else value


def _read_weight(value: object) -> int:
    text = str(value)
    return int(float(text[:-1]) / 1000) if text.endswith("m") else int(float(text))


def traffic_split(
    canary: Obj, provider: str, owner: Mapping[str, Any] | None, primary: int = 100, canary_weight: int = 0
) -> dict[str, Any]:
    """The TrafficSplit for a Canary: `spec.service` is hosts[0] or the apex; canary backend first."""
    apex, primary_svc, canary_svc = service_names(canary)
    meta = canary.get("metadata") or {}
    service = (canary.get("spec") or {}).get("service") or {}
    version = api_version(provider)
    annotations: dict[str, str] = {}
    gateways: Sequence[str] = service.get("gateways") or []
    if target_mesh(provider) == "istio" and gateways:
        annotations[GATEWAYS_ANNOTATION] = json.dumps(list(gateways), separators=(",", ":"))
    out: dict[str, Any] = {
        "apiVersion": version,
        "kind": "TrafficSplit",
        "metadata": {"name": apex, "namespace": meta.get("namespace"), "annotations": annotations},
        "spec": {
            "service": (service.get("hosts") or [apex])[0],
            "backends": [
                {"service": canary_svc, "weight": _weight(canary_weight, version)},
                {"service": primary_svc, "weight": _weight(primary, version)},
            ],
        },
    }
    if owner is not None:
        out["metadata"]["ownerReferences"] = [dict(owner)]
    return out


def reconciled(existing: Obj, desired: Obj) -> dict[str, Any] | None:
    """The existing TrafficSplit with the desired spec, weights kept (never reset in flight); None if in sync."""

    def shape(spec: Obj) -> tuple[object, list[object]]:
        return spec.get("service"), [b.get("service") for b in spec.get("backends") or []]

    if shape(existing.get("spec") or {}) == shape(desired.get("spec") or {}):
        return None
    out: dict[str, Any] = copy.deepcopy(dict(existing))
    out["spec"] = copy.deepcopy(dict(desired["spec"]))
    return out


def set_routes(split: Obj, canary: Obj, primary: int, canary_weight: int) -> dict[str, Any]:
    """The TrafficSplit with new weights."""
    _, primary_svc, canary_svc = service_names(canary)
    out: dict[str, Any] = copy.deepcopy(dict(split))
    version = str(out.get("apiVersion", ""))
    out["spec"]["backends"] = [
        {"service": canary_svc, "weight": _weight(canary_weight, version)},
        {"service": primary_svc, "weight": _weight(primary, version)},
    ]
    return out


def get_routes(split: Obj, canary: Obj) -> tuple[int, int, bool]:
    """(primary, canary, mirrored); both weights 0 is Flagger's error."""
    apex, primary_svc, canary_svc = service_names(canary)
    weights = {
        b.get("service"): _read_weight(b.get("weight", 0)) for b in (split.get("spec") or {}).get("backends") or []
    }
    primary, canary_weight = weights.get(primary_svc, 0), weights.get(canary_svc, 0)
    if primary == 0 and canary_weight == 0:
        namespace = (canary.get("metadata") or {}).get("namespace")
        raise RouterError(f"TrafficSplit {apex}.{namespace} does not contain routes for {primary_svc} and {canary_svc}")
    return primary, canary_weight, False


# ----- on a cluster ---------------------------------------------------------------------------------------------


def _desired(session: Session) -> list[dict[str, Any]]:
    return [traffic_split(session.canary, session.options.provider, canary_owner_reference(session.canary))]


#: The TrafficSplit `<apex>`, owned by the Canary, in the version the provider string names; nothing to revert (as
#: in Flagger).
ROUTING: Routing = routes_on(
    kinds=tuple(
        ApiKind(f"split.smi-spec.io/{v}", "TrafficSplit", "trafficsplits") for v in ("v1alpha1", "v1alpha2", "v1alpha3")
    ),
    route_object=last_desired(_desired),
    set_routes=no_cookies(lambda s, split, primary, canary: set_routes(split, s.canary, primary, canary)),
    get_routes=lambda s, split: Routes(*get_routes(split, s.canary)),
    reconcile=managed(_desired, lambda _, existing, want: reconciled(existing, want)),
)
