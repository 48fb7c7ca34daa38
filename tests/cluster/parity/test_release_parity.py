"""Parity tier: the same release under Flagger and under Serinus, side by side on the test cluster, produces the
same sequence of events, the same final status and the same primary."""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path
from typing import Any

from lightkube import codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace

from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import pod_spec, present

#: events whose number depends on how fast pods become ready, not on the release logic
TIMING = re.compile(r"not ready: |^all the metrics providers are available!$")


def _release(cluster: Cluster, system: str, tmp: Path, out: dict[str, Any]) -> None:
    ns = f"par-{system}-{uuid.uuid4().hex[:5]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    log = tmp / f"{system}.log"
    proc = op.start(cluster, ns, log) if system == "serinus" else op.start_flagger(cluster, ns, log)
    try:
        client.create(codecs.from_dict(op.deployment(ns, "web:1")))
        client.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "iterations": 2}))
        wait_for(lambda: op.phase(client) == "Initialized", f"{system} to initialize (log: {log})", timeout=120)
        client.patch(
            Deployment, "web", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}}
        )
        wait_for(lambda: op.phase(client) == "Succeeded", f"{system} to promote (log: {log})", timeout=240)
        wait_for(
            lambda: any(m.startswith("Promotion completed!") for m in op.events(client)),
            f"{system}'s last event",
            timeout=30,
        )
        messages = [m.replace(ns, "NS") for m in op.events(client) if not TIMING.search(m)]
        out["events"] = [m for i, m in enumerate(messages) if i == 0 or m != messages[i - 1]]
        status = op.status(client)
        out["status"] = {k: status.get(k) for k in ("phase", "canaryWeight", "failedChecks", "iterations")}
        out["condition"] = {k: status["conditions"][0][k] for k in ("type", "status", "reason", "message")}
        primary = client.get(Deployment, "web-primary")
        out["primary"] = (
            pod_spec(primary).containers[0].image,
            present(primary.spec).selector.matchLabels,
            sorted(present(present(primary.spec).template.metadata).annotations or {}),
        )
        out["target_replicas"] = client.get(Deployment, "web").spec.replicas
    finally:
        op.stop(proc)


def test_flagger_and_serinus_release_alike(cluster: Cluster, tmp_path: Path) -> None:
    """A blue/green release with the kubernetes provider: identical events in identical order, identical status
    and Promoted condition, and the same promoted primary, from Flagger and from Serinus."""
    cluster.install_flagger_crds()
    found: dict[str, dict[str, Any]] = {"flagger": {}, "serinus": {}}
    op.warm_up_decoders()
    threads = [threading.Thread(target=_release, args=(cluster, s, tmp_path, found[s])) for s in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flagger, serinus = found["flagger"], found["serinus"]
    assert flagger, f"Flagger's release did not finish (log: {tmp_path / 'flagger.log'})"
    assert serinus, f"Serinus's release did not finish (log: {tmp_path / 'serinus.log'})"
    assert serinus["events"] == flagger["events"]
    assert serinus["status"] == flagger["status"]
    assert serinus["condition"] == flagger["condition"]
    assert serinus["primary"] == flagger["primary"]
    assert serinus["target_replicas"] == flagger["target_replicas"] == 0
