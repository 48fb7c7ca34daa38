"""`serinus run` judging a release on a provider other than Prometheus: a Keptn metric read live from the cluster
and a Keptn Analysis run every step. The canary halts while the KeptnMetric says 5 errors/s, and goes on to
promotion once Keptn reports 0.2 (the Analyses pass throughout; a thread plays Keptn's metrics-operator)."""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

import pytest
from lightkube import ApiError, Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from serinus.kube.resources import MetricTemplate
from serinus.metrics import keptn
from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import pod_spec

pytestmark = pytest.mark.cluster


def test_a_keptn_metric_gates_the_release(cluster: Cluster, keptn_crds: None, tmp_path: Path) -> None:
    """Halts on the KeptnMetric's bad value with Flagger's text, then promotes when the value recovers."""
    cluster.install_serinus_crds()
    ns = f"keptn-{uuid.uuid4().hex[:6]}"
    admin = cluster.client()
    admin.create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    metric = keptn.keptn_metric()
    client.create(
        metric(
            {
                "apiVersion": "metrics.keptn.sh/v1beta1",
                "kind": "KeptnMetric",
                "metadata": {"name": "web-errors", "namespace": ns},
                "spec": {
                    "provider": {"name": "datadog"},
                    "query": "sum:errors{service:web}",
                    "fetchIntervalSeconds": 5,
                },
            }
        )
    )
    client.patch(metric.Status, "web-errors", {"status": {"value": "5"}}, patch_type=PatchType.MERGE)
    client.create(
        MetricTemplate.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": "keptn", "namespace": ns},
                "spec": {"provider": {"type": "keptn"}, "query": "keptnmetric/{{ namespace }}/{{ target }}-errors"},
            }
        )
    )
    client.create(
        MetricTemplate.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": "slo", "namespace": ns},
                "spec": {
                    "provider": {"type": "keptn"},
                    "query": "analysis/{{ namespace }}/web-slo/1m/service={{ target }}",
                },
            }
        )
    )
    stop = threading.Event()
    judged: list[str] = []
    judge = threading.Thread(target=_keptn_operator, args=(cluster.client(namespace=ns), stop, judged), daemon=True)
    judge.start()
    client.create(codecs.from_dict(op.deployment(ns, "ghcr.io/example/web:1.0")))
    client.create(
        op.canary(
            ns,
            analysis={
                "interval": "10s",
                "threshold": 10,
                "iterations": 2,
                "metrics": [
                    {"name": "keptn-errors", "templateRef": {"name": "keptn"}, "thresholdRange": {"max": 1}},
                    {"name": "keptn-slo", "templateRef": {"name": "slo"}, "thresholdRange": {"min": 1}},
                ],
            },
        )
    )
    log = tmp_path / "operator.log"
    with op.running(cluster, ns, log):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        client.patch(
            Deployment,
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "ghcr.io/example/web:2.0"}]}}}},
        )
        halt = re.compile(rf"Halt web\.{ns} advancement keptn-errors 5\.00 > 1$")
        wait_for(
            lambda: any(halt.match(m) for m in op.events(client)),
            f"the halt on the Keptn value (log: {log})",
            timeout=120,
        )
        assert op.phase(client) == "Progressing"
        client.patch(metric.Status, "web-errors", {"status": {"value": "0.2"}}, patch_type=PatchType.MERGE)
        wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (log: {log})", timeout=120)
    stop.set()
    judge.join(5)
    assert pod_spec(client.get(Deployment, "web-primary")).containers[0].image == "ghcr.io/example/web:2.0"
    assert judged  # the Analyses were created by the operator, judged, and (below) deleted by it
    assert list(client.list(keptn.analysis())) == []


def _keptn_operator(client: Client, stop: threading.Event, judged: list[str]) -> None:
    """Keptn's metrics-operator, reduced to marking each new Analysis Completed and passed."""
    kind = keptn.analysis()
    while not stop.wait(0.2):
        try:
            for item in client.list(kind):
                if not (item.get("status") or {}).get("state"):
                    client.patch(
                        kind.Status,
                        item.metadata.name,
                        {"status": {"state": "Completed", "pass": True}},
                        patch_type=PatchType.MERGE,
                    )
                    judged.append(item.metadata.name)
        except ApiError:
            continue
