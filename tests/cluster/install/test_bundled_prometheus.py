"""`prometheus.install=true` in the Helm chart installs the Prometheus Flagger's chart installs (its
templates/prometheus.yaml): the same objects, values and scrape jobs, and the operator's -metrics-server points at
it. Rendered by the real helm; the scrape config is checked by the real promtool. Nothing is run: the image is not
reachable from here."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.controlplane import ROOT
from tests.cluster.install.render import helm_template, named
from tests.gomodules import flagger_dir

pytestmark = pytest.mark.cluster

SCRAPE_CONFIG = ROOT / "deploy" / "kustomize" / "prometheus" / "prometheus.yml"
PROMETHEUS_KINDS = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service", "ServiceAccount"]


def _flagger_chart() -> Path:
    return flagger_dir() / "charts" / "flagger"


def _flagger_scrape_config() -> dict[str, Any]:
    """The prometheus.yml inlined in Flagger's chart template."""
    template = (_flagger_chart() / "templates" / "prometheus.yaml").read_text()
    block = template.split("prometheus.yml: |-\n", 1)[1].split("\n---\n", 1)[0]
    return dict(yaml.safe_load(textwrap.dedent(block)))


def _scalars_as_text(node: Any) -> Any:
    """Prometheus reads every relabel field as text: YAML's `true` and "true" are the same regex."""
    if isinstance(node, dict):
        return {k: _scalars_as_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_scalars_as_text(v) for v in node]
    return str(node).lower() if isinstance(node, bool) else node


def _operator_args(docs: list[dict[str, Any]], name: str = "serinus") -> list[str]:
    return list(named(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["args"])


def _prometheus_docs(docs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["metadata"]["name"] == name]


def test_install_adds_a_prometheus_and_points_the_operator_at_it() -> None:
    """With prometheus.install=true: ServiceAccount, ClusterRole and its binding, the scrape ConfigMap, the
    Deployment and its Service, all `serinus-prometheus`; -metrics-server is that Service's URL, whatever
    metricsServer says, and the Service selects the Prometheus pod, not the operator's."""
    docs = helm_template("--set", "prometheus.install=true", "--set", "metricsServer=http://elsewhere:9090")
    ours = _prometheus_docs(docs, "serinus-prometheus")
    assert sorted(d["kind"] for d in ours) == PROMETHEUS_KINDS
    assert all(d["metadata"].get("namespace", "serinus-system") == "serinus-system" for d in ours)
    args = _operator_args(docs)
    assert "-metrics-server=http://serinus-prometheus:9090" in args
    assert not any("elsewhere" in a for a in args)

    service = named(docs, "Service", "serinus-prometheus")
    assert service["spec"]["ports"] == [{"name": "http", "protocol": "TCP", "port": 9090, "targetPort": "http"}]
    deployment = named(docs, "Deployment", "serinus-prometheus")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    operator_pod = named(docs, "Deployment", "serinus")["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= operator_pod.items()
    # the operator's own Service (and a ServiceMonitor on its labels) does not select Prometheus's pod
    assert not named(docs, "Service", "serinus")["spec"]["selector"].items() <= pod_labels.items()


def test_the_release_name_carries_into_the_url() -> None:
    """A release named `canaries` gets `canaries-serinus-prometheus`, and the operator reads that very Service."""
    docs = helm_template("--set", "prometheus.install=true", release="canaries")
    named(docs, "Service", "canaries-serinus-prometheus")
    assert "-metrics-server=http://canaries-serinus-prometheus:9090" in _operator_args(docs, "canaries-serinus")


def test_without_install_nothing_is_added() -> None:
    """The default: no Prometheus object, and -metrics-server is metricsServer."""
    docs = helm_template("--set", "metricsServer=http://prometheus.monitoring:9090")
    assert _prometheus_docs(docs, "serinus-prometheus") == []
    assert "-metrics-server=http://prometheus.monitoring:9090" in _operator_args(docs)


def test_the_deployment_runs_flaggers_image_and_values() -> None:
    """The image, retention, pull secret and security context come from Flagger's `prometheus.*` values: the default
    image is the one Flagger's chart names, and a Flagger values file's overrides land where Flagger puts them."""
    flagger_values = yaml.safe_load((_flagger_chart() / "values.yaml").read_text())["prometheus"]
    ours = yaml.safe_load((ROOT / "deploy" / "charts" / "serinus" / "values.yaml").read_text())["prometheus"]
    assert ours == flagger_values

    docs = helm_template("--set", "prometheus.install=true")
    pod = named(docs, "Deployment", "serinus-prometheus")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == flagger_values["image"] == "docker.io/prom/prometheus:v2.41.0"
    assert "--storage.tsdb.retention.time=2h" in container["args"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in container["args"]
    assert "securityContext" not in container
    assert "imagePullSecrets" not in pod
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": 9090}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"config-volume": "/etc/prometheus", "data-volume": "/prometheus/data"}
    assert "--storage.tsdb.path=/prometheus/data" in container["args"]  # the emptyDir, whatever the image's workdir
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config-volume"]["configMap"]["name"] == "serinus-prometheus"
    assert volumes["data-volume"] == {"name": "data-volume", "emptyDir": {}}
    assert pod["serviceAccountName"] == "serinus-prometheus"

    docs = helm_template(
        "--set",
        "prometheus.install=true",
        "--set",
        "prometheus.image=registry.internal/prometheus:v2.53.0",
        "--set",
        "prometheus.retention=6h",
        "--set",
        "prometheus.pullSecret=regcred",
        "--set",
        "prometheus.securityContext.enabled=true",
    )
    pod = named(docs, "Deployment", "serinus-prometheus")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.internal/prometheus:v2.53.0"
    assert "--storage.tsdb.retention.time=6h" in container["args"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert container["securityContext"] == {"readOnlyRootFilesystem": True, "runAsUser": 10001}


def test_rbac_lets_prometheus_discover_and_scrape() -> None:
    """The ServiceAccount is bound to a ClusterRole that lists and watches what the scrape jobs discover (pods,
    endpoints, services, nodes) and reads cAdvisor through nodes/proxy, as Flagger's; no write verb."""
    docs = helm_template("--set", "prometheus.install=true")
    binding = named(docs, "ClusterRoleBinding", "serinus-prometheus")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "serinus-prometheus",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "serinus-prometheus", "namespace": "serinus-system"}
    ]
    named(docs, "ServiceAccount", "serinus-prometheus")
    rules = named(docs, "ClusterRole", "serinus-prometheus")["rules"]
    granted = {(r, v) for rule in rules for r in rule.get("resources", []) for v in rule["verbs"]}
    for resource in ("pods", "endpoints", "services", "nodes"):
        assert {(resource, "list"), (resource, "watch")} <= granted
    assert ("nodes/proxy", "get") in granted
    assert {v for rule in rules for v in rule["verbs"]} == {"get", "list", "watch"}
    flagger_rules = yaml.safe_load(
        (_flagger_chart() / "templates" / "prometheus.yaml").read_text().split("rules:\n", 1)[1].split("---", 1)[0]
    )
    flagger_granted = {(r, v) for rule in flagger_rules for r in rule.get("resources", []) for v in rule["verbs"]}
    assert granted == flagger_granted


def test_the_scrape_config_is_flaggers() -> None:
    """The ConfigMap holds deploy/kustomize/prometheus/prometheus.yml byte for byte, and its jobs are those of
    Flagger's bundled Prometheus (App Mesh Envoys, API servers, cAdvisor, annotated pods); the operator's pod
    carries the annotations the pods job keeps, so its own metrics are scraped too."""
    docs = helm_template("--set", "prometheus.install=true")
    text = named(docs, "ConfigMap", "serinus-prometheus")["data"]["prometheus.yml"]
    assert text == SCRAPE_CONFIG.read_text().rstrip("\n")
    config = yaml.safe_load(text)
    assert _scalars_as_text(config) == _scalars_as_text(_flagger_scrape_config())
    assert [j["job_name"] for j in config["scrape_configs"]] == [
        "appmesh-envoy",
        "kubernetes-apiservers",
        "kubernetes-cadvisor",
        "kubernetes-pods",
    ]
    annotations = named(docs, "Deployment", "serinus")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    # a changed scrape config changes the pod template, so Prometheus restarts to read it
    checksum = named(docs, "Deployment", "serinus-prometheus")["spec"]["template"]["metadata"]["annotations"]
    assert len(checksum["checksum/config"]) == 64


def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    """The real promtool accepts the rendered config. Debian's Prometheus is built without Kubernetes service
    discovery, so each job's kubernetes_sd_configs is swapped for a static target first: every other field (the
    relabel rules and their regexes, TLS, metrics paths) is checked as Prometheus will read it."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (./scripts/test installs Debian's prometheus package)")
    docs = helm_template("--set", "prometheus.install=true")
    config = yaml.safe_load(named(docs, "ConfigMap", "serinus-prometheus")["data"]["prometheus.yml"])
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["127.0.0.1:9090"]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run([promtool, "check", "config", "--syntax-only", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
