"""`serinus run` drives real releases on the real control plane: initialization, promotion of an image change,
rollback on metrics served by a real Prometheus, a ConfigMap change, DaemonSet and StatefulSet targets, and an
operator killed mid-release, all with Flagger's status, Services and event texts."""

from __future__ import annotations

import json
import re
import signal
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx2
import pytest
from lightkube import ApiError, Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Secret, Service
from lightkube.resources.networking_v1 import Ingress
from lightkube.types import PatchType
from prometheus_client.parser import text_string_to_metric_families

from serinus.kube.resources import Canary, MetricTemplate
from serinus.routers.live import RESOURCES
from serinus.targets.scalers import ScaledObject
from tests.cluster.controlplane import Cluster, free_port
from tests.cluster.crds import install_contour, install_gateway_api, install_istio, install_keda, install_traefik
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import as_dict, meta, pod_spec, present
from tests.integration.conftest import Prometheus

VirtualService = RESOURCES[("networking.istio.io/v1beta1", "VirtualService")]
DestinationRule = RESOURCES[("networking.istio.io/v1beta1", "DestinationRule")]
TraefikService = RESOURCES[("traefik.io/v1alpha1", "TraefikService")]
HTTPProxy = RESOURCES[("projectcontour.io/v1", "HTTPProxy")]
IMAGE_1, IMAGE_2 = "ghcr.io/example/web:1.0", "ghcr.io/example/web:2.0"


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    """A fresh namespace, with Serinus's CRDs installed (as the chart installs them)."""
    cluster.install_serinus_crds()
    ns = f"rel-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    return ns


@pytest.fixture
def metrics_port() -> int:
    """The port the operator serves /metrics and /healthz on."""
    return free_port()


@pytest.fixture
def operator(cluster: Cluster, namespace: str, tmp_path: Path, metrics_port: int) -> Iterator[tuple[Client, str, Path]]:
    """`serinus run` watching the namespace."""
    log = tmp_path / "operator.log"
    with op.running(cluster, namespace, log, f"--port={metrics_port}"):
        yield cluster.client(namespace=namespace), namespace, log


def _image(client: Client, kind: type, name: str) -> str:
    return str(client.get(kind, name).spec.template.spec.containers[0].image)


def _set_image(client: Client, kind: type, name: str, image: str) -> None:
    client.patch(kind, name, {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}})


def _backends(ingress: Ingress) -> list[str]:
    """The Service each path of the Ingress's first rule sends to."""
    rule = present(present(ingress.spec).rules)[0]
    return [present(path.backend.service).name for path in present(rule.http).paths]


def test_initializes_then_promotes_an_image_change(operator: tuple[Client, str, Path]) -> None:
    """The operator creates web-primary and the three Services, scales web to zero, reports Initialized; after an
    image change it runs two blue/green iterations, copies the new image to web-primary and ends Succeeded. The
    Canary's AlertProvider (Slack format, a local receiver) hears of the initialization and the promotion."""
    client, ns, log = operator
    receiver = op.Receiver()
    client.create(
        codecs.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "AlertProvider",
                "metadata": {"name": "on-call", "namespace": ns},
                "spec": {"type": "slack", "channel": "releases", "address": receiver.url},
            }
        )
    )
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns,
            analysis={
                "interval": "10s",
                "threshold": 2,
                "iterations": 2,
                "alerts": [{"name": "on-call", "severity": "info", "providerRef": {"name": "on-call"}}],
            },
        )
    )

    wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    primary = client.get(Deployment, "web-primary")
    assert pod_spec(primary).containers[0].image == IMAGE_1
    assert primary.spec.selector.matchLabels == {"app": "web-primary"}
    assert client.get(Deployment, "web").spec.replicas == 0
    assert present(client.get(Service, "web").spec).selector == {"app": "web-primary"}
    assert present(client.get(Service, "web-primary").spec).selector == {"app": "web-primary"}
    assert present(client.get(Service, "web-canary").spec).selector == {"app": "web"}
    status = op.status(client)
    assert status["conditions"][0]["type"] == "Promoted"
    assert status["conditions"][0]["status"] == "True"
    assert status["lastAppliedSpec"]
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
    wait_for(lambda: f"Initialization done! web.{ns}" in op.events(client), "the Initialization event", timeout=20)

    _set_image(client, Deployment, "web", IMAGE_2)
    wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)

    promoted = client.get(Deployment, "web-primary")
    assert pod_spec(promoted).containers[0].image == IMAGE_2
    assert "flagger-id" in (meta(promoted.spec.template).annotations or {})
    assert client.get(Deployment, "web").spec.replicas == 0
    expected = [
        f"New revision detected! Scaling up web.{ns}",
        f"Starting canary analysis for web.{ns}",
        f"Advance web.{ns} canary iteration 1/2",
        f"Advance web.{ns} canary iteration 2/2",
        f"Copying web.{ns} template spec to web-primary.{ns}",
        f"Promotion completed! Scaling down web.{ns}",
    ]
    wait_for(lambda: op.in_order(op.events(client), expected), "the release's events in Flagger's order", timeout=20)
    status = op.status(client)
    assert status["lastPromotedSpec"] == status["lastAppliedSpec"]
    assert status["conditions"][0]["reason"] == "Succeeded"

    def texts() -> list[str]:
        return [a["text"] for body in receiver.bodies for a in (body or {}).get("attachments") or []]

    wait_for(
        lambda: "Canary analysis completed successfully, promotion finished." in texts(),
        f"the promotion alert (received: {receiver.bodies})",
        timeout=20,
    )
    assert "New Deployment detected, initialization completed." in texts()
    assert all(body["channel"] == "releases" for body in receiver.bodies)
    receiver.close()


def test_metrics_breach_rolls_back_and_leaves_the_primary_alone(
    operator: tuple[Client, str, Path], prometheus: Prometheus, metrics_port: int
) -> None:
    """A MetricTemplate on the real Prometheus reports 5 errors/s against a bound of 1: after `threshold` failed
    checks the release is rolled back, the canary scaled to zero, and web-primary keeps the old image."""
    client, ns, log = operator
    prometheus.exporter.counter("app_errors_total", {"namespace": ns}, per_second=5)
    query = f'sum(rate(app_errors_total{{namespace="{ns}"}}[15s]))'
    wait_for(
        lambda: httpx2.get(f"{prometheus.url}/api/v1/query", params={"query": query}).json()["data"]["result"],
        "Prometheus to have the error rate",
        timeout=60,
    )
    client.create(
        MetricTemplate.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": "errors", "namespace": ns},
                "spec": {
                    "provider": {"type": "prometheus", "address": prometheus.url},
                    "query": 'sum(rate(app_errors_total{namespace="{{ namespace }}"}[{{ interval }}]))',
                },
            }
        )
    )
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns,
            analysis={
                "interval": "10s",
                "threshold": 2,
                "iterations": 5,
                "metrics": [
                    {
                        "name": "error-rate",
                        "interval": "15s",
                        "templateRef": {"name": "errors"},
                        "thresholdRange": {"max": 1},
                    }
                ],
            },
        )
    )
    wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    _set_image(client, Deployment, "web", IMAGE_2)
    wait_for(lambda: op.phase(client) == "Failed", f"phase Failed (log: {log})", timeout=180)

    assert _image(client, Deployment, "web-primary") == IMAGE_1
    assert client.get(Deployment, "web").spec.replicas == 0
    halt = re.compile(rf"Halt web\.{ns} advancement error-rate \d+\.\d\d > 1$")

    def rolled_back() -> bool:
        found = op.events(client)
        halts = sum(count for message, count in op.event_counts(client).items() if halt.match(message))
        return halts >= 2 and op.in_order(
            found, [f"Rolling back web.{ns} failed checks threshold reached 2", f"Canary failed! Scaling down web.{ns}"]
        )

    wait_for(rolled_back, "two metric halts, then the rollback events", timeout=20)
    status = op.status(client)
    assert status["conditions"][0]["status"] == "False"
    assert status["failedChecks"] == 0
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(
            httpx2.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        )
        for sample in family.samples
    }
    canary_labels = (("name", "web"), ("namespace", ns))
    assert samples[("flagger_canary_status", canary_labels)] == 2
    assert (
        samples[
            (
                "flagger_canary_failures_total",
                tuple(
                    sorted((*canary_labels, ("analysis_status", "completed"), ("deployment_strategy", "blue-green")))
                ),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "flagger_canary_metric_analysis_total",
                tuple(sorted((*canary_labels, ("metric", "error-rate"), ("result", "failed")))),
            )
        ]
        >= 2
    )


def test_a_configmap_change_alone_starts_a_release(operator: tuple[Client, str, Path]) -> None:
    """Only the ConfigMap's and Secret's data change: a run starts and the promotion copies the new data to
    cfg-primary and creds-primary."""
    client, ns, log = operator
    client.create(ConfigMap(metadata=ObjectMeta(name="cfg", namespace=ns), data={"mode": "old"}))
    client.create(Secret(metadata=ObjectMeta(name="creds", namespace=ns), stringData={"token": "old"}))
    client.create(
        codecs.from_dict(
            op.deployment(
                ns,
                IMAGE_1,
                volumes=[
                    {"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "creds", "secret": {"secretName": "creds"}},
                ],
            )
        )
    )
    client.create(op.canary(ns))
    wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    primary = pod_spec(client.get(Deployment, "web-primary"))
    assert present(present(primary.volumes)[0].configMap).name == "cfg-primary"
    assert client.get(ConfigMap, "cfg-primary").data == {"mode": "old"}
    assert sorted(op.status(client)["trackedConfigs"]) == ["configmap/cfg", "secret/creds"]

    client.patch(Secret, "creds", {"stringData": {"token": "new"}})
    client.patch(ConfigMap, "cfg", {"data": {"mode": "new"}})
    wait_for(lambda: f"New revision detected! Scaling up web.{ns}" in op.events(client), "a run to start", timeout=60)
    wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
    assert client.get(ConfigMap, "cfg-primary").data == {"mode": "new"}
    assert client.get(Secret, "creds-primary").data == {"token": "bmV3"}
    assert _image(client, Deployment, "web-primary") == IMAGE_1


def test_daemonset_and_statefulset_targets_are_promoted(operator: tuple[Client, str, Path]) -> None:
    """A DaemonSet and a StatefulSet Canary: both initialize (target scaled to zero) and promote an image change."""
    client, ns, log = operator
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "agent:1"}]},
            },
        },
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": ns},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "db:1"}]},
            },
        },
    }
    for obj in (ds, sts):
        client.create(codecs.from_dict(obj))
    client.create(op.canary(ns, kind="DaemonSet", name="agent"))
    client.create(op.canary(ns, kind="StatefulSet", name="db"))
    for name in ("agent", "db"):
        wait_for(partial(op.has_phase, client, name, "Initialized"), f"{name} Initialized (log: {log})", timeout=120)
    assert (present(client.get(DaemonSet, "agent").status).desiredNumberScheduled or 0) == 0
    assert client.get(StatefulSet, "db").spec.replicas == 0

    _set_image(client, DaemonSet, "agent", "agent:2")
    _set_image(client, StatefulSet, "db", "db:2")
    for name in ("agent", "db"):
        wait_for(partial(op.has_phase, client, name, "Succeeded"), f"{name} Succeeded (log: {log})", timeout=240)
    assert _image(client, DaemonSet, "agent-primary") == "agent:2"
    assert _image(client, StatefulSet, "db-primary") == "db:2"
    assert client.get(StatefulSet, "db").spec.replicas == 0


def test_operator_killed_mid_release_finishes_it_after_restart(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """SIGKILL while the release is Progressing; a new process carries it on from the status to Succeeded."""
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "iterations": 4}))
    first = op.start(cluster, ns, log)
    try:
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: int(op.status(client).get("iterations") or 0) >= 1, "the first iteration", timeout=120)
    finally:
        op.stop(first, signal.SIGKILL)
    assert op.phase(client) == "Progressing"
    with op.running(cluster, ns, log):
        wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded after restart (log: {log})", timeout=180)
    assert _image(client, Deployment, "web-primary") == IMAGE_2
    assert op.events(client).count(f"New revision detected! Scaling up web.{ns}") == 1


def test_invalid_canary_gets_a_condition_and_a_warning(operator: tuple[Client, str, Path]) -> None:
    """A Canary whose stepWeights go down is not analysed: Valid=False names the field, a Warning event says so,
    and a healthy Canary beside it is initialized as usual."""
    client, ns, log = operator
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1, name="api")))
    client.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "stepWeights": [50, 10]}))
    client.create(op.canary(ns, name="api"))

    def condition() -> dict[str, str] | None:
        conds = op.status(client).get("conditions") or []
        return next((c for c in conds if c["type"] == "Valid"), None)

    valid = wait_for(condition, f"the Valid condition (log: {log})", timeout=60)
    assert valid["status"] == "False"
    assert "spec.analysis.stepWeights" in valid["message"]
    wait_for(
        lambda: any("invalid canary spec" in m and "stepWeights" in m for m in op.events(client)),
        "a Warning event naming the field",
        timeout=20,
    )
    wait_for(lambda: op.phase(client, "api") == "Initialized", "the other Canary to initialize", timeout=90)
    assert op.phase(client) == ""


def test_revert_on_deletion_gives_the_workload_and_service_back(operator: tuple[Client, str, Path]) -> None:
    """revertOnDeletion: the finalizer is added; deleting the Canary scales web back to the primary's size, points
    the user's own apex Service back at web's pods, says so in events, and lets the Canary go."""
    client, ns, log = operator
    client.create(
        codecs.from_dict(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            }
        )
    )
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(op.canary(ns, revertOnDeletion=True))
    wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    assert present(client.get(Service, "web").spec).selector == {"app": "web-primary"}
    wait_for(
        lambda: "finalizer.flagger.app" in (meta(client.get(Canary, "web")).finalizers or []),
        "the finalizer",
        timeout=30,
    )
    assert client.get(Deployment, "web").spec.replicas == 0

    client.delete(Canary, "web")

    def gone() -> bool:
        try:
            client.get(Canary, "web")
        except ApiError as err:
            return err.status.code == 404
        return False

    wait_for(gone, f"the Canary to be deleted (log: {log})", timeout=90)
    assert client.get(Deployment, "web").spec.replicas == 2
    assert present(client.get(Service, "web").spec).selector == {"app": "web"}
    expected = [f"Terminating canary web.{ns}", f"Terminated canary web.{ns}"]

    def every() -> list[tuple[str, str, str]]:
        return [(str(e.involvedObject.kind), str(e.involvedObject.name), e.message or "") for e in client.list(Event)]

    wait_for(
        lambda: op.in_order(op.events(client), expected) or None,
        f"the Terminating and Terminated events (found: {every()})",
        timeout=20,
    )


def test_hpa_and_scaled_object_get_primary_copies(cluster: Cluster, operator: tuple[Client, str, Path]) -> None:
    """autoscalerRef: web's HPA gets web-primary (scaling web-primary) and a release carries a new maxReplicas
    over; api's KEDA ScaledObject gets api-primary with its query rewritten, and is paused between runs."""
    client, ns, log = operator
    install_keda(cluster)
    for name in ("web", "api"):
        client.create(codecs.from_dict(op.deployment(ns, IMAGE_1, name=name)))
    client.create(
        codecs.from_dict(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 2,
                    "maxReplicas": 4,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                        }
                    ],
                },
            }
        )
    )
    client.create(
        ScaledObject.from_dict(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": {"name": "api", "namespace": ns},
                "spec": {
                    "scaleTargetRef": {"name": "api"},
                    "minReplicaCount": 1,
                    "maxReplicaCount": 3,
                    "triggers": [
                        {
                            "type": "prometheus",
                            "metadata": {
                                "serverAddress": "http://prometheus:9090",
                                "threshold": "10",
                                "query": 'sum(rate(http_requests_total{app="api"}[1m]))',
                            },
                        }
                    ],
                },
            }
        )
    )
    client.create(
        op.canary(ns, autoscalerRef={"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "web"})
    )
    client.create(
        op.canary(
            ns, name="api", autoscalerRef={"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "api"}
        )
    )
    for name in ("web", "api"):
        wait_for(partial(op.has_phase, client, name, "Initialized"), f"{name} Initialized (log: {log})", timeout=120)
    hpa = client.get(HorizontalPodAutoscaler, "web-primary")
    assert hpa.spec.scaleTargetRef.name == "web-primary"
    assert (hpa.spec.minReplicas, hpa.spec.maxReplicas) == (2, 4)
    assert present(meta(hpa).ownerReferences)[0].kind == "Canary"
    so = as_dict(client.get(ScaledObject, "api-primary"))
    assert so["spec"]["scaleTargetRef"]["name"] == "api-primary"
    assert so["spec"]["triggers"][0]["metadata"]["query"] == 'sum(rate(http_requests_total{app="api-primary"}[1m]))'
    paused = as_dict(client.get(ScaledObject, "api"))["metadata"].get("annotations") or {}
    assert paused.get("autoscaling.keda.sh/paused-replicas") == "0"

    client.patch(HorizontalPodAutoscaler, "web", {"spec": {"maxReplicas": 6}})
    _set_image(client, Deployment, "web", IMAGE_2)
    wait_for(lambda: op.phase(client) == "Succeeded", f"web Succeeded (log: {log})", timeout=180)
    assert client.get(HorizontalPodAutoscaler, "web-primary").spec.maxReplicas == 6


def test_leader_failover_carries_the_release_on(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """Two replicas with leader election: the leader is killed mid-release and the other, taking the Lease,
    finishes the release from its status; the run is started only once."""
    ns = namespace
    client = cluster.client(namespace=ns)
    election = ["--enable-leader-election", "--lease-duration=4s", "--renew-deadline=3s", "--retry-period=0.5s"]
    # The Lease lives in the watched namespace: the chart installed for that namespace grants Leases there.
    for doc in cluster.helm_template("--set", f"namespace={ns}", "--set", "leaderElection.enabled=true"):
        if doc["kind"] in ("Role", "RoleBinding"):
            cluster.client().apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "iterations": 4}))
    a = op.start(cluster, ns, tmp_path / "a.log", *election)
    b = None
    try:
        wait_for(
            lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {tmp_path / 'a.log'})", timeout=90
        )
        b = op.start(cluster, ns, tmp_path / "b.log", *election)
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: int(op.status(client).get("iterations") or 0) >= 1, "the first iteration", timeout=120)
        op.stop(a, signal.SIGKILL)
        wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (log: {tmp_path / 'b.log'})", timeout=180)
    finally:
        op.stop(a)
        if b is not None:
            op.stop(b)
    assert _image(client, Deployment, "web-primary") == IMAGE_2
    assert op.event_counts(client).get(f"New revision detected! Scaling up web.{ns}") == 1
    assert "Promotion completed!" in (tmp_path / "b.log").read_text()


def test_a_provider_without_a_live_router_is_a_warning_and_touches_nothing(operator: tuple[Client, str, Path]) -> None:
    """A Canary for a provider the operator cannot drive (App Mesh's retired v1beta1 API) gets a Warning event
    naming it; no primary is made."""
    client, ns, log = operator
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(op.canary(ns, provider="appmesh", service={"port": 80, "targetPort": 8080, "meshName": "global"}))
    wait_for(
        lambda: any("provider appmesh is not supported" in m for m in op.events(client)),
        f"the Warning event (log: {log})",
        timeout=60,
    )
    assert client.get(Deployment, "web").spec.replicas == 2
    with pytest.raises(ApiError):
        client.get(Deployment, "web-primary")


def test_a_missing_target_is_a_warning_and_other_canaries_carry_on(operator: tuple[Client, str, Path]) -> None:
    """A Canary whose Deployment does not exist gets a Warning event saying so; a Canary beside it initializes."""
    client, ns, log = operator
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1, name="api")))
    client.create(op.canary(ns))
    client.create(op.canary(ns, name="api"))
    wait_for(
        lambda: any(m.startswith(f"deployment web.{ns} get query error") for m in op.events(client)),
        f"the Warning event (log: {log})",
        timeout=60,
    )
    wait_for(lambda: op.phase(client, "api") == "Initialized", "the other Canary to initialize", timeout=90)


def test_istio_release_shifts_weights_on_the_virtual_service(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider istio against Istio's real CRDs: DestinationRules and the VirtualService are created, the canary
    weight goes 50 then 100 on the VirtualService, then all traffic back to the primary, Succeeded."""
    install_istio(cluster)
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns, provider="istio", analysis={"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100}
        )
    )
    seen: list[tuple[int, int]] = []

    def weights() -> tuple[int, int] | None:
        try:
            vs = client.get(VirtualService, "web").to_dict()
        except ApiError:
            return None
        route = vs["spec"]["http"][0]["route"]
        found = (int(route[0].get("weight", 0)), int(route[1].get("weight", 0)))
        if not seen or seen[-1] != found:
            seen.append(found)
        return found

    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        assert [
            d["spec"]["host"] for d in (client.get(DestinationRule, n).to_dict() for n in ("web-canary", "web-primary"))
        ] == ["web-canary", "web-primary"]
        assert weights() == (100, 0)
        # someone edits a generated DestinationRule: the next reconcile restores it
        client.patch(DestinationRule, "web-canary", {"spec": {"host": "elsewhere"}}, patch_type=PatchType.MERGE)
        wait_for(
            lambda: client.get(DestinationRule, "web-canary").to_dict()["spec"]["host"] == "web-canary",
            "the edited DestinationRule restored",
            timeout=30,
        )
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: (weights(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
    assert seen == [(100, 0), (50, 50), (0, 100), (100, 0)]
    assert _image(client, Deployment, "web-primary") == IMAGE_2
    expected = [
        f"Advance web.{ns} canary weight 50",
        f"Advance web.{ns} canary weight 100",
        f"Copying web.{ns} template spec to web-primary.{ns}",
        "Routing all traffic to primary",
        f"Promotion completed! Scaling down web.{ns}",
    ]
    wait_for(lambda: op.in_order(op.events(client), expected), "the release's events", timeout=20)


def test_a_feature_the_provider_lacks_is_a_warning(cluster: Cluster, operator: tuple[Client, str, Path]) -> None:
    """gatewayapi:v1beta1 asked for a primary session cookie: one Warning event naming the feature and the
    provider (not one per step), while the Canary is initialized as usual."""
    client, ns, log = operator
    install_gateway_api(cluster)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns,
            provider="gatewayapi:v1beta1",
            analysis={
                "interval": "10s",
                "threshold": 2,
                "stepWeight": 10,
                "sessionAffinity": {"cookieName": "c", "primaryCookieName": "p"},
            },
            service={"port": 80, "targetPort": 8080, "gatewayRefs": [{"name": "public", "namespace": "gateways"}]},
        )
    )
    expected = (
        "A primary session affinity cookie (primaryCookieName) is not supported when using the "
        "gatewayapi:v1beta1 provider"
    )
    wait_for(lambda: expected in op.events(client), f"the feature warning (log: {log})", timeout=60)
    wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    assert op.event_counts(client)[expected] == 1


def test_nginx_release_steers_the_canary_ingress(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider nginx: web-canary Ingress made from the user's (canary on, weight 0), its canary-weight goes 50
    then 100, then back to 0 when the primary has the new version."""
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    client.create(
        codecs.from_dict(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "rules": [
                        {
                            "host": "web.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            }
        )
    )
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns,
            provider="nginx",
            ingressRef={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"},
            analysis={"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100},
        )
    )
    seen: list[str] = []

    def weight() -> str | None:
        try:
            annotations = meta(client.get(Ingress, "web-canary")).annotations or {}
        except ApiError:
            return None
        value = annotations.get("nginx.ingress.kubernetes.io/canary-weight")
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        return value

    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        canary_ingress = client.get(Ingress, "web-canary")
        assert _backends(canary_ingress)[0] == "web-canary"
        assert present(meta(canary_ingress).annotations)["nginx.ingress.kubernetes.io/canary"] == "true"
        assert weight() == "0"
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: (weight(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
    assert seen == ["0", "50", "100", "0"]
    assert _image(client, Deployment, "web-primary") == IMAGE_2


def test_traefik_release_weights_the_traefik_service(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider traefik against Traefik's real CRDs: the TraefikService goes primary-only, 50/50, canary-only,
    then primary-only again as the release is promoted."""
    install_traefik(cluster)
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns, provider="traefik", analysis={"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100}
        )
    )
    seen: list[list[tuple[str, int]]] = []

    def services() -> list[tuple[str, int]] | None:
        try:
            ts = client.get(TraefikService, "web").to_dict()
        except ApiError:
            return None
        found = [(s["name"], s["weight"]) for s in ts["spec"]["weighted"]["services"]]
        if not seen or seen[-1] != found:
            seen.append(found)
        return found

    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        assert services() == [("web-primary", 100)]
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: (services(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
    assert seen == [
        [("web-primary", 100)],
        [("web-primary", 50), ("web-canary", 50)],
        [("web-primary", 0), ("web-canary", 100)],
        [("web-primary", 100)],
    ]


def test_contour_release_weights_the_http_proxy(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider contour against Contour's real CRD: the HTTPProxy's first route goes 100/0, 50/50, 0/100 and back."""
    install_contour(cluster)
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns, provider="contour", analysis={"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100}
        )
    )
    seen: list[tuple[int, int]] = []

    def weights() -> tuple[int, int] | None:
        try:
            proxy = client.get(HTTPProxy, "web").to_dict()
        except ApiError:
            return None
        services = proxy["spec"]["routes"][0]["services"]
        found = (int(services[0].get("weight", 0)), int(services[1].get("weight", 0)))
        if not seen or seen[-1] != found:
            seen.append(found)
        return found

    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        assert weights() == (100, 0)
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: (weights(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
    assert seen == [(100, 0), (50, 50), (0, 100), (100, 0)]


def test_skipper_release_weights_the_canary_ingress(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """provider skipper: web-canary Ingress with both backends; its backend weights go 100/0, 50/50, 0/100 and
    back while the user's Ingress is left untouched."""
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    client.create(
        codecs.from_dict(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "rules": [
                        {
                            "host": "web.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            }
        )
    )
    client.create(codecs.from_dict(op.deployment(ns, IMAGE_1)))
    client.create(
        op.canary(
            ns,
            provider="skipper",
            revertOnDeletion=True,
            ingressRef={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"},
            analysis={"interval": "10s", "threshold": 2, "stepWeight": 50, "maxWeight": 100},
        )
    )
    seen: list[tuple[int, int]] = []

    def weights() -> tuple[int, int] | None:
        try:
            annotations = meta(client.get(Ingress, "web-canary")).annotations or {}
        except ApiError:
            return None
        parsed = json.loads(annotations["zalando.org/backend-weights"])
        found = (parsed["web-primary"], parsed["web-canary"])
        if not seen or seen[-1] != found:
            seen.append(found)
        return found

    with op.running(cluster, ns, log, "--drain-period=2s"):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        assert _backends(client.get(Ingress, "web-canary")) == ["web-primary", "web-canary"]
        _set_image(client, Deployment, "web", IMAGE_2)
        wait_for(lambda: (weights(), op.phase(client))[1] == "Succeeded", f"phase Succeeded (log: {log})", timeout=180)
        # revertOnDeletion: deleting the Canary removes the canary Ingress and leaves the user's
        client.delete(Canary, "web")

        def gone() -> bool:
            try:
                client.get(Ingress, "web-canary")
            except ApiError:
                return True
            return False

        wait_for(gone, f"the canary Ingress deleted on revert (log: {log})", timeout=60)
    assert seen == [(100, 0), (50, 50), (0, 100), (100, 0)]
    assert _backends(client.get(Ingress, "web"))[0] == "web"
