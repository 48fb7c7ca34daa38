"""`serinus render` prints what `serinus run` writes: the same Canary and Deployment are initialized by the operator
on the real control plane and rendered in memory, and every rendered object is found on the cluster with the
same fields (the API server only adds defaults)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from lightkube import codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, Service

from serinus.cli.render import render_objects
from serinus.runtime.options import OperatorOptions
from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for

pytestmark = pytest.mark.cluster
KINDS: dict[str, type[Deployment | Service]] = {"Deployment": Deployment, "Service": Service}


def _missing(rendered: Any, live: Any, path: str = "") -> list[str]:
    """Where the rendered value is not in the live object (live may add keys: the API server's defaults)."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [f"{path}: {live!r} is not a mapping"]
        return [m for k, v in rendered.items() if k != "flagger-id" for m in _missing(v, live.get(k), f"{path}.{k}")]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [f"{path}: {live!r} != {rendered!r}"]
        return [
            m
            for i, (mine, theirs) in enumerate(zip(rendered, live, strict=True))
            for m in _missing(mine, theirs, f"{path}[{i}]")
        ]
    return [] if rendered == live else [f"{path}: live {live!r}, rendered {rendered!r}"]


def test_render_equals_what_the_operator_wrote(cluster: Cluster, tmp_path: Path) -> None:
    """Primary Deployment, the three Services and the target scaled to zero: rendered == written."""
    cluster.install_serinus_crds()
    ns = f"render-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    deployment = op.deployment(ns, "ghcr.io/example/web:1.0")
    canary = op.canary(ns).to_dict()
    client.create(codecs.from_dict(deployment))
    client.create(op.canary(ns))
    log = tmp_path / "operator.log"
    with op.running(cluster, ns, log):
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    rendered = asyncio.run(render_objects(canary, [deployment], OperatorOptions(mesh_provider="kubernetes")))
    assert [(o["kind"], o["metadata"]["name"]) for o in rendered] == [
        ("Deployment", "web"),
        ("Service", "web-canary"),
        ("Service", "web-primary"),
        ("Deployment", "web-primary"),
        ("Service", "web"),
    ]
    for obj in rendered:
        live = client.get(KINDS[obj["kind"]], obj["metadata"]["name"]).to_dict()
        for ref in live["metadata"].get("ownerReferences") or []:
            ref.pop("uid", None)
        assert _missing(obj, live) == [], obj["metadata"]["name"]
