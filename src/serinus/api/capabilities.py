"""Every provider Serinus knows, one declarative table per kind: the mesh and ingress routers (`MESH_PROVIDERS`),
the metric back-ends (`METRIC_PROVIDERS`) and the alert receivers (`ALERT_PROVIDERS`).

These are the facts, kept once: names, the provider strings that select a router (Flagger's factory order), what
each can do, which built-in queries it uses and which module implements it. Everything else is derived from them:
what `serinus validate` accepts or warns about (`api/rules/`), the operator's choice of router and its Warning events
(`routers/features.py`, `routers/registry.py`), the built-in queries (`metrics/builtin.py`), the metric and alert
registries, and the tables of docs/routers.md and docs/metrics.md. The api layer imports no adapter, so an
implementation is named by its module path and the adapter's registry imports it
(`tests/unit/api/test_capabilities.py` checks that every view agrees with these tables).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from serinus.api.alert_provider import AlertProviderType
from serinus.api.metric_template import MetricProviderType

# ----- mesh and ingress routers ---------------------------------------------------------------------------------


class Router(StrEnum):
    """The router kinds, one per row of docs/routers.md's table; several provider strings may select one."""

    ISTIO = "istio"
    GATEWAYAPI_V1 = "gatewayapi:v1"
    GATEWAYAPI_V1BETA1 = "gatewayapi:v1beta1"
    LINKERD = "linkerd"
    SMI = "smi"
    OSM = "osm"
    KUMA = "kuma"
    KNATIVE = "knative"
    KUBERNETES = "kubernetes"
    CONTOUR = "contour"
    GLOO = "gloo"
    NGINX = "nginx"
    SKIPPER = "skipper"
    TRAEFIK = "traefik"
    APISIX = "apisix"
    APPMESH = "appmesh"
    APPMESH_V1BETA2 = "appmesh:v1beta2"


@dataclass(frozen=True)
class Features:
    """What one router can do with traffic (the feature tables of Flagger's README.md, corrected where the routers
    of pkg/router do more)."""

    weights: bool
    ab_testing: bool
    blue_green: bool
    mirroring: bool
    canary_mirroring: bool
    session_affinity: bool
    primary_cookie: bool


#: The feature names, in the order of docs/routers.md's columns and of the Warning events.
FEATURE_NAMES = tuple(f.name for f in fields(Features))


@dataclass(frozen=True)
class MeshProvider:
    """One router kind: the provider strings that select it, what it can do, its built-in queries, and the module
    that drives it on a cluster."""

    router: Router
    features: Features
    #: the module under serinus.routers whose `ROUTING` drives it; None where the operator does not drive it
    implementation: str | None
    #: docs: the objects its live router writes
    writes: str
    #: docs: what its built-in metrics are
    builtin_metrics: str
    #: its built-in queries: src/serinus/metrics/builtin/<observer>.yaml
    observer: str
    #: provider strings that select it as they are ...
    names: tuple[str, ...] = ()
    #: ... and by prefix (Flagger's strings.HasPrefix cases)
    prefixes: tuple[str, ...] = ()
    #: metrics provider strings with this prefix use `observer` too (Flagger's observer factory matches by prefix)
    observer_prefix: str = ""
    #: it copies the Ingress that spec.ingressRef names
    ingress_ref: bool = False


def _weighted(ab_testing: bool = False) -> Features:
    """Weights and blue/green, A/B where said, no mirroring or affinity: what most routers can do."""
    return Features(
        weights=True,
        ab_testing=ab_testing,
        blue_green=True,
        mirroring=False,
        canary_mirroring=False,
        session_affinity=False,
        primary_cookie=False,
    )


def _gateway(primary_cookie: bool) -> Features:
    """Gateway API: everything but mirroring during a progressive canary."""
    return Features(
        weights=True,
        ab_testing=True,
        blue_green=True,
        mirroring=True,
        canary_mirroring=False,
        session_affinity=True,
        primary_cookie=primary_cookie,
    )


_GATEWAY_METRICS = "http observer only; use MetricTemplates"

#: The router kinds, in docs/routers.md's order. Adding a router is a row here and its module under serinus.routers.
MESH_PROVIDERS: tuple[MeshProvider, ...] = (
    MeshProvider(
        Router.ISTIO,
        Features(
            weights=True,
            ab_testing=True,
            blue_green=True,
            mirroring=True,
            canary_mirroring=True,
            session_affinity=True,
            primary_cookie=True,
        ),
        "serinus.routers.istio",
        "DestinationRules `<apex>-primary`, `<apex>-canary`; VirtualService `<apex>`",
        "yes",
        "istio",
        names=("istio",),
    ),
    MeshProvider(
        Router.GATEWAYAPI_V1,
        _gateway(primary_cookie=True),
        "serinus.routers.gatewayapi",
        "HTTPRoute `<apex>` (gateway.networking.k8s.io/v1)",
        _GATEWAY_METRICS,
        "http",
        prefixes=("gatewayapi:v1",),
        observer_prefix="gatewayapi",
    ),
    MeshProvider(
        Router.GATEWAYAPI_V1BETA1,
        _gateway(primary_cookie=False),
        "serinus.routers.gatewayapi",
        "HTTPRoute `<apex>` (gateway.networking.k8s.io/v1beta1)",
        _GATEWAY_METRICS,
        "http",
        prefixes=("gatewayapi:v1beta1",),
        observer_prefix="gatewayapi",
    ),
    MeshProvider(
        Router.LINKERD,
        _weighted(),
        "serinus.routers.smi",
        "TrafficSplit `<apex>` (split.smi-spec.io/v1alpha1)",
        "yes (linkerd observer)",
        "linkerd",
        names=("linkerd",),
    ),
    MeshProvider(
        Router.SMI,
        _weighted(),
        "serinus.routers.smi",
        "TrafficSplit `<apex>` (the version in the provider string)",
        "yes",
        # Flagger's observer factory has no smi case: its default, istio
        "istio",
        prefixes=("smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3"),
    ),
    MeshProvider(
        Router.OSM,
        _weighted(),
        "serinus.routers.smi",
        "TrafficSplit `<apex>` (split.smi-spec.io/v1alpha2)",
        "yes (osm observer)",
        "osm",
        names=("osm",),
    ),
    MeshProvider(
        Router.KUMA,
        _weighted(),
        "serinus.routers.kuma",
        "TrafficRoute `<apex>` (cluster scoped)",
        "yes",
        "kuma",
        names=("kuma",),
    ),
    MeshProvider(
        Router.KNATIVE,
        Features(
            weights=True,
            ab_testing=False,
            blue_green=False,
            mirroring=False,
            canary_mirroring=False,
            session_affinity=False,
            primary_cookie=False,
        ),
        "serinus.routers.knative",
        "the Knative Service's `spec.traffic` and its primary-revision annotation",
        "yes (knative observer)",
        "knative",
        names=("knative",),
    ),
    MeshProvider(
        Router.KUBERNETES,
        Features(
            weights=False,
            ab_testing=False,
            blue_green=True,
            mirroring=False,
            canary_mirroring=False,
            session_affinity=False,
            primary_cookie=False,
        ),
        "serinus.routers.nop",
        "the Services only (blue/green)",
        "yes (http observer; needs app metrics)",
        "http",
        names=("kubernetes",),
    ),
    MeshProvider(
        Router.CONTOUR,
        _weighted(ab_testing=True),
        "serinus.routers.contour",
        "HTTPProxy `<apex>`",
        "yes",
        "contour",
        names=("contour",),
    ),
    MeshProvider(
        Router.GLOO,
        _weighted(ab_testing=True),
        "serinus.routers.gloo",
        "Upstreams `<ns>-<apex>-{primary,canary}upstream-<port>`; RouteTable `<apex>`",
        "yes",
        "gloo",
        prefixes=("gloo",),
        observer_prefix="gloo",
    ),
    MeshProvider(
        Router.NGINX,
        _weighted(ab_testing=True),
        "serinus.routers.nginx",
        "Ingress `<ingress>-canary`",
        "yes",
        "nginx",
        names=("nginx",),
        ingress_ref=True,
    ),
    MeshProvider(
        Router.SKIPPER,
        _weighted(),
        "serinus.routers.skipper",
        "Ingress `<ingress>-canary`",
        "yes",
        "skipper",
        names=("skipper",),
        ingress_ref=True,
    ),
    MeshProvider(
        Router.TRAEFIK,
        _weighted(),
        "serinus.routers.traefik",
        "TraefikService `<apex>`",
        "yes",
        "traefik",
        names=("traefik",),
    ),
    MeshProvider(
        Router.APISIX,
        _weighted(),
        "serinus.routers.apisix",
        "ApisixRoute `<route>-<apex>-canary`",
        "yes",
        "apisix",
        names=("apisix",),
    ),
    MeshProvider(
        # App Mesh's retired v1beta1 API: validated and documented, not driven
        Router.APPMESH,
        _weighted(ab_testing=True),
        None,
        "",
        "yes",
        "appmesh",
        names=("appmesh",),
        observer_prefix="appmesh",
    ),
    MeshProvider(
        Router.APPMESH_V1BETA2,
        _weighted(ab_testing=True),
        "serinus.routers.appmesh",
        "VirtualNodes `<apex>-primary`, `<apex>-canary`; VirtualRouters and VirtualServices `<apex>`, `<apex>-canary`",
        "yes",
        "appmesh",
        prefixes=("appmesh:v1beta2",),
        observer_prefix="appmesh",
    ),
)

MESH: dict[Router, MeshProvider] = {p.router: p for p in MESH_PROVIDERS}
_BY_NAME = {name: p.router for p in MESH_PROVIDERS for name in p.names}
_BY_PREFIX = sorted(((prefix, p.router) for p in MESH_PROVIDERS for prefix in p.prefixes), key=lambda x: -len(x[0]))


def router_for(provider: str) -> tuple[Router, bool]:
    """The router Flagger picks for a provider string, and whether it fell back to istio.

    Flagger's factory (pkg/router/factory.go) compares names and prefixes in one switch; no name starts with a
    prefix and the only overlapping prefixes are `gatewayapi:v1beta1` and `gatewayapi:v1`, which Flagger tries in
    that order, so a name first, then the longest matching prefix, picks what Flagger picks."""
    if provider in _BY_NAME:
        return _BY_NAME[provider], False
    for prefix, router in _BY_PREFIX:
        if provider.startswith(prefix):
            return router, False
    return Router.ISTIO, True


def unknown_provider_warning(provider: str) -> str:
    """Flagger's words when a provider string selects no router and istio is used instead."""
    return f"unknown mesh router provider '{provider}', using istio"


def builtin_observer(metrics_provider: str) -> str:
    """The built-in queries for a metrics provider string (Flagger's pkg/metrics/observers/factory.go): a router's
    own name, else an observer prefix (`appmesh...`, `gloo...`, `gatewayapi...`), else istio's."""
    if metrics_provider in _BY_NAME:
        return MESH[_BY_NAME[metrics_provider]].observer
    for p in MESH_PROVIDERS:
        if p.observer_prefix and metrics_provider.startswith(p.observer_prefix):
            return p.observer
    return MESH[Router.ISTIO].observer


def _having(feature: str) -> frozenset[Router]:
    return frozenset(p.router for p in MESH_PROVIDERS if getattr(p.features, feature))


#: The two Gateway API routers (one family of checks in validation).
GATEWAY_API = frozenset({Router.GATEWAYAPI_V1, Router.GATEWAYAPI_V1BETA1})
#: Routers that send A/B (analysis.match) traffic to the canary.
AB_TESTING = _having("ab_testing")
#: Routers that mirror traffic in a weighted canary release (the others never report the mirror step done).
CANARY_MIRRORING = _having("canary_mirroring")
#: Routers that mirror traffic in a blue/green release.
BLUE_GREEN_MIRRORING = _having("mirroring")
#: Routers that implement cookie session affinity, and those that also keep a primary cookie.
SESSION_AFFINITY = _having("session_affinity")
PRIMARY_COOKIE = _having("primary_cookie")
#: Routers that copy an Ingress named by spec.ingressRef.
INGRESS_REF = frozenset(p.router for p in MESH_PROVIDERS if p.ingress_ref)


# ----- metric back-ends -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricProvider:
    """One MetricTemplate `spec.provider.type`: what its client needs to be built, and the module implementing it."""

    type: MetricProviderType
    #: the module under serinus.metrics whose provider class serves it (built by metrics/registry.py)
    implementation: str
    #: its client is built from the metric's interval (it queries a window), so a canary metric needs one
    interval: bool = False
    #: Flagger's error when it has no address ("" when the address is optional)
    address_required: str = ""
    #: the Secret keys it cannot start without, in words ("" when it needs no Secret)
    secret_keys: str = ""
    #: it honours insecureSkipVerify
    tls_optional: bool = False
    #: it reads the Kubernetes API when it has no address of its own
    kube_api: bool = False
    #: its address is an http(s) URL (keptn has none it reads)
    url_address: bool = True
    #: it sends spec.provider.headers
    headers: bool = False
    #: it needs spec.provider.region
    region: bool = False


_NOT_A_URL = "{type} address {address} is not a valid URL"

#: Every metric back-end, in docs/metrics.md's order.
METRIC_PROVIDERS: tuple[MetricProvider, ...] = (
    MetricProvider(
        MetricProviderType.PROMETHEUS,
        "serinus.metrics.prometheus",
        address_required=_NOT_A_URL,
        tls_optional=True,
        headers=True,
    ),
    MetricProvider(
        MetricProviderType.DATADOG,
        "serinus.metrics.datadog",
        interval=True,
        secret_keys="datadog_api_key and datadog_application_key",
    ),
    MetricProvider(
        MetricProviderType.NEWRELIC,
        "serinus.metrics.newrelic",
        interval=True,
        secret_keys="newrelic_account_id and newrelic_query_key",
    ),
    MetricProvider(
        MetricProviderType.DYNATRACE,
        "serinus.metrics.dynatrace",
        interval=True,
        address_required="dynatrace endpoint is not set",
        secret_keys="dynatrace_token",
    ),
    MetricProvider(MetricProviderType.CLOUDWATCH, "serinus.metrics.cloudwatch", interval=True, region=True),
    MetricProvider(
        MetricProviderType.GRAPHITE, "serinus.metrics.graphite", address_required=_NOT_A_URL, tls_optional=True
    ),
    MetricProvider(
        MetricProviderType.INFLUXDB, "serinus.metrics.influxdb", address_required=_NOT_A_URL, tls_optional=True
    ),
    MetricProvider(MetricProviderType.STACKDRIVER, "serinus.metrics.stackdriver"),
    MetricProvider(
        MetricProviderType.SPLUNK,
        "serinus.metrics.splunk",
        interval=True,
        address_required="splunk endpoint is not set",
        secret_keys="sf_token_key",
    ),
    MetricProvider(MetricProviderType.KEPTN, "serinus.metrics.keptn", kube_api=True, url_address=False),
    MetricProvider(
        MetricProviderType.EXTERNALMETRICS, "serinus.metrics.externalmetrics", tls_optional=True, kube_api=True
    ),
    MetricProvider(MetricProviderType.KAYENTA, "serinus.metrics.kayenta"),
)

METRICS: dict[MetricProviderType, MetricProvider] = {p.type: p for p in METRIC_PROVIDERS}
#: Providers whose client is built from the metric's interval, so a canary metric using them needs one.
INTERVAL_PROVIDERS = frozenset(p.type for p in METRIC_PROVIDERS if p.interval)
#: Providers that read the Kubernetes API when they have no address of their own.
KUBE_PROVIDERS = frozenset(p.type for p in METRIC_PROVIDERS if p.kube_api)


# ----- alert receivers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertProviderInfo:
    """One AlertProvider `spec.type`: how errors name it and which fields it uses. How it is delivered (payload,
    endpoint) is notify/receivers.py's entry for the same type."""

    type: AlertProviderType
    #: how an invalid address is named in errors ("invalid Slack hook URL")
    label: str
    #: a chat service that takes spec.username and spec.channel: its name in errors about them ("" for the others)
    chat: str = ""
    #: it sends the Secret's token as a bearer token
    token: bool = False


#: Every alert receiver: Flagger's five, then Serinus's generic webhook and Alertmanager.
ALERT_PROVIDERS: tuple[AlertProviderInfo, ...] = (
    AlertProviderInfo(AlertProviderType.SLACK, "Slack hook", chat="Slack", token=True),
    AlertProviderInfo(AlertProviderType.DISCORD, "Discord hook", chat="Discord"),
    AlertProviderInfo(AlertProviderType.ROCKET, "Rocket hook", chat="Rocket"),
    AlertProviderInfo(AlertProviderType.MSTEAMS, "MS Teams webhook"),
    AlertProviderInfo(AlertProviderType.GCHAT, "Google Chat webhook"),
    AlertProviderInfo(AlertProviderType.WEBHOOK, "webhook", token=True),
    AlertProviderInfo(AlertProviderType.ALERTMANAGER, "Alertmanager", token=True),
)

ALERTS: dict[AlertProviderType, AlertProviderInfo] = {p.type: p for p in ALERT_PROVIDERS}
#: Receivers for which spec.channel (and spec.username) mean something.
CHAT = frozenset(p.type for p in ALERT_PROVIDERS if p.chat)
