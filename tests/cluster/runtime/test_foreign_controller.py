"""Migration safety on the real control plane: `serinus run` leaves alone a Canary that Flagger itself (the pinned
release, built by scripts/build-test-binaries) is driving, says so in a Warning event, and takes over once Flagger
is stopped."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace

from serinus.kube.resources import Canary
from serinus.runtime.foreign import REASON
from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import meta


def _managers(client: Client) -> dict[str, Any]:
    """The Canary's managedFields entries that write its status, by manager."""
    entries = meta(client.get(Canary, "web")).managedFields or []
    return {str(e.manager): e for e in entries if e.subresource == "status"}


def _warnings(client: Client) -> list[str]:
    """Messages of the Canary's Warning events with the foreign-controller reason."""
    listed = client.list(Event, fields={"involvedObject.name": "web", "involvedObject.kind": "Canary"})
    return [e.message or "" for e in listed if e.reason == REASON and e.type == "Warning"]


def test_a_canary_flagger_drives_is_left_alone_until_flagger_stops(cluster: Cluster, tmp_path: Path) -> None:
    """Flagger initializes a Canary (its status entry's manager is `flagger`); `serinus run` started beside it
    records a Warning naming `flagger` and writes nothing to the Canary; once Flagger is stopped and its last
    write is older than --foreign-status-window, Serinus drives the next release."""
    cluster.install_serinus_crds()
    ns = f"foreign-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    flagger_log, serinus_log = tmp_path / "flagger.log", tmp_path / "serinus.log"
    flagger = op.start_flagger(cluster, ns, flagger_log)
    try:
        client.create(codecs.from_dict(op.deployment(ns, "web:1")))
        client.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "iterations": 2}))
        wait_for(lambda: op.phase(client) == "Initialized", f"Flagger to initialize (log: {flagger_log})", timeout=120)
        assert "flagger" in _managers(client), "Flagger's status writes carry its field manager"

        with op.running(cluster, ns, serinus_log):
            wait_for(
                lambda: any('field manager "flagger"' in m for m in _warnings(client)),
                f"Serinus's Warning (log: {serinus_log})",
                timeout=60,
            )
            resource_version = meta(client.get(Canary, "web")).resourceVersion
            # a few more ticks: still nothing written by Serinus, no finalizer, no status entry
            wait_for(lambda: serinus_log.read_text().count("driven by another controller") >= 2, "two ticks", 40)
            canary = meta(client.get(Canary, "web"))
            assert "serinus" not in _managers(client)
            assert canary.resourceVersion == resource_version
            assert not canary.finalizers
    finally:
        op.stop(flagger)

    # switch-over: Flagger is gone; with a short window its last write no longer holds Serinus back
    with op.running(cluster, ns, serinus_log, "--foreign-status-window=1s"):
        client.patch(
            Deployment, "web", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}}
        )
        wait_for(
            lambda: op.phase(client) in ("Progressing", "Succeeded"), f"Serinus to drive (log: {serinus_log})", 120
        )
        wait_for(lambda: "serinus" in _managers(client), "Serinus's own status write", timeout=30)
        assert f"New revision detected! Scaling up web.{ns}" in op.events(client)
