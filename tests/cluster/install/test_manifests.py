"""The install manifests under deploy/: the Helm charts lint and render with the real helm binary, the kustomize
base builds with the real kustomize, and what they render passes a server-side dry-run apply on the real API
server. The operator's arguments in both are flags `serinus run` accepts, and a values file written for Flagger's
chart installs Serinus unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from lightkube import ApiError, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace

from serinus.cli.run import run as run_command
from serinus.loadtester.cli import main as loadtester_command
from tests.cluster.controlplane import CHART, OPERATOR_NAMESPACE, ROOT, Cluster
from tests.cluster.crds import module_dir
from tests.fields import present
from tests.gomodules import pinned_versions

pytestmark = pytest.mark.cluster

LOADTESTER = ROOT / "deploy" / "charts" / "serinus-loadtester"
KUSTOMIZE_BASE = ROOT / "deploy" / "kustomize" / "base"
KUSTOMIZE_LOADTESTER = ROOT / "deploy" / "kustomize" / "loadtester"
KUSTOMIZE_NAMESPACED = ROOT / "deploy" / "kustomize" / "namespaced"
#: kinds whose CRDs (Prometheus Operator's) are not on the test cluster: checked by content, not dry-run
MONITORING = {"ServiceMonitor", "PodMonitor"}


def _flagger_charts() -> Path:
    return module_dir("github.com/fluxcd/flagger", "v" + pinned_versions()["FLAGGER_VERSION"]) / "charts"


def _dry_run(cluster: Cluster, docs: list[dict[str, Any]]) -> None:
    """Server-side apply every document with dryRun=All; the API server validates each against its schema."""
    client = cluster.client()
    for doc in docs:
        if doc["kind"] in MONITORING:
            continue
        try:
            client.apply(codecs.from_dict(doc), field_manager="serinus-install-test", force=True, dry_run=True)
        except ApiError as err:
            pytest.fail(f"{doc['kind']} {doc['metadata'].get('name')} rejected: {err.status.message}")


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _args_parse(command: click.Command, args: list[str]) -> None:
    """The container's arguments are options the command accepts (click raises on an unknown one)."""
    command.make_context(command.name or "cmd", list(args), resilient_parsing=False)


@pytest.mark.parametrize("chart", [CHART, LOADTESTER], ids=["serinus", "serinus-loadtester"])
def test_charts_lint(cluster: Cluster, chart: Path) -> None:
    """`helm lint` passes for both charts."""
    helm = cluster.plane.bin_dir / "helm"
    proc = subprocess.run(
        [str(helm), "lint", str(chart), "--kube-version", "1.34.4"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_chart_defaults_render_and_apply(cluster: Cluster, namespace: str) -> None:
    """The default install: CRDs (the very file under deploy/crds), ServiceAccount, ClusterRole and binding,
    Deployment with /healthz probes, non-root and read-only, and the /metrics Service; all accepted."""
    assert (CHART / "crds" / "crds.yaml").resolve() == (ROOT / "deploy" / "crds" / "crds.yaml").resolve()
    docs = cluster.helm_template("--include-crds")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",  # Serinus's own CanaryRun, after Flagger's three
        "CustomResourceDefinition",  # and CanaryAction
        "Deployment",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",  # who may act on a release (docs/actions.md)
        "ValidatingAdmissionPolicyBinding",
    ]
    (deployment,) = _by_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/serinus-dev/serinus:0.1.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["args"][0] == "run"
    _args_parse(run_command, container["args"][1:])
    assert _by_kind(docs, "Service")[0]["spec"]["ports"][0]["port"] == 8080
    _dry_run(cluster, docs)


def test_every_option_renders_and_applies(cluster: Cluster, namespace: str) -> None:
    """Leader election with two replicas (and its Role), the PodDisruptionBudget, Service and Pod monitors, the
    Flagger flags: every argument is one `serinus run` accepts."""
    docs = cluster.helm_template(
        "--set",
        "leaderElection.enabled=true",
        "--set",
        "leaderElection.replicaCount=2",
        "--set",
        "podDisruptionBudget.enabled=true",
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "podMonitor.enabled=true",
        "--set",
        "meshProvider=nginx",
        "--set",
        "namespace=apps",
        "--set",
        "selectorLabels=app\\,name",
        "--set",
        "configTracking.enabled=false",
        "--set",
        "ingressAnnotationsPrefix=custom.ingress.kubernetes.io",
        "--set",
        "ingressClass=contour",
        "--set",
        "includeLabelPrefix=team",
        "--set",
        "eventWebhook=http://events.example/hook",
        "--set",
        "clusterName=prod-eu",
        "--set",
        "noCrossNamespaceRefs=true",
        "--set",
        "slack.channel=releases",
        "--set",
        "slack.url=https://hooks.slack.com/x",
        "--set",
        "msteams.url=https://outlook.office.com/webhook/x",
    )
    (deployment,) = _by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    for flag in (
        "-mesh-provider=nginx",
        "-namespace=apps",
        "-selector-labels=app,name",
        "--disable-config-tracking",
        "-ingress-annotations-prefix=custom.ingress.kubernetes.io",
        "-ingress-class=contour",
        "-include-label-prefix=team",
        "-event-webhook=http://events.example/hook",
        "-cluster-name=prod-eu",
        "--no-cross-namespace-refs",
        "--enable-leader-election",
        f"-leader-election-namespace={OPERATOR_NAMESPACE}",
        "-slack-channel=releases",
    ):
        assert flag in args
    _args_parse(run_command, args[1:])
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {
        "SERINUS_SLACK_URL": "https://hooks.slack.com/x",
        "SERINUS_MSTEAMS_URL": "https://outlook.office.com/webhook/x",
    }
    assert _by_kind(docs, "PodDisruptionBudget")[0]["spec"]["minAvailable"] == 1
    roles = {r["metadata"]["name"]: r for r in _by_kind(docs, "Role")}
    assert sorted(roles) == ["serinus-configs", "serinus-leader-election"]  # configs: see the namespaced test
    role = roles["serinus-leader-election"]
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
    assert role["metadata"]["namespace"] == "apps"  # the Lease lives in the watched namespace, as in Flagger
    try:
        cluster.client().create(Namespace(metadata=ObjectMeta(name="apps")))
    except ApiError as err:
        if err.status.code != 409:
            raise
    (monitor,) = _by_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0] == {
        "port": "http",
        "path": "/metrics",
        "interval": "15s",
        "honorLabels": False,
    }
    assert _by_kind(docs, "PodMonitor")[0]["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    _dry_run(cluster, docs)


def _is_config_rule(rule: dict[str, Any]) -> bool:
    return "" in rule["apiGroups"] and bool({"configmaps", "secrets"} & set(rule["resources"]))


def test_a_namespaced_install_grants_configs_through_roles(cluster: Cluster, namespace: str) -> None:
    """With `namespace` set, the ClusterRole says nothing of ConfigMaps or Secrets: a Role in the watched namespace
    holds the very rule the cluster-wide install has, a namespace of `rbac.secretNamespaces` gets `get` on Secrets
    only, each bound to the chart's ServiceAccount; every other rule is unchanged, and all is accepted."""
    everywhere = next(d for d in cluster.helm_template() if d["kind"] == "ClusterRole")["rules"]
    (config_rule,) = [r for r in everywhere if _is_config_rule(r)]
    assert set(config_rule["resources"]) == {"configmaps", "secrets"}
    docs = cluster.helm_template(
        "--set", "namespace=apps", "--set", "rbac.secretNamespaces={monitoring,apps}", "--include-crds"
    )
    (cluster_role,) = _by_kind(docs, "ClusterRole")
    assert [r for r in cluster_role["rules"] if _is_config_rule(r)] == []
    assert cluster_role["rules"] == [r for r in everywhere if not _is_config_rule(r)]
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r["rules"] for r in _by_kind(docs, "Role")}
    assert roles == {  # `apps` is the watched namespace already: no second Role there
        ("apps", "serinus-configs"): [config_rule],
        ("monitoring", "serinus-secrets"): [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }
    bindings = {
        (b["metadata"]["namespace"], b["roleRef"]["name"]): b["subjects"] for b in _by_kind(docs, "RoleBinding")
    }
    subject = [{"kind": "ServiceAccount", "name": "serinus", "namespace": OPERATOR_NAMESPACE}]
    assert bindings == {("apps", "serinus-configs"): subject, ("monitoring", "serinus-secrets"): subject}
    (deployment,) = _by_kind(docs, "Deployment")
    assert "-namespace=apps" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    client = cluster.client()
    for name in ("apps", "monitoring"):
        try:
            client.create(Namespace(metadata=ObjectMeta(name=name)))
        except ApiError as err:
            if err.status.code != 409:
                raise
    _dry_run(cluster, docs)


def test_flaggers_own_values_file_installs_serinus(cluster: Cluster, namespace: str) -> None:
    """Flagger's chart values file, unchanged, with the kubernetes provider: renders (Flagger's template names
    included), runs Serinus's image rather than Flagger's, and `helm install` puts it on the cluster, where its
    Deployment becomes available (on the fake nodes) and `helm uninstall` removes it again."""
    values = _flagger_charts() / "flagger" / "values.yaml"
    docs = cluster.helm_template("-f", str(values), "--set", "meshProvider=kubernetes")
    (deployment,) = _by_kind(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/serinus-dev/serinus:0.1.0"
    assert "-mesh-provider=kubernetes" in container["args"]
    _args_parse(run_command, container["args"][1:])
    _dry_run(cluster, docs)
    helm = [str(cluster.plane.bin_dir / "helm"), f"--kubeconfig={cluster.kubeconfig}", "--namespace", "flagger-values"]
    install = subprocess.run(
        [
            *helm,
            "install",
            "from-flagger",
            str(CHART),
            "--create-namespace",
            "-f",
            str(values),
            "--set",
            "meshProvider=kubernetes",
            "--wait",
            "--timeout",
            "90s",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        assert install.returncode == 0, install.stderr
        live = cluster.client(namespace="flagger-values").get(Deployment, "from-flagger-serinus")
        assert present(live.status).availableReplicas == 1
    finally:
        subprocess.run([*helm, "uninstall", "from-flagger", "--wait"], capture_output=True, check=False)


def test_loadtester_chart_with_flaggers_values(cluster: Cluster, namespace: str) -> None:
    """The load tester's chart, with its own defaults and with Flagger's loadtester values file: a Deployment
    running `serinus-loadtester` with flags it accepts, and its Service on port 80."""
    for extra in ([], ["-f", str(_flagger_charts() / "loadtester" / "values.yaml")]):
        docs = cluster.helm_template(*extra, chart=LOADTESTER, release="loadtester")
        (deployment,) = _by_kind(docs, "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["serinus-loadtester"]
        assert container["image"] == "ghcr.io/serinus-dev/serinus:0.1.0"
        _args_parse(loadtester_command, container["args"])
        assert _by_kind(docs, "Service")[0]["spec"]["ports"][0]["port"] == 80
        _dry_run(cluster, docs)


def test_kustomize_base_builds_and_applies(cluster: Cluster) -> None:
    """`kustomize build deploy/kustomize/base`: the CRDs, the namespace, the same ClusterRole rules as the chart,
    a Deployment whose arguments `serinus run` accepts, its Service and PodDisruptionBudget; all accepted."""
    docs = cluster.kustomize_build(KUSTOMIZE_BASE)
    assert sorted(d["kind"] for d in docs) == sorted(
        [
            "Namespace",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",  # Serinus's own CanaryRun, after Flagger's three
            "CustomResourceDefinition",  # and CanaryAction
            "ValidatingAdmissionPolicy",  # who may act on a release (docs/actions.md)
            "ValidatingAdmissionPolicyBinding",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
        ]
    )
    chart = cluster.helm_template()
    chart_rules = next(d for d in chart if d["kind"] == "ClusterRole")["rules"]
    assert _by_kind(docs, "ClusterRole")[0]["rules"] == chart_rules
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):  # the chart's, copied
        assert _by_kind(docs, kind)[0]["spec"] == _by_kind(chart, kind)[0]["spec"]
    (deployment,) = _by_kind(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    _args_parse(run_command, container["args"][1:])
    assert container["image"] == "ghcr.io/serinus-dev/serinus:0.1.0"
    assert (
        _by_kind(docs, "PodDisruptionBudget")[0]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        == "serinus"
    )
    for doc in docs:  # the namespace must exist for a dry run of what goes in it
        if doc["kind"] == "Namespace":
            cluster.ensure_namespace(doc["metadata"]["name"])
    _dry_run(cluster, docs)


def test_kustomize_namespaced_overlay_matches_the_namespaced_chart(cluster: Cluster) -> None:
    """`kustomize build deploy/kustomize/namespaced`: the base watching `apps`, with the chart's namespaced
    ClusterRole (no ConfigMap or Secret rule) and the chart's Role in `apps`, bound to the ServiceAccount; all
    accepted."""
    docs = cluster.kustomize_build(KUSTOMIZE_NAMESPACED)
    chart = cluster.helm_template("--set", "namespace=apps")
    (chart_role,) = _by_kind(chart, "Role")
    assert _by_kind(docs, "ClusterRole")[0]["rules"] == _by_kind(chart, "ClusterRole")[0]["rules"]
    (role,) = _by_kind(docs, "Role")
    assert (role["metadata"]["namespace"], role["rules"]) == ("apps", chart_role["rules"])
    (binding,) = _by_kind(docs, "RoleBinding")
    assert binding["metadata"]["namespace"] == "apps"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "serinus", "namespace": "serinus-system"}]
    container = _by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-1] == "-namespace=apps"
    _args_parse(run_command, container["args"][1:])
    for name in ("serinus-system", "apps"):
        cluster.ensure_namespace(name)
    _dry_run(cluster, docs)


def test_kustomize_loadtester_builds_and_applies(cluster: Cluster, namespace: str) -> None:
    """`kustomize build deploy/kustomize/loadtester`: a Deployment running `serinus-loadtester` with flags it
    accepts and its Service on port 80; accepted in the namespace an overlay would set."""
    docs = [
        {**d, "metadata": {**d["metadata"], "namespace": namespace}}
        for d in cluster.kustomize_build(KUSTOMIZE_LOADTESTER)
    ]
    assert sorted(d["kind"] for d in docs) == ["Deployment", "Service"]
    container = _by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["serinus-loadtester"]
    _args_parse(loadtester_command, container["args"])
    _dry_run(cluster, docs)
