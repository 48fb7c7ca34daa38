"""`serinus render`: every object the operator would create or change to initialize a Canary, without a cluster.

The operator's own analysis runs against an in-memory API server holding the Canary, its target and whatever
else the target file brings (ConfigMaps, Secrets, the HPA, the user's Ingress or routes). Workloads report ready
as soon as they are written. When the Canary reaches Initialized, render prints, as multi-document YAML, each
object that was created or changed, in the order the operator wrote them, without the fields the API server
fills in. Review it like `helm template` output.

Nothing leaves the process: no metric is queried, and webhooks, event webhooks and alerts are neither called nor
sent (webhooks count as accepted; see `_RenderAnalysis`).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import click
import yaml

from serinus.api import Canary, CanaryMetric, CanaryWebhook
from serinus.api.check import check_object, is_kubernetes_object
from serinus.api.problems import show
from serinus.api.rules import RuleContext
from serinus.cli.inputs import InputError, display_name, read_objects
from serinus.engine.judge.types import Observation
from serinus.engine.ports import FLAGGER_REASON, EventType, HookResult, Measurement, MetricFailure, Notice, World
from serinus.kube.events import EventRecorder, InvolvedObject
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


class _EventsOnly:
    """The Recorder port of render: the Kubernetes Event in the in-memory cluster (render reads the Warnings to
    say why a Canary did not initialize), and no event webhook: the operator's recorder POSTs every event to the
    Canary's `event` webhooks or the global --event-webhook."""

    def __init__(self, events: EventRecorder) -> None:
        self.events = events

    async def event(self, canary: Canary, event_type: EventType, message: str, reason: str = FLAGGER_REASON) -> None:
        """Record the event in the in-memory cluster only."""
        meta = canary.metadata
        await self.events.record(
            InvolvedObject(canary.api_version, "Canary", meta.namespace or "default", meta.name or "", meta.uid),
            str(event_type),
            message,
            reason,
        )


class _UnsentAlerts:
    """The Notifier port of render: alerts go to no AlertProvider (render prints objects, not alerts)."""

    async def alert(self, canary: Canary, notice: Notice) -> None:
        """Drop the alert."""


class _AcceptingHooks:
    """The Hooks port of render: every webhook is taken as accepted without being called."""

    async def call(self, hook: CanaryWebhook, payload: Mapping[str, Any]) -> HookResult:
        """Accept without calling."""
        return HookResult(True)


class _RenderAnalysis(ClusterAnalysis):
    """The operator's analysis on the in-memory cluster with no adapter that talks to another server: no metric
    queries, webhooks, event webhooks or alerts. Nothing leaves the process."""

    def __init__(self, client: MemoryCluster, options: OperatorOptions, metrics: ControllerMetrics) -> None:
        super().__init__(client, options, metrics)  # type: ignore[arg-type]
        self.services = dataclasses.replace(
            self.services, recorder=_EventsOnly(self.events), notifier=_UnsentAlerts(), hooks=_AcceptingHooks()
        )
        self.engine.services = self.services

    async def world(self, canary: Canary, provider: str) -> World:
        return dataclasses.replace(await super().world(canary, provider), metrics=_NoMetrics())


def _is_object(doc: Mapping[str, Any]) -> bool:
    """A Kubernetes object the in-memory API server can hold: apiVersion, kind and a metadata.name."""
    meta = doc.get("metadata")
    return (
        is_kubernetes_object(doc)
        and isinstance(meta, Mapping)
        and isinstance(meta.get("name"), str)
        and bool(meta["name"])
        and isinstance(meta.get("namespace"), str | None)
    )


def _shape_problem(doc: Mapping[str, Any]) -> str | None:
    """What the API server would refuse in the shape of any object, and the in-memory one cannot hold: a spec,
    status, labels or annotations that are not mappings, owner references that are not a list of mappings."""
    meta = doc["metadata"]
    fields: list[tuple[str, Any, type]] = [
        ("spec", doc.get("spec"), dict),
        ("status", doc.get("status"), dict),
        ("metadata.labels", meta.get("labels"), dict),
        ("metadata.annotations", meta.get("annotations"), dict),
        ("metadata.ownerReferences", meta.get("ownerReferences"), list),
    ]
    for where, value, kind in fields:
        if value is not None and not isinstance(value, kind):
            return f"{where}: must be a {'list' if kind is list else 'mapping of keys to values'}, got {show(value)}"
    refs = meta.get("ownerReferences") or []
    for index, ref in enumerate(refs):
        if not isinstance(ref, dict):
            return f"metadata.ownerReferences[{index}]: must be a mapping of keys to values, got {show(ref)}"
    return None


def _canary_problem(canary: Mapping[str, Any], options: OperatorOptions) -> str | None:
    """The first error the operator's own check finds in the Canary (it would not initialize it), or None."""
    meta = canary.get("metadata")
    rules = RuleContext(
        mesh_provider=options.mesh_provider,
        no_cross_namespace_refs=options.no_cross_namespace_refs,
        selector_labels=tuple(options.selector_labels),
    )
    report = check_object(canary, rules)
    if not report.errors:
        return None
    name = report.name or (meta.get("name") if isinstance(meta, Mapping) else None) or "<no name>"
    return f"canary {name}: {report.errors[0].where}: {report.errors[0].message}"


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
    analysis = _RenderAnalysis(cluster, options, ControllerMetrics())
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
        canaries = [d for d in read_objects(canary_file) if d.get("kind") == "Canary"]
        if len(canaries) != 1:
            raise click.ClickException(f"{display_name(canary_file)}: expected one Canary, found {len(canaries)}")
        others = [d for d in read_objects(target_file) if _is_object(d)]
    except InputError as err:
        raise click.ClickException(str(err)) from None
    if not others:
        raise click.ClickException(f"{display_name(target_file)}: no Kubernetes object in this file")
    for doc in others:
        shape = _shape_problem(doc)
        if shape is not None:
            label = f"{str(doc['kind']).lower()}/{doc['metadata']['name']}"
            raise click.ClickException(f"{display_name(target_file)}: {label}: {shape}")
    options = OperatorOptions()
    if provider:
        options = dataclasses.replace(options, mesh_provider=provider)
    if include_label_prefix:
        options = dataclasses.replace(
            options, include_label_prefix=tuple(p.strip() for p in include_label_prefix.split(",") if p.strip())
        )
    problem = _canary_problem(canaries[0], options) or (
        _shape_problem(canaries[0]) if isinstance(canaries[0].get("metadata"), dict) else None
    )
    if problem is not None:
        raise click.ClickException(f"{display_name(canary_file)}: {problem}")
    logging.disable(logging.CRITICAL)  # the operator's logs are not the output; failures are raised instead
    try:
        objects = asyncio.run(render_objects(canaries[0], others, options))
    except click.ClickException as err:
        # name both files: what stopped initialization may be in either
        raise click.ClickException(
            f"{display_name(canary_file)}: {err.message} (with the objects of {display_name(target_file)})"
        ) from None
    finally:
        logging.disable(logging.NOTSET)
    click.echo(yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False), nl=False)
