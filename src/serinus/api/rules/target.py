"""Rules about what a Canary points at: its target, its services and the objects its router needs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from serinus.api.canary import Canary, Provider
from serinus.api.capabilities import GATEWAY_API, INGRESS_REF, Router
from serinus.api.istio import AnalysisMatch, HTTPMatchRequest, StringMatch
from serinus.api.problems import Path, Problem, error, show, warning
from serinus.api.refs import AutoscalerKind
from serinus.api.rules.context import duration_problem

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_GATEWAY_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")


def target_rules(canary: Canary) -> list[Problem]:
    spec = canary.spec
    out: list[Problem] = []
    knative = spec.target_ref.is_knative_service()
    if knative and spec.provider is not Provider.KNATIVE:
        got = f"got {show(spec.provider.value)}" if spec.provider else "it is not set"
        out.append(
            error(
                ("spec", "provider"),
                f"must be knative for a Knative Service target, {got}",
                "knative-provider",
                f"can't use {spec.provider.value if spec.provider else ''} provider with Knative Service as target",
            )
        )
    if spec.provider is Provider.KNATIVE and not knative:
        target = f"{spec.target_ref.api_version} {spec.target_ref.kind.value}"
        out.append(
            error(
                ("spec", "targetRef"),
                "must be a Knative Service (apiVersion serving.knative.dev/v1, "
                f"kind Service) with provider knative, got {target}",
                "knative-provider",
                f"can't use {spec.target_ref.api_version}/{spec.target_ref.kind.value} as target if "
                "provider is set to knative",
            )
        )
    if knative and spec.autoscaler_ref is not None:
        out.append(
            error(
                ("spec", "autoscalerRef"),
                "cannot be used with a Knative Service target, Knative scales it",
                "knative-autoscaler",
                "can't use autoscaler with Knative Service",
            )
        )
    scaler = spec.autoscaler_ref
    if scaler is not None:
        bounds = scaler.primary_scaler_replicas
        if bounds and bounds.min_replicas and bounds.max_replicas and bounds.min_replicas > bounds.max_replicas:
            out.append(
                error(
                    ("spec", "autoscalerRef", "primaryScalerReplicas"),
                    f"minReplicas ({bounds.min_replicas}) is above maxReplicas ({bounds.max_replicas})",
                    "scaler-replicas",
                )
            )
        if scaler.primary_scaler_queries and scaler.kind is AutoscalerKind.HORIZONTAL_POD_AUTOSCALER:
            out.append(
                warning(
                    ("spec", "autoscalerRef", "primaryScalerQueries"),
                    "is only used with a KEDA ScaledObject; ignored for a HorizontalPodAutoscaler",
                    "scaler-queries",
                )
            )
    if spec.progress_deadline_seconds is not None and spec.progress_deadline_seconds < 0:
        out.append(
            error(
                ("spec", "progressDeadlineSeconds"),
                f"must not be negative, got {spec.progress_deadline_seconds}",
                "progress-deadline",
            )
        )
    return out


def service_rules(canary: Canary, router: Router, provider: str) -> list[Problem]:
    service = canary.spec.service
    base: Path = ("spec", "service")
    if service is None:
        if canary.spec.target_ref.is_knative_service():
            return []
        return [
            error(
                base,
                "is required: the apex, primary and canary services are generated from it (at least its port)",
                "service-required",
            )
        ]
    out: list[Problem] = []
    if not 1 <= service.port <= 65535:
        out.append(
            error((*base, "port"), f"must be a port number between 1 and 65535, got {service.port}", "service-port")
        )
    target = service.target_port
    if isinstance(target, int) and target != 0 and not 1 <= target <= 65535:
        out.append(
            error((*base, "targetPort"), f"must be a port number between 1 and 65535, got {target}", "service-port")
        )
    if (
        isinstance(target, str)
        and target
        and not (
            len(target) <= 15 and _IANA_SVC_NAME.match(target) and "--" not in target and re.search("[a-z]", target)
        )
    ):
        out.append(
            error(
                (*base, "targetPort"),
                "must be a port number or a container port name (at most 15 "
                f"lowercase letters, digits and '-', with a letter), got {show(target)}",
                "service-port",
            )
        )
    apex, _, _ = canary.service_names()
    where: Path = (*base, "name") if service.name else ("spec", "targetRef", "name")
    if not _DNS1035.match(apex):
        out.append(
            error(
                where,
                "must be a DNS-1035 label (lowercase letters, digits and '-', starting with a "
                f"letter) to name the generated services, got {show(apex)}",
                "service-name",
            )
        )
    elif len(apex) + len("-primary") > 63:
        out.append(
            error(
                where,
                f"is {len(apex)} characters; the generated service {apex}-primary would exceed Kubernetes' 63",
                "service-name",
            )
        )
    for key in ("timeout", "backend_timeout"):
        text = getattr(service, key)
        wire = "backendTimeout" if key == "backend_timeout" else key
        if text:
            problem = duration_problem((*base, wire), text, "service-timeout")
            if problem is not None:
                out.append(problem)
            elif router in GATEWAY_API and not _GATEWAY_DURATION.match(text):
                out.append(
                    error(
                        (*base, wire),
                        "must be a Gateway API duration (whole numbers with h, m, s or ms, "
                        f"e.g. 1m30s), got {show(text)}",
                        "service-timeout",
                    )
                )
    if service.retries is not None and service.retries.per_try_timeout:
        problem = duration_problem(
            (*base, "retries", "perTryTimeout"), service.retries.per_try_timeout, "service-timeout"
        )
        out += [problem] if problem else []
    if service.delegation and router is Router.ISTIO and (service.hosts or service.gateways):
        out.append(
            error(
                (*base, "delegation"),
                "a delegate VirtualService has no hosts and no gateways; remove "
                "spec.service.hosts and spec.service.gateways or turn delegation off",
                "istio-delegation",
                f"VirtualService {apex}.{canary.metadata.namespace} cannot have hosts and gateways when "
                "delegation enabled",
            )
        )
    if router in GATEWAY_API:
        out += gateway_match_rules(service.match, (*base, "match"))
    for index, mirror in enumerate(service.mirror):
        if mirror.backend_ref is None:
            out.append(
                error(
                    (*base, "mirror", index, "backendRef"),
                    "is required: a mirror filter needs a backend to send copies of the requests to",
                    "service-mirror",
                )
            )
    if service.mirror and router not in GATEWAY_API:
        out.append(
            warning(
                (*base, "mirror"),
                f"is only used by the Gateway API providers; ignored with {provider}",
                "provider-field",
            )
        )
    return out


def gateway_match_rules(matches: Sequence[HTTPMatchRequest | AnalysisMatch], base: Path) -> list[Problem]:
    """Gateway API cannot express every Istio condition; Flagger fails the route when it meets one."""
    out: list[Problem] = []
    for index, match in enumerate(matches):
        where = (*base, index)
        if isinstance(match, HTTPMatchRequest):
            uri, method = match.uri, match.method
            if uri is not None and not (uri.exact or uri.prefix or uri.regex):
                out.append(
                    error(
                        (*where, "uri"),
                        "must set exact, prefix or regex for Gateway API",
                        "gatewayapi-match",
                        "Gateway API doesn't support the specified path matching selector",
                    )
                )
            if method is not None and not method.exact:
                out.append(
                    error(
                        (*where, "method"),
                        "must be an exact match for Gateway API",
                        "gatewayapi-match",
                        "Gateway API doesn't support the specified header matching selector",
                    )
                )
        groups: tuple[tuple[str, str, Mapping[str, StringMatch]], ...] = (
            ("headers", "header", match.headers),
            ("queryParams", "query", match.query_params),
        )
        for wire, word, conditions in groups:
            for key, cond in conditions.items():
                if not (cond.exact or cond.regex):
                    out.append(
                        error(
                            (*where, wire, key),
                            "must be an exact or regex match for Gateway API (prefix and suffix are not supported)",
                            "gatewayapi-match",
                            f"Gateway API doesn't support the specified {word} matching selector",
                        )
                    )
    return out


def router_ref_rules(canary: Canary, router: Router, provider: str) -> list[Problem]:
    spec = canary.spec
    out: list[Problem] = []
    if router in GATEWAY_API and (spec.service is None or not spec.service.gateway_refs):
        out.append(
            error(
                ("spec", "service", "gatewayRefs"),
                f"is required with provider {provider}: the "
                "generated HTTPRoute must attach to a Gateway (or, for a mesh, a Service)",
                "gatewayapi-gateway-refs",
                "GatewayRefs must be specified when using Gateway API as a provider.",
            )
        )
    if router in INGRESS_REF and spec.ingress_ref is None:
        out.append(
            error(
                ("spec", "ingressRef"),
                f"is required with provider {provider}: it names the Ingress to copy for the canary",
                "ingress-ref",
                "ingress selector is empty",
            )
        )
    if router is Router.APISIX and spec.route_ref is None:
        out.append(
            error(
                ("spec", "routeRef"),
                "is required with provider apisix: it names the ApisixRoute to copy for the canary",
                "route-ref",
                "apisix route selector is empty",
            )
        )
    if router is Router.APPMESH and (spec.service is None or not spec.service.mesh_name):
        out.append(
            error(
                ("spec", "service", "meshName"),
                "is required with provider appmesh (App Mesh v1beta1)",
                "appmesh-mesh-name",
                "mesh name cannot be empty",
            )
        )
    if spec.upstream_ref is not None and router is not Router.GLOO:
        out.append(
            warning(
                ("spec", "upstreamRef"), f"is only used by the gloo provider; ignored with {provider}", "provider-field"
            )
        )
    return out
