"""The workload controller: Deployment, DaemonSet and StatefulSet targets on a live cluster.

A thin async shell over the pure rules in primary.py, configs.py, readiness.py and scaling.py: it reads the
target and its configs, writes the `-primary` copies, scales the target, and answers readiness in Flagger's words.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import ConfigMap, Pod, Secret
from lightkube.types import PatchType

from serinus.api import Canary
from serinus.errors import SerinusError
from serinus.targets.configs import ConfigRef, config_ref, primary_copy, scan_config_refs, tracked_configs
from serinus.targets.pods import pods_cause
from serinus.targets.primary import (
    DEFAULT_SELECTOR_LABELS,
    SCALE_TO_ZERO_SELECTOR,
    check_target,
    discovered_ports,
    is_restored,
    new_primary,
    primary_name,
    promoted_primary,
    restored_primary,
    selector_label,
    with_last_good,
)
from serinus.targets.readiness import (
    Readiness,
    daemonset_readiness,
    deployment_readiness,
    statefulset_readiness,
)
from serinus.targets.scaling import daemonset_from_zero, daemonset_to_zero, replicas_from_zero, scale_patch

log = logging.getLogger("serinus.targets")
RESOURCES: dict[str, Any] = {"Deployment": Deployment, "DaemonSet": DaemonSet, "StatefulSet": StatefulSet}


class TargetError(SerinusError):
    """The target or one of its configs cannot be read or written; `retriable` says whether waiting may help."""

    def __init__(self, message: str, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


@dataclass(frozen=True)
class TargetOptions:
    """Operator-wide settings that shape primaries (Flagger's -selector-labels, -include-label-prefix, ...)."""

    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS
    include_label_prefixes: Sequence[str] = ()
    config_tracking: bool = True


class WorkloadController:
    """Everything Serinus does to one Canary's workload."""

    def __init__(self, client: AsyncClient, canary: Canary, options: TargetOptions = TargetOptions()) -> None:
        self.client = client
        self.canary = canary
        self.options = options
        self.kind = str(canary.spec.target_ref.kind)
        if self.kind not in RESOURCES:
            raise TargetError(f"target kind {self.kind} is not a workload Serinus manages", retriable=False)
        self.resource = RESOURCES[self.kind]
        self.namespace = canary.metadata.namespace or "default"
        self.name = canary.spec.target_ref.name
        #: the target as last read, for the spec reads of one step (metadata, hash, configs); every write forgets it
        self._target: dict[str, Any] | None = None

    # ----- reading -----

    async def _get(self, name: str) -> dict[str, Any]:
        try:
            obj = await self.client.get(self.resource, name, namespace=self.namespace)
        except ApiError as err:
            raise TargetError(
                f"{self.kind.lower()} {name}.{self.namespace} get query error: {err.status.message}"
            ) from err
        got: dict[str, Any] = obj.to_dict()
        if name == self.name:
            self._target = got
            return copy.deepcopy(got)
        return got

    async def target(self) -> dict[str, Any]:
        """The target workload as the apiserver has it: read once per controller (one analysis step) until this
        controller writes something; readiness is always read afresh (`_get`). A copy the caller may change."""
        if self._target is None:
            return await self._get(self.name)
        return copy.deepcopy(self._target)

    async def metadata(self) -> tuple[str, str, dict[str, int]]:
        """(selector label, its value, discovered ports when portDiscovery is on) — Flagger's GetMetadata."""
        target = await self.target()
        label, value = selector_label(target, self.options.selector_labels)
        service = self.canary.spec.service
        ports: dict[str, int] = {}
        if service is not None and service.port_discovery:
            containers = target["spec"]["template"]["spec"].get("containers") or []
            target_port = service.target_port if service.target_port not in (None, "") else None
            ports = discovered_ports(containers, service.port, target_port)
        return label, value, ports

    async def template_for_hash(self) -> dict[str, Any]:
        """What change detection hashes: the pod template (a DaemonSet's without the scale-to-zero selector)."""
        template: dict[str, Any] = (await self.target())["spec"]["template"]
        if self.kind == "DaemonSet":
            spec = template.setdefault("spec", {})
            selector = dict(spec.get("nodeSelector") or {})
            selector.pop(SCALE_TO_ZERO_SELECTOR, None)
            spec["nodeSelector"] = selector
        return template

    async def configs(self) -> list[ConfigRef]:
        """The ConfigMaps and Secrets the target uses and Serinus tracks; a missing mandatory one is an error."""
        if not self.options.config_tracking:
            return []
        configmaps, secrets = scan_config_refs((await self.target())["spec"]["template"]["spec"])
        refs: list[ConfigRef] = []
        for resource, names in ((ConfigMap, configmaps), (Secret, secrets)):
            for name, mandatory in sorted(names.items()):
                try:
                    fetched: Any = await self.client.get(resource, name, namespace=self.namespace)
                    obj = fetched.to_dict()
                except ApiError as err:
                    if mandatory:
                        raise TargetError(
                            f"{resource.__name__.lower()} {name}.{self.namespace} get query error: {err.status.message}"
                        ) from err
                    continue
                obj.setdefault("kind", resource.__name__)
                ref = config_ref(obj)
                if ref is not None:
                    refs.append(ref)
        return refs

    async def tracked(self) -> dict[str, str]:
        """status.trackedConfigs as it should be now."""
        return tracked_configs(await self.configs())

    # ----- readiness -----

    async def _readiness(self, obj: dict[str, Any], threshold: int) -> Readiness:
        now = dt.datetime.now(dt.UTC)
        deadline = self.canary.progress_deadline_seconds()
        if self.kind == "Deployment":
            return deployment_readiness(obj, deadline, threshold, now)
        last = self.canary.status.last_transition_time
        since = last if isinstance(last, dt.datetime) else None
        if self.kind == "DaemonSet":
            return daemonset_readiness(obj, deadline, threshold, now, since)
        return statefulset_readiness(obj, deadline, threshold, now, since)

    async def primary_readiness(self) -> Readiness:
        """Is the primary rolled out? Messages wrapped as Flagger's IsPrimaryReady wraps them."""
        name = primary_name(self.name)
        got = await self._readiness(
            await self._get(name), self.canary.analysis_or_default().effective_primary_ready_threshold()
        )
        if got.ready:
            return got
        prefix = (
            f"{name}.{self.namespace}"
            if self.kind == "Deployment"
            else f"primary {self.kind.lower()} {name}.{self.namespace}"
        )
        return Readiness(False, got.retriable, f"{prefix} not ready: {got.message}")

    async def canary_readiness(self) -> Readiness:
        """Is the target (the canary) rolled out? Messages wrapped as Flagger's IsCanaryReady wraps them."""
        target = await self._get(self.name)
        got = await self._readiness(target, self.canary.analysis_or_default().effective_canary_ready_threshold())
        if got.ready:
            return got
        return Readiness(
            False,
            got.retriable,
            f"canary {self.kind.lower()} {self.name}.{self.namespace} not ready: {got.message}",
            await self._pods_cause(target),
        )

    async def _pods_cause(self, workload: dict[str, Any]) -> str:
        """What the kubelet and the scheduler say about the workload's pods (targets/pods.py), "" when nothing."""
        selector = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not selector:
            return ""
        try:
            pods = [p.to_dict() async for p in self.client.list(Pod, namespace=self.namespace, labels=selector)]
        except Exception as err:  # the cause is a courtesy: the readiness answer stands without it
            log.debug("%s.%s: listing the canary's pods failed: %s", self.name, self.namespace, err)
            return ""
        return pods_cause(pods)

    # ----- writing -----

    def _owner(self) -> dict[str, Any]:
        return {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": self.canary.metadata.name,
            "uid": self.canary.metadata.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    async def _sync_configs(self, refs: list[ConfigRef]) -> None:
        for ref in refs:
            resource = ConfigMap if ref.type == "configmap" else Secret
            fetched: Any = await self.client.get(resource, ref.name, namespace=self.namespace)
            source = fetched.to_dict()
            source.setdefault("kind", resource.__name__)
            try:
                found: Any = await self.client.get(resource, f"{ref.name}-primary", namespace=self.namespace)
                existing = found.to_dict()
            except ApiError as err:
                if err.status.code != 404:
                    raise
                existing = None
            copy_ = primary_copy(
                source,
                canary_owner=self._owner(),
                existing=existing,
                include_label_prefixes=self.options.include_label_prefixes,
            )
            if existing is None:
                await self.client.create(codecs.from_dict(copy_))
            else:
                copy_["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                await self.client.replace(codecs.from_dict(copy_))

    async def initialize(self) -> None:
        """Create the primary (and its config copies) if missing — Flagger's Initialize without the readiness
        wait, which the caller asks for with primary_readiness()."""
        target = await self.target()
        check_target(target)
        label, _ = selector_label(target, self.options.selector_labels)
        try:
            await self.client.get(self.resource, primary_name(self.name), namespace=self.namespace)
            return
        except ApiError as err:
            if err.status.code != 404:
                raise
        refs = await self.configs()
        await self._sync_configs(refs)
        primary = new_primary(
            target,
            label=label,
            selector_labels=self.options.selector_labels,
            include_label_prefixes=self.options.include_label_prefixes,
            owner=self._owner(),
            tracked_configs={ref.key for ref in refs},
        )
        self._target = None  # a write may change the target: read it afresh after
        await self.client.create(codecs.from_dict(primary))

    async def promote(self) -> None:
        """Copy the target's template, settings and configs to the primary, which then rolls out."""
        target = await self.target()
        label, _ = selector_label(target, self.options.selector_labels)
        refs = await self.configs()
        await self._sync_configs(refs)
        primary = await self._get(primary_name(self.name))
        updated = promoted_primary(
            primary,
            target,
            label=label,
            selector_labels=self.options.selector_labels,
            include_label_prefixes=self.options.include_label_prefixes,
            has_autoscaler=self.canary.spec.autoscaler_ref is not None,
            tracked_configs={ref.key for ref in refs},
        )
        primary.setdefault("kind", self.kind)
        # the primary passed its readiness check before promotion: what it runs now is the last good spec
        updated = with_last_good(updated, primary)
        self._target = None  # a write may change the target: read it afresh after
        await self.client.replace(codecs.from_dict(updated))

    async def restore_primary(self) -> bool:
        """Give the primary back the spec it ran before the last promotion; False when none was kept. The
        primary's ConfigMap and Secret copies keep the promoted content (their old content is not kept)."""
        primary = await self._get(primary_name(self.name))
        primary.setdefault("kind", self.kind)
        restored = restored_primary(primary, has_autoscaler=self.canary.spec.autoscaler_ref is not None)
        if restored is None:
            return False
        await self.client.replace(codecs.from_dict(restored))
        return True

    async def primary_restored(self) -> bool:
        """Whether the primary runs the spec restore_primary put back since the last promotion."""
        return is_restored(await self._get(primary_name(self.name)))

    async def scale_to_zero(self) -> None:
        """Stop the canary's pods: replicas 0, or for a DaemonSet a node selector no node has."""
        patch = scale_patch(self.kind, 0) if self.kind != "DaemonSet" else daemonset_to_zero(await self.target())
        self._target = None  # a write may change the target: read it afresh after
        await self.client.patch(self.resource, self.name, patch, namespace=self.namespace, patch_type=PatchType.MERGE)

    async def scale_from_zero(self) -> None:
        """Start the canary's pods again with Flagger's choice of replicas."""
        if self.kind == "DaemonSet":
            patch = daemonset_from_zero()
        else:
            target = await self.target()
            primary = None
            if self.canary.spec.autoscaler_ref is None:
                primary = await self._get(primary_name(self.name))
            autoscaler = await self._autoscaler()
            patch = scale_patch(self.kind, replicas_from_zero(target, primary, autoscaler)) or {}
        self._target = None  # a write may change the target: read it afresh after
        await self.client.patch(self.resource, self.name, patch, namespace=self.namespace, patch_type=PatchType.MERGE)

    async def _autoscaler(self) -> dict[str, Any] | None:
        ref = self.canary.spec.autoscaler_ref
        if ref is None or str(ref.kind) != "HorizontalPodAutoscaler":
            return None  # KEDA ScaledObjects are read by the scaler reconciler, which owns that CRD
        try:
            hpa = await self.client.get(HorizontalPodAutoscaler, ref.name, namespace=self.namespace)
        except ApiError:
            return None
        out: dict[str, Any] = hpa.to_dict()
        out.setdefault("kind", "HorizontalPodAutoscaler")
        return out

    async def finalize(self) -> None:
        """revertOnDeletion: give the target back the primary's size (or scale it up when there is no primary)."""
        try:
            primary = await self._get(primary_name(self.name))
        except TargetError:
            await self.scale_from_zero()
            return
        if self.kind == "DaemonSet":
            await self.scale_from_zero()
            return
        replicas = (primary.get("spec") or {}).get("replicas")
        self._target = None  # a write may change the target: read it afresh after
        await self.client.patch(
            self.resource,
            self.name,
            {"spec": {"replicas": replicas if replicas else 1}},
            namespace=self.namespace,
            patch_type=PatchType.MERGE,
        )
