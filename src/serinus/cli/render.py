"""`serinus render`: every object the operator would create or change to initialize a Canary, without a cluster.

The operator's own analysis runs against an in-memory API server holding the Canary, its target and whatever
else the target file brings (ConfigMaps, Secrets, the HPA, the user's Ingress or routes). Workloads report ready
as soon as they are written. When the Canary reaches Initialized, render prints, as multi-document YAML, each
object that was created or changed, in the order the operator wrote them, without the fields the API server
fills in. Review it like `helm template` output.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from serinus.api import Canary, CanaryMetric
from serinus.api.manifests import load_documents
from serinus.engine.judge.types import Observation
from serinus.engine.ports import Measurement, MetricFailure, World
from serinus.kube.memory import MemoryCluster
from serinus.runtime.analysis import ClusterAnalysis
from serinus.runtime.metrics import ControllerMetrics
from serinus.runtime.options import OperatorOptions

#: what render leaves out: the Canary itself (its status is the operator's bookkeeping) and Events
HIDDEN_KINDS = {"Canary", "Event"}
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
MAX_STEPS = 10


class _NoMetrics:
    """Initialization queries no metric; render must not reach for the Canary's Prometheus either."""

    async def providers_online(self) -> str | None:
        return None

    async def measure(self, metric: CanaryMetric) -> Measurement:
        return Measurement(failure=MetricFailure.UNUSABLE, error="render runs no metric query")

    async def observe(self, metric: CanaryMetric, window_s: float, baseline: bool) -> Observation:
        return Observation(metric.name, error="render runs no metric query")


class _RenderAnalysis(ClusterAnalysis):
    """The operator's analysis with every adapter but the metrics: nothing leaves the process."""

    async def world(self, canary: Canary, provider: str) -> World:
        return dataclasses.replace(await super().world(canary, provider), metrics=_NoMetrics())


def _documents(path: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    return [doc.data for doc in load_documents(text) if isinstance(doc.data, dict)]


def _shown(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a person reviews it: no status, no server-filled metadata, no owner uid."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    for ref in meta.get("ownerReferences") or []:
        ref.pop("uid", None)
    for key in ("labels", "annotations"):
        if key in meta and not meta[key]:
            del meta[key]  # the API server does not keep empty maps
    first = ("apiVersion", "kind", "metadata", "spec")
    return {**{k: out[k] for k in first if k in out}, **{k: v for k, v in out.items() if k not in first}}


async def render_objects(
    canary: dict[str, Any], others: list[dict[str, Any]], options: OperatorOptions
) -> list[dict[str, Any]]:
    """The objects initialization creates or changes, in write order; raises click errors naming what stopped
    it."""
    meta = canary.get("metadata") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "default")
    canary = {**canary, "metadata": {**meta, "namespace": namespace}}
    cluster = MemoryCluster(namespace=namespace)
    cluster.load([*others, canary])
    before = {key: _shown(obj) for key, obj in cluster.objects.items()}
    analysis = _RenderAnalysis(cluster, options, ControllerMetrics())  # type: ignore[arg-type]
    key = ("flagger.app/v1beta1", "Canary", namespace, name)
    try:
        for _ in range(MAX_STEPS):
            await analysis((namespace, name))
            if (cluster.objects[key].get("status") or {}).get("phase") == "Initialized":
                break
        else:
            warnings = [
                str(obj.get("message"))
                for obj in cluster.objects.values()
                if obj.get("kind") == "Event" and obj.get("type") == "Warning"
            ]
            phase = (cluster.objects[key].get("status") or {}).get("phase") or "unset"
            reason = "; ".join(dict.fromkeys(warnings)) or f"phase is {phase}"
            raise click.ClickException(f"{name}.{namespace} did not initialize: {reason}")
    finally:
        await analysis.providers.close()
    out = []
    for k in cluster.order:
        obj = cluster.objects[k]
        if obj.get("kind") in HIDDEN_KINDS or before.get(k) == _shown(obj):
            continue
        out.append(_shown(obj))
    return out


@click.command("render", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("canary_file", metavar="CANARY.yaml")
@click.option(
    "--target",
    "target_file",
    required=True,
    metavar="WORKLOAD.yaml",
    help="The target workload, and any objects it or the Canary reference (ConfigMaps, Secrets, HPA, "
    "the user's Ingress or routes); multi-document YAML.",
)
@click.option(
    "--provider",
    default="",
    metavar="NAME",
    help="The operator's --mesh-provider, used when the Canary has no spec.provider (default: istio).",
)
@click.option(
    "--include-label-prefix",
    default="",
    metavar="PREFIXES",
    help="The operator's --include-label-prefix (comma-separated).",
)
def render(canary_file: str, target_file: str, provider: str, include_label_prefix: str) -> None:
    """Print every object the operator would create or change to initialize CANARY.yaml, as multi-document YAML.

    The operator's own code runs against an in-memory API server, so the output is exactly what `serinus run`
    writes: the primary workload, the Services, the mesh or ingress objects and the autoscalers.
    """
    try:
        canaries = [d for d in _documents(canary_file) if d.get("kind") == "Canary"]
        if len(canaries) != 1:
            raise click.ClickException(f"{canary_file}: expected one Canary, found {len(canaries)}")
        others = [d for d in _documents(target_file) if d.get("kind") and d.get("metadata", {}).get("name")]
    except OSError as err:
        raise click.ClickException(str(err)) from None
    if not others:
        raise click.ClickException(f"{target_file}: no Kubernetes object in this file")
    options = OperatorOptions()
    if provider:
        options = dataclasses.replace(options, mesh_provider=provider)
    if include_label_prefix:
        options = dataclasses.replace(
            options, include_label_prefix=tuple(p.strip() for p in include_label_prefix.split(",") if p.strip())
        )
    logging.disable(logging.CRITICAL)  # the operator's logs are not the output; failures are raised instead
    try:
        objects = asyncio.run(render_objects(canaries[0], others, options))
    finally:
        logging.disable(logging.NOTSET)
    click.echo(yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False), nl=False)
