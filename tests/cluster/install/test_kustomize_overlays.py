"""The kustomize overlays under deploy/kustomize, one for each provider Flagger ships one for (its kustomize/ dir):
built by the real kustomize, each sets the mesh provider, namespace and metrics server Flagger's sets, keeps every
other argument of the base, binds its ServiceAccount where it runs, and adds the bundled Prometheus where Flagger's
does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from serinus.cli.run import run as run_command
from tests.cluster.controlplane import ROOT
from tests.cluster.install.render import kustomize_build, named
from tests.cluster.install.test_manifests import _args_parse
from tests.gomodules import flagger_dir

pytestmark = pytest.mark.cluster

KUSTOMIZE = ROOT / "deploy" / "kustomize"
SCRAPE_CONFIG = KUSTOMIZE / "prometheus" / "prometheus.yml"
#: Flagger's kustomize directories that are not provider overlays
NOT_OVERLAYS = {"base", "podinfo", "tester"}
#: the namespaces that belong to a mesh: the overlay installs into them but does not own (or delete) them
MESH_NAMESPACES = {"istio-system", "appmesh-system", "projectcontour", "kong-mesh-system"}


@dataclass(frozen=True)
class Overlay:
    """What an overlay must render: where Serinus runs, its provider, its Prometheus and any extra flag."""

    name: str
    namespace: str
    provider: str
    metrics_server: str
    bundles_prometheus: bool
    extra_args: tuple[str, ...] = ()


OVERLAYS = [
    Overlay("kubernetes", "serinus-system", "kubernetes", "http://serinus-prometheus:9090", True),
    Overlay("istio", "istio-system", "istio", "http://prometheus:9090", False),
    Overlay("appmesh", "appmesh-system", "appmesh", "http://appmesh-prometheus:9090", False),
    Overlay("linkerd", "serinus-system", "gatewayapi:v1beta1", "http://prometheus.linkerd-viz:9090", False),
    Overlay(
        "contour", "projectcontour", "contour", "http://serinus-prometheus:9090", True, ("-ingress-class=contour",)
    ),
    Overlay("gatewayapi", "serinus-system", "gatewayapi:v1", "http://serinus-prometheus:9090", True),
    Overlay("knative", "serinus-system", "knative", "http://serinus-prometheus:9090", True),
    Overlay("kuma", "kong-mesh-system", "kuma", "http://prometheus-server.mesh-observability:80", False),
    Overlay("apisix", "serinus-system", "apisix", "http://serinus-prometheus:9090", True),
]
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Mesh"}


def _flagger_kustomize() -> Path:
    return flagger_dir() / "kustomize"


def _flagger_overlay(name: str) -> Overlay:
    """What Flagger's overlay of that name sets, in Serinus's names (flagger-system and flagger-prometheus become
    serinus-system and serinus-prometheus)."""
    root = _flagger_kustomize() / name
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    bases = [*kustomization.get("bases", []), *kustomization.get("resources", [])]
    patch = next(d for d in yaml.safe_load_all((root / "patch.yaml").read_text()) if d["kind"] == "Deployment")
    args: list[str] = patch["spec"]["template"]["spec"]["containers"][0]["args"]

    def flag(prefix: str) -> str:
        return next(a.removeprefix(prefix) for a in args if a.startswith(prefix))

    def rename(text: str) -> str:
        return text.replace("flagger-system", "serinus-system").replace("flagger-prometheus", "serinus-prometheus")

    known = ("-log-level=", "-include-label-prefix=", "-mesh-provider=", "-metrics-server=")
    return Overlay(
        name=name,
        namespace=rename(kustomization.get("namespace", "flagger-system")),
        provider=flag("-mesh-provider="),
        metrics_server=rename(flag("-metrics-server=")),
        bundles_prometheus=any(b.rstrip("/").endswith("base/prometheus") for b in bases),
        extra_args=tuple(a for a in args if not a.startswith(known)),
    )


def _args(docs: list[dict[str, Any]]) -> list[str]:
    return list(named(docs, "Deployment", "serinus")["spec"]["template"]["spec"]["containers"][0]["args"])


def test_an_overlay_for_each_of_flaggers() -> None:
    """Every provider overlay in Flagger's kustomize/ has a directory here, and each sets what Flagger's sets."""
    flaggers = sorted(p.name for p in _flagger_kustomize().iterdir() if p.is_dir() and p.name not in NOT_OVERLAYS)
    assert flaggers == sorted(o.name for o in OVERLAYS)
    for overlay in OVERLAYS:
        assert (KUSTOMIZE / overlay.name / "kustomization.yaml").is_file()
        assert _flagger_overlay(overlay.name) == overlay


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_overlay_builds_with_its_provider_and_namespace(overlay: Overlay) -> None:
    """`kustomize build deploy/kustomize/<provider>`: the operator runs in the overlay's namespace with its
    -mesh-provider and -metrics-server, keeps every other argument of the base (all `serinus run` flags), and its
    ClusterRoleBindings name ServiceAccounts that exist in that namespace."""
    base_args = _args(kustomize_build(KUSTOMIZE / "base"))
    docs = kustomize_build(KUSTOMIZE / overlay.name)
    args = _args(docs)
    assert f"-mesh-provider={overlay.provider}" in args
    assert f"-metrics-server={overlay.metrics_server}" in args
    assert [a for a in args if a.startswith(("-mesh-provider=", "-metrics-server="))] == [
        f"-mesh-provider={overlay.provider}",
        f"-metrics-server={overlay.metrics_server}",
    ]
    kept = [a for a in base_args if not a.startswith(("-mesh-provider=", "-metrics-server="))]
    assert [a for a in args if a in kept] == kept
    for extra in overlay.extra_args:
        assert extra in args
    _args_parse(run_command, args[1:])

    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        if kind in CLUSTER_SCOPED:
            assert "namespace" not in meta, f"{kind} {meta['name']}"
        elif kind == "AuthorizationPolicy":
            assert meta["namespace"] == "linkerd-viz"  # beside the linkerd-viz Server it admits to
        else:
            assert meta["namespace"] == overlay.namespace, f"{kind} {meta['name']}"
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "ServiceAccount"}
    bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert bindings
    for binding in bindings:
        for subject in binding["subjects"]:
            assert (subject["namespace"], subject["name"]) in accounts, binding["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_overlay_owns_only_its_own_namespace(overlay: Overlay) -> None:
    """An overlay that runs Serinus in a mesh's namespace creates no Namespace object (so `kubectl delete -k` cannot
    remove the mesh's); the others create theirs, without sidecars where Flagger's say so."""
    namespaces = [d for d in kustomize_build(KUSTOMIZE / overlay.name) if d["kind"] == "Namespace"]
    if overlay.namespace in MESH_NAMESPACES:
        assert namespaces == []
        return
    (namespace,) = namespaces
    assert namespace["metadata"]["name"] == overlay.namespace
    annotations = namespace["metadata"].get("annotations", {})
    labels = namespace["metadata"].get("labels", {})
    if overlay.name in ("kubernetes", "knative"):
        assert annotations["linkerd.io/inject"] == "disabled"
        assert labels["istio-injection"] == "disabled"
        assert labels["appmesh.k8s.aws/sidecarInjectorWebhook"] == "disabled"
    if overlay.name == "linkerd":
        assert annotations["linkerd.io/inject"] == "enabled"  # linkerd-viz's Prometheus admits meshed clients only


@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_bundled_prometheus_where_flaggers_has_one(overlay: Overlay) -> None:
    """Overlays without a mesh Prometheus add serinus-prometheus beside the operator, reading the same scrape config
    as the chart's; the operator's -metrics-server is that Service, and the Deployment mounts the generated
    ConfigMap. The others add no Prometheus."""
    docs = kustomize_build(KUSTOMIZE / overlay.name)
    ours = [d for d in docs if d["metadata"]["name"].startswith("serinus-prometheus")]
    if not overlay.bundles_prometheus:
        assert ours == []
        return
    assert sorted(d["kind"] for d in ours) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    service = named(docs, "Service", "serinus-prometheus")
    assert overlay.metrics_server == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    deployment = named(docs, "Deployment", "serinus-prometheus")
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    operator_pod = named(docs, "Deployment", "serinus")["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= operator_pod.items()
    (config_map,) = [d for d in ours if d["kind"] == "ConfigMap"]
    assert config_map["data"]["prometheus.yml"] == SCRAPE_CONFIG.read_text()
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config-volume"]["configMap"]["name"] == config_map["metadata"]["name"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "docker.io/prom/prometheus:v2.41.0"
    assert pod["spec"]["serviceAccountName"] == "serinus-prometheus"


def test_kuma_overlay_turns_on_the_meshs_prometheus_metrics() -> None:
    """The kuma overlay carries Flagger's default Mesh with a Prometheus metrics backend, cluster-scoped as Kuma's
    Mesh is (no namespace)."""
    docs = kustomize_build(KUSTOMIZE / "kuma")
    mesh = named(docs, "Mesh", "default")
    assert mesh["apiVersion"] == "kuma.io/v1alpha1"
    assert "namespace" not in mesh["metadata"]
    assert mesh["spec"]["metrics"] == {
        "enabledBackend": "prometheus-1",
        "backends": [{"name": "prometheus-1", "type": "prometheus"}],
    }


def test_linkerd_overlay_lets_serinus_query_linkerd_viz() -> None:
    """The linkerd overlay's AuthorizationPolicy admits Serinus's ServiceAccount to linkerd-viz's Prometheus."""
    policy = named(kustomize_build(KUSTOMIZE / "linkerd"), "AuthorizationPolicy", "prometheus-admin-serinus")
    assert policy["metadata"]["namespace"] == "linkerd-viz"
    assert policy["spec"]["targetRef"] == {"group": "policy.linkerd.io", "kind": "Server", "name": "prometheus-admin"}
    assert policy["spec"]["requiredAuthenticationRefs"] == [
        {"kind": "ServiceAccount", "name": "serinus", "namespace": "serinus-system"}
    ]


def test_prometheus_alone_builds() -> None:
    """deploy/kustomize/prometheus on its own installs the same Prometheus in serinus-system."""
    docs = kustomize_build(KUSTOMIZE / "prometheus")
    assert sorted(d["kind"] for d in docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    assert named(docs, "ClusterRoleBinding", "serinus-prometheus")["subjects"][0]["namespace"] == "serinus-system"
