"""The provider tables are the one source: what each provider declares, and every view derived from them (validation,
the feature matrix, live routers, built-in queries, the metric and alert registries, the docs) agrees with them."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from serinus.api import AlertProviderType, MetricProviderType, Provider
from serinus.api import capabilities as cap
from serinus.api.capabilities import ALERT_PROVIDERS, FEATURE_NAMES, MESH_PROVIDERS, METRIC_PROVIDERS, Router
from serinus.engine.dialects import DIALECTS
from serinus.kube.memory import MemoryCluster
from serinus.metrics.builtin import observer_for, observers
from serinus.metrics.registry import KUBE_PROVIDERS, PROVIDERS, ProviderConfig, make_provider
from serinus.notify.receivers import DELIVERY
from serinus.routers import features, live, registry
from serinus.routers.routing import load

DOCS = Path(__file__).resolve().parents[3] / "docs"

# What each router kind declares: (names, prefixes, features it has, built-in queries, implementing module).
WAB = ("weights", "ab_testing", "blue_green")
WB = ("weights", "blue_green")
GATEWAY = (*WAB, "mirroring", "session_affinity")
DECLARED = {
    "istio": (("istio",), (), FEATURE_NAMES, "istio", "serinus.routers.istio"),
    "gatewayapi:v1": ((), ("gatewayapi:v1",), (*GATEWAY, "primary_cookie"), "http", "serinus.routers.gatewayapi"),
    "gatewayapi:v1beta1": ((), ("gatewayapi:v1beta1",), GATEWAY, "http", "serinus.routers.gatewayapi"),
    "linkerd": (("linkerd",), (), WB, "linkerd", "serinus.routers.smi"),
    "smi": ((), ("smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3"), WB, "istio", "serinus.routers.smi"),
    "osm": (("osm",), (), WB, "osm", "serinus.routers.smi"),
    "kuma": (("kuma",), (), WB, "kuma", "serinus.routers.kuma"),
    "knative": (("knative",), (), ("weights",), "knative", "serinus.routers.knative"),
    "kubernetes": (("kubernetes",), (), ("blue_green",), "http", "serinus.routers.nop"),
    "contour": (("contour",), (), WAB, "contour", "serinus.routers.contour"),
    "gloo": ((), ("gloo",), WAB, "gloo", "serinus.routers.gloo"),
    "nginx": (("nginx",), (), WAB, "nginx", "serinus.routers.nginx"),
    "skipper": (("skipper",), (), WB, "skipper", "serinus.routers.skipper"),
    "traefik": (("traefik",), (), WB, "traefik", "serinus.routers.traefik"),
    "apisix": (("apisix",), (), WB, "apisix", "serinus.routers.apisix"),
    "appmesh": (("appmesh",), (), WAB, "appmesh", None),
    "appmesh:v1beta2": ((), ("appmesh:v1beta2",), WAB, "appmesh", "serinus.routers.appmesh"),
}


def test_each_router_kind_declares_its_strings_features_queries_and_module() -> None:
    """The table of routers says, per kind, which provider strings select it, what it can do, which built-in
    queries it uses and which module drives it: exactly this list, and one row per Router member."""
    got = {
        p.router.value: (
            p.names,
            p.prefixes,
            tuple(n for n in FEATURE_NAMES if getattr(p.features, n)),
            p.observer,
            p.implementation,
        )
        for p in MESH_PROVIDERS
    }
    assert got == DECLARED
    assert [p.router for p in MESH_PROVIDERS] == list(Router)


def test_every_provider_string_selects_its_own_router() -> None:
    """Each name and prefix picks the row that declares it; no name is shadowed by another row's prefix, and only
    strings nobody declares fall back to istio."""
    for p in MESH_PROVIDERS:
        for s in (*p.names, *p.prefixes, *(f"{prefix}:anything" for prefix in p.prefixes)):
            assert cap.router_for(s) == (p.router, False), s
    prefixes = [x for p in MESH_PROVIDERS for x in p.prefixes]
    assert not [n for p in MESH_PROVIDERS for n in p.names if n.startswith(tuple(prefixes))]
    assert cap.router_for("gatewayapi") == (Router.ISTIO, True)
    assert cap.router_for("smi") == (Router.ISTIO, True)


def test_every_provider_validate_accepts_has_a_live_router() -> None:
    """Every `spec.provider` value of the CRD selects a declared router without falling back, and every router the
    operator drives (all but App Mesh's retired v1beta1 API) has a module with a ROUTING."""
    for provider in Provider:
        router, fell_back = cap.router_for(provider.value)
        assert not fell_back, provider
        assert router in cap.MESH
    driven = {p.router.value for p in MESH_PROVIDERS if p.implementation is not None}
    assert driven == set(registry.ROUTERS) == set(Router) - {Router.APPMESH}
    for p in MESH_PROVIDERS:
        if p.implementation is not None:
            assert p.implementation.startswith("serinus.routers.")
            assert load(p) is importlib.import_module(p.implementation).ROUTING


def test_every_kind_a_router_writes_has_a_lightkube_resource() -> None:
    """The operator can address every API kind a router module declares (live.RESOURCES is built from them)."""
    declared = {(k.api_version, k.kind) for p in MESH_PROVIDERS if p.implementation is not None for k in load(p).kinds}
    assert declared == set(live.RESOURCES)
    assert ("kuma.io/v1alpha1", "TrafficRoute") in declared  # the one cluster-scoped kind


def test_feature_matrix_and_validation_sets_are_the_table() -> None:
    """The operator's feature matrix and validation's feature sets hold what the table declares, router by router."""
    assert {p.router.value: p.features for p in MESH_PROVIDERS} == features.SUPPORT
    for name, feature in (
        ("AB_TESTING", "ab_testing"),
        ("CANARY_MIRRORING", "canary_mirroring"),
        ("BLUE_GREEN_MIRRORING", "mirroring"),
        ("SESSION_AFFINITY", "session_affinity"),
        ("PRIMARY_COOKIE", "primary_cookie"),
    ):
        assert getattr(cap, name) == {r for r in Router if getattr(features.SUPPORT[r.value], feature)}, name
    assert {Router.NGINX, Router.SKIPPER} == cap.INGRESS_REF


def test_builtin_queries_follow_the_table() -> None:
    """Every observer a router names is shipped and nothing else is; each router's strings get its queries, metrics
    provider strings with an observer prefix too, and anything else Istio's."""
    assert set(observers()) == {p.observer for p in MESH_PROVIDERS}
    for p in MESH_PROVIDERS:
        for s in (*p.names, *p.prefixes):
            assert observer_for(s).name == p.observer, s
        if p.observer_prefix:
            assert observer_for(p.observer_prefix + ":service").name == p.observer
    assert observer_for("linkerd:service").name == "istio"
    assert observer_for("gatewayapi").name == "http"


def test_metric_providers_are_the_crd_types_and_built_by_their_module() -> None:
    """Each MetricTemplate provider type has one row, a factory, a query dialect, and its factory builds the class
    of the module the row names."""
    assert sorted(p.type for p in METRIC_PROVIDERS) == sorted(MetricProviderType)
    assert set(PROVIDERS) == set(DIALECTS) == {p.type.value for p in METRIC_PROVIDERS}
    assert {"keptn", "externalmetrics"} == KUBE_PROVIDERS
    assert {"datadog", "newrelic", "dynatrace", "splunk", "cloudwatch"} == cap.INTERVAL_PROVIDERS


def _service_account_key() -> str:
    """A Google service-account JSON key (stackdriver's client is built from one; nothing is sent here)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "shop-prod",
            "private_key_id": "k1",
            "private_key": pem.decode(),
            "client_email": "serinus@shop-prod.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.example.test/token",
        }
    )


@pytest.mark.parametrize("row", METRIC_PROVIDERS, ids=lambda p: p.type.value)
async def test_each_metric_factory_builds_the_declared_module(row: cap.MetricProvider) -> None:
    """make_provider(type) builds a provider defined in the module the table names for that type."""
    secret = {
        "datadog_api_key": "k",
        "datadog_application_key": "a",
        "newrelic_account_id": "1",
        "newrelic_query_key": "q",
        "dynatrace_token": "t",
        "sf_token_key": "t",
        "token": "t",
        "org": "o",
        "project": "shop-prod",
    }
    if row.type is MetricProviderType.STACKDRIVER:
        secret["serviceAccountKey"] = _service_account_key()
    config = ProviderConfig(row.type.value, "https://example.test", secret=secret, region="eu-west-1", interval_s=60)
    provider = make_provider(config, cluster=MemoryCluster() if row.kube_api else None)
    try:
        assert type(provider).__module__ == row.implementation
        assert provider.name == row.type.value
    finally:
        await provider.close()


def test_alert_providers_are_the_crd_types_and_each_is_delivered() -> None:
    """Each AlertProvider type has one row of facts and one delivery entry; chat services are the ones validation
    accepts a channel for."""
    assert sorted(p.type for p in ALERT_PROVIDERS) == sorted(AlertProviderType)
    assert set(DELIVERY) == set(AlertProviderType)
    assert {AlertProviderType.SLACK, AlertProviderType.DISCORD, AlertProviderType.ROCKET} == cap.CHAT


def test_docs_router_table_is_generated_from_the_table() -> None:
    """docs/routers.md holds the table markdown_table renders from MESH_PROVIDERS, one row per router kind."""
    table = registry.markdown_table()
    assert table in (DOCS / "routers.md").read_text()
    assert re.findall(r"^\| `([^`]+)` \|", table, re.M) == [p.router.value for p in MESH_PROVIDERS]


def test_docs_metric_tables_list_every_provider_and_observer() -> None:
    """docs/metrics.md's providers table lists the metric providers in the table's order, its dialect table names
    each once, and its list of observers is the routers' built-in queries."""
    text = (DOCS / "metrics.md").read_text()
    providers = text.split("\n## Providers\n", 1)[1]
    rows = re.findall(r"^\| `([a-z]+)` \|", providers, re.M)
    assert rows == [p.type.value for p in METRIC_PROVIDERS]
    dialects = text.split("| provider | string literals followed |", 1)[1].split("\n\n", 1)[0]
    first_cells = [row.split(" | ")[0] for row in dialects.splitlines()[2:]]
    named = [re.sub(r" \(.*", "", cell).lstrip("| ") for cell in first_cells]
    assert sorted(n.strip("`") for cell in named for n in cell.split(", ")) == sorted(
        p.type.value for p in METRIC_PROVIDERS
    )
    observed = re.search(r"^Observers: (.+?)\.$", text, re.M | re.S)
    assert observed is not None
    flat = re.sub(r"\s*\([^)]*\)", "", re.sub(r"\s+", " ", observed[1]))
    assert set(flat.split(", ")) == {p.observer for p in MESH_PROVIDERS}
