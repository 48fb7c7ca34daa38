"""Watches that feed the scheduler: Canaries start and stop jobs; their targets and configs wake them at once.

Flagger notices a new revision only at the Canary's next tick, up to an interval late. Serinus also watches the
workloads Canaries target and the ConfigMaps and Secrets they track, and wakes the Canary the moment one
changes. kopf does the list+watch of Canaries and workloads (relists, bookmarks, reconnects); only event handlers
and no persistence are used, so kopf leaves no annotation, finalizer or status mark on anybody's objects.

ConfigMaps and Secrets are not listed at all: an informer would hold every Secret of the cluster (Helm release
Secrets included) to find the few a target uses. `ConfigWatches` runs metadata-only watches from "now"
(`serinus.kube.metawatch`): an event names an object, the index says which Canaries track it, and those wake; the
analysis then GETs the configs its target references, as it does at every tick.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import logging
import socket
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf
from kopf._core.engines.peering import Identity  # kopf exports no public name for it
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import User
from pydantic import ValidationError

from serinus.api import Canary
from serinus.kube.metawatch import MetadataWatch, collection_path
from serinus.runtime.scheduler import Key, Scheduler, Wait
from serinus.targets.readiness import daemonset_readiness, deployment_readiness, statefulset_readiness

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 60.0
WORKLOADS = (
    ("apps", "v1", "deployments", "Deployment"),
    ("apps", "v1", "daemonsets", "DaemonSet"),
    ("apps", "v1", "statefulsets", "StatefulSet"),
)


@dataclass
class CanaryIndex:
    """What the watches know of each Canary: its interval, its target, and the configs it tracks."""

    intervals: dict[Key, float] = field(default_factory=dict)
    targets: dict[Key, tuple[str, str]] = field(default_factory=dict)  # canary -> (kind, name)
    configs: dict[Key, set[str]] = field(default_factory=dict)  # canary -> {"configmap/x", "secret/y"}
    #: the reverse of `configs`: every ConfigMap and Secret change of the cluster is looked up here
    trackers: dict[tuple[str, str], set[Key]] = field(default_factory=lambda: defaultdict(set))
    by_target: dict[tuple[str, str, str], set[Key]] = field(default_factory=lambda: defaultdict(set))
    #: kinds whose watch stream has delivered at least one object (its initial listing has begun), and
    #: "configmap" / "secret" once their metadata watch is established (they have no listing)
    streaming: set[str] = field(default_factory=set)
    #: last seen metadata.generation of each workload: status-only updates must not wake anybody
    generations: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: workloads Canaries wait to see ready: (namespace, kind, name) -> {canary: ready threshold %}
    awaiting: dict[tuple[str, str, str], dict[Key, int]] = field(default_factory=lambda: defaultdict(dict))

    def expect(self, key: Key, wait: Wait | None) -> None:
        """Record what a Canary's last tick waits for (replacing what it waited for before)."""
        for waiters in self.awaiting.values():
            waiters.pop(key, None)
        if wait is not None and wait.workload is not None:
            self.awaiting[(key[0], *wait.workload)][key] = wait.threshold

    def now_ready(self, kind: str, body: Mapping[str, Any]) -> set[Key]:
        """Canaries waiting for this workload that its new state satisfies (they stop waiting)."""
        meta = body.get("metadata") or {}
        waiters = self.awaiting.get((str(meta.get("namespace")), kind, str(meta.get("name"))))
        if not waiters:
            return set()
        done = {key for key, threshold in waiters.items() if workload_ready(kind, body, threshold)}
        for key in done:
            waiters.pop(key, None)
        return done

    def is_awaiting(self, key: Key, namespace: str, kind: str, name: str) -> bool:
        """Whether the Canary waits for this workload to be ready."""
        return key in self.awaiting.get((namespace, kind, name), {})

    def spec_changed(self, kind: str, meta: Mapping[str, Any]) -> bool:
        """Whether a workload event carries a new spec (a higher generation than seen before)."""
        ident = (str(meta.get("namespace")), kind, str(meta.get("name")))
        generation = int(meta.get("generation") or 0)
        previous = self.generations.get(ident)
        self.generations[ident] = generation
        return previous is not None and generation > previous

    def interval(self, key: Key) -> float | None:
        """The Canary's analysis interval in seconds, or None once it is gone."""
        return self.intervals.get(key)

    def update(self, key: Key, body: Mapping[str, Any]) -> None:
        """Record a Canary as the apiserver sent it (an invalid spec still gets a job, with the default interval,
        so that its tick can report what is wrong)."""
        self.remove(key)
        spec = body.get("spec") or {}
        target = spec.get("targetRef") or {}
        try:
            canary = Canary.model_validate(dict(body))
            self.intervals[key] = canary.analysis_interval_seconds()
        except (ValidationError, ValueError):
            self.intervals[key] = DEFAULT_INTERVAL_S
        self.targets[key] = (str(target.get("kind", "Deployment")), str(target.get("name", "")))
        self.by_target[(key[0], *self.targets[key])].add(key)
        tracked = (body.get("status") or {}).get("trackedConfigs") or {}
        self.configs[key] = set(tracked)
        for config_key in self.configs[key]:
            self.trackers[(key[0], config_key)].add(key)

    def remove(self, key: Key) -> None:
        """Forget a Canary."""
        self.intervals.pop(key, None)
        old = self.targets.pop(key, None)
        if old is not None:
            self.by_target[(key[0], *old)].discard(key)
        for config_key in self.configs.pop(key, set()):
            trackers = self.trackers.get((key[0], config_key))
            if trackers is not None:
                trackers.discard(key)
                if not trackers:
                    del self.trackers[(key[0], config_key)]

    def targeting(self, namespace: str, kind: str, name: str) -> set[Key]:
        """Canaries whose target is this workload."""
        return set(self.by_target.get((namespace, kind, name), set()))

    def tracking(self, namespace: str, config_key: str) -> set[Key]:
        """Canaries in `namespace` that track this config (`configmap/<name>` or `secret/<name>`)."""
        return set(self.trackers.get((namespace, config_key), ()))


_FAR = 10**9  # readiness "now" ignores the progress deadline: only ready or not matters here


def workload_ready(kind: str, body: Mapping[str, Any], threshold: int) -> bool:
    """Whether a workload, as a watch event shows it, is rolled out (Flagger's readiness rules)."""
    now = dt.datetime.now(dt.UTC)
    if kind == "Deployment":
        return deployment_readiness(body, _FAR, threshold, now).ready
    if kind == "DaemonSet":
        return daemonset_readiness(body, _FAR, threshold, now, None).ready
    if kind == "StatefulSet":
        return statefulset_readiness(body, _FAR, threshold, now, None).ready
    return False


def connection_info(config: SingleConfig) -> kopf.ConnectionInfo:
    """kopf's credentials from the same lightkube config the rest of Serinus uses (one --kubeconfig for all)."""
    cluster, user = config.cluster, config.user or User()

    def path(value: str | None) -> str | None:
        return str(config.abs_file(value)) if value else None

    token = user.token
    if not token and user.token_file:
        token = Path(str(config.abs_file(user.token_file))).read_text().strip()
    return kopf.ConnectionInfo(
        server=cluster.server,
        ca_path=path(cluster.certificate_auth),
        ca_data=base64.b64decode(cluster.certificate_auth_data) if cluster.certificate_auth_data else None,
        insecure=cluster.insecure,
        username=user.username,
        password=user.password,
        token=token,
        certificate_path=path(user.client_cert),
        certificate_data=base64.b64decode(user.client_cert_data) if user.client_cert_data else None,
        private_key_path=path(user.client_key),
        private_key_data=base64.b64decode(user.client_key_data) if user.client_key_data else None,
        default_namespace=config.namespace,
    )


CONFIG_KINDS = (("configmaps", "configmap"), ("secrets", "secret"))
BUG_BACKOFF_S = 10.0


@dataclass
class ConfigWatches:
    """Metadata-only watches of ConfigMaps and Secrets: a change to one that a Canary tracks wakes that Canary."""

    scheduler: Scheduler
    index: CanaryIndex
    config: SingleConfig

    async def run(self, namespace: str | None) -> None:
        """Watch both kinds, in `namespace` or cluster-wide, until cancelled."""
        await asyncio.gather(*(self._watch(plural, prefix, namespace) for plural, prefix in CONFIG_KINDS))

    async def _watch(self, plural: str, prefix: str, namespace: str | None) -> None:
        while True:  # the watch retries API errors itself; this outer loop only outlives a bug
            watch = MetadataWatch.connect(self.config, collection_path(plural, namespace))
            try:
                async with contextlib.aclosing(
                    watch.changes(on_stream=lambda: self.index.streaming.add(prefix))
                ) as changes:
                    async for change in changes:
                        # ADDED counts too: there is no initial listing, so it is a config created now (e.g. a
                        # mandatory one the target was waiting for, or one deleted and created again).
                        for key in self.index.tracking(change.namespace, f"{prefix}/{change.name}"):
                            self.scheduler.wake(key)
            except Exception:  # config changes must keep waking Canaries; the ticks go on regardless
                log.exception("the %s watch failed; restarting it", plural)
                await asyncio.sleep(BUG_BACKOFF_S)
            finally:
                await watch.aclose()


class WatchRegistry(kopf.OperatorRegistry):
    """kopf's handlers, and the config watches Serinus runs beside kopf (None when config tracking is off)."""

    def __init__(self, configs: ConfigWatches | None = None) -> None:
        super().__init__()
        self.configs = configs


def build_registry(
    scheduler: Scheduler, index: CanaryIndex, config: SingleConfig, *, track_configs: bool = True
) -> WatchRegistry:
    """kopf handlers: Canary events start, update and stop jobs; workload events (and, with `track_configs`, the
    config watches) wake Canaries."""
    registry = WatchRegistry(ConfigWatches(scheduler, index, config) if track_configs else None)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(config)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # our own Events carry Flagger's reason and component
        # No cluster-wide scans of CustomResourceDefinitions and Namespaces: the resources are fixed and the
        # namespace is given, and the ClusterRole need not allow either.
        settings.scanning.disabled = True
        settings.watching.server_timeout = 300
        settings.networking.error_backoffs = [1, 2, 5, 10]

    @kopf.on.event("flagger.app", "v1beta1", "canaries", registry=registry)
    async def on_canary(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
        meta = body.get("metadata") or {}
        key: Key = (str(meta.get("namespace")), str(meta.get("name")))
        if event.get("type") == "DELETED":
            index.remove(key)
            await scheduler.forget(key)
            return
        before = index.interval(key)
        index.update(key, body)
        scheduler.ensure(key)
        if before is not None and before != index.interval(key):
            scheduler.wake(key)  # pick up the new interval now
        elif meta.get("deletionTimestamp") and meta.get("finalizers"):
            scheduler.wake(key)  # revertOnDeletion: finalize now, not at the next interval

    for group, version, plural, kind in WORKLOADS:

        def make(kind: str) -> Any:
            async def on_workload(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
                index.streaming.add(kind)
                meta = body.get("metadata") or {}
                if event.get("type") == "DELETED":
                    index.generations.pop((str(meta.get("namespace")), kind, str(meta.get("name"))), None)
                    return
                for key in index.now_ready(kind, body):
                    scheduler.wake(key)  # the rollout it waited for is done
                if not index.spec_changed(kind, meta):
                    return  # the initial listing, a new object, or a status-only update
                namespace, name = str(meta.get("namespace")), str(meta.get("name"))
                for key in index.targeting(namespace, kind, name):
                    if not index.is_awaiting(key, namespace, kind, name):  # e.g. our own scale-up
                        scheduler.wake(key)

            return on_workload

        kopf.on.event(group, version, plural, registry=registry)(make(kind))

    return registry


async def run_watches(
    registry: kopf.OperatorRegistry, *, namespace: str | None, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Run kopf's watches (and the config watches of a WatchRegistry) until `stop` is set (standalone: leader
    election is ours, not kopf's peering)."""
    configs = registry.configs if isinstance(registry, WatchRegistry) else None
    side = asyncio.ensure_future(configs.run(namespace)) if configs is not None else None
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            # kopf's default identity asks the password database for the user's name, which fails (KeyError) when
            # the process runs as a UID with no entry there: any `runAsUser` of a container image.
            identity=Identity(socket.gethostname()),
            clusterwide=namespace is None,
            namespaces=[namespace] if namespace else [],
            stop_flag=stop,
            ready_flag=ready,
        )
    finally:
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side
