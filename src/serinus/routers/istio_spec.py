"""The objects of the `istio` router as Flagger's IstioRouter builds them (pkg/router/istio.go
reconcileDestinationRule, reconcileVirtualService): DestinationRules `<apex>-canary` / `<apex>-primary` and the
VirtualService `<apex>` (networking.istio.io/v1beta1), and the rule builders set_routes reuses. Pure functions over
Kubernetes JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serinus.errors import RouterError
from serinus.routers.kubernetes import apex_metadata, canary_namespace, canary_owner_reference, service_names

Obj = Mapping[str, Any]
API_VERSION = "networking.istio.io/v1beta1"


def spec_of(canary: Obj) -> Obj:
    """The Canary's spec (empty when missing)."""
    return canary.get("spec") or {}


def service_of(canary: Obj) -> Obj:
    """spec.service (empty when missing)."""
    return spec_of(canary).get("service") or {}


def analysis_of(canary: Obj) -> Obj:
    """spec.analysis, or the legacy spec.canaryAnalysis (empty when neither)."""
    return spec_of(canary).get("analysis") or spec_of(canary).get("canaryAnalysis") or {}


def is_tcp(canary: Obj) -> bool:
    """`service.appProtocol: tcp` (any case) switches the VirtualService to a `tcp:` route."""
    return str(service_of(canary).get("appProtocol") or "").lower() == "tcp"


def _new_object(
    kind: str,
    name: str,
    canary: Obj,
    spec: dict[str, Any],
    set_owner: bool,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": canary_namespace(canary)}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if set_owner:
        meta["ownerReferences"] = [canary_owner_reference(canary)]
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


def destination_rules(canary: Obj, set_owner: bool = True) -> list[dict[str, Any]]:
    """`<apex>-canary` and `<apex>-primary`, each `{host: <name>, trafficPolicy: service.trafficPolicy}`."""
    out = []
    for name in (service_names(canary)[2], service_names(canary)[1]):
        spec: dict[str, Any] = {"host": name}
        if service_of(canary).get("trafficPolicy") is not None:
            spec["trafficPolicy"] = copy.deepcopy(service_of(canary)["trafficPolicy"])
        out.append(_new_object("DestinationRule", name, canary, spec, set_owner))
    return out


def destination(canary: Obj, host: str, weight: int) -> dict[str, Any]:
    """A weighted route destination; it names the port when portDiscovery is on and the first gateway is not
    `mesh` (or delegation is on)."""
    service = service_of(canary)
    gateways = service.get("gateways") or []
    dest: dict[str, Any] = {"host": host}
    if service.get("portDiscovery") and ((gateways and gateways[0] != "mesh") or service.get("delegation")):
        dest["port"] = {"number": int(service["port"])}
    return {"destination": dest, "weight": weight}


def _rewrite(service: Obj) -> dict[str, Any] | None:
    rewrite = service.get("rewrite")
    if rewrite is None:
        return None
    return {k: rewrite[k] for k in ("uri", "authority") if rewrite.get(k)}


def http_rule(canary: Obj, match: list[Any] | None, route: list[dict[str, Any]]) -> dict[str, Any]:
    """One HTTP rule with the service's match, rewrite, timeout, retries, CORS policy and headers."""
    service = service_of(canary)
    rule: dict[str, Any] = {}
    if match:
        rule["match"] = copy.deepcopy(match)
    rule["route"] = route
    rewrite = _rewrite(service)
    if rewrite is not None:
        rule["rewrite"] = rewrite
    if service.get("timeout"):
        rule["timeout"] = service["timeout"]
    for key in ("retries", "corsPolicy", "headers"):
        if service.get(key) is not None:
            rule[key] = copy.deepcopy(service[key])
    return rule


def merge_match(analysis: list[Any], service: list[Any] | None) -> list[Any]:
    """A/B match: every service match copied once per analysis match, with that analysis match's headers and
    sourceLabels replacing its own (the analysis match alone when the service has none)."""
    if not service:
        return copy.deepcopy(analysis)
    merged = []
    for a in analysis:
        for s in service:
            m = copy.deepcopy(dict(s))
            for key in ("headers", "sourceLabels"):
                if a.get(key) is not None:
                    m[key] = copy.deepcopy(a[key])
            merged.append(m)
    return merged


def tcp_rule(canary: Obj, route: list[dict[str, Any]]) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    match = service_of(canary).get("match")
    if match:
        rule["match"] = [{"port": int(m["port"])} if m.get("port") else {} for m in match]
    rule["route"] = route
    return rule


def _hosts_and_gateways(canary: Obj) -> tuple[list[str], list[str]]:
    service = service_of(canary)
    apex = service_names(canary)[0]
    hosts = list(service.get("hosts") or [])
    gateways = list(service.get("gateways") or [])
    if service.get("delegation"):
        if hosts or gateways:
            raise RouterError(
                f"VirtualService {apex}.{canary_namespace(canary)} cannot have hosts and gateways "
                "when delegation enabled"
            )
        return [], []
    if not any(h in (apex, "*") for h in hosts):
        hosts.append(apex)
    return hosts, gateways or ["mesh"]


def virtual_service_spec(canary: Obj) -> dict[str, Any]:
    """The VirtualService spec at weights 100/0: one weighted rule, the A/B pair, or a TCP route."""
    _, primary, canary_host = service_names(canary)
    hosts, gateways = _hosts_and_gateways(canary)
    spec: dict[str, Any] = {"hosts": hosts}
    if gateways:
        spec["gateways"] = gateways
    route = [destination(canary, primary, 100), destination(canary, canary_host, 0)]
    service_match = service_of(canary).get("match")
    analysis_match = analysis_of(canary).get("match")
    if is_tcp(canary):
        spec["tcp"] = [tcp_rule(canary, route)]
    elif analysis_match:
        spec["http"] = [
            http_rule(canary, merge_match(analysis_match, service_match), route),
            http_rule(canary, service_match, [destination(canary, primary, 100)]),
        ]
    else:
        spec["http"] = [http_rule(canary, service_match, route)]
    return spec


def virtual_service(canary: Obj, set_owner: bool = True) -> dict[str, Any]:
    """The VirtualService `<apex>` as created: apex metadata plus the Flux keys, owned by the Canary."""
    labels, annotations = apex_metadata(canary)
    return _new_object(
        "VirtualService", service_names(canary)[0], canary, virtual_service_spec(canary), set_owner, labels, annotations
    )


def desired(canary: Obj, set_owner: bool = True) -> list[dict[str, Any]]:
    """Every object the router creates, in Flagger's order: the two DestinationRules, then the VirtualService."""
    return [*destination_rules(canary, set_owner), virtual_service(canary, set_owner)]
