"""From a Canary key to one engine step on the live cluster: the world of adapters each step runs against.

The world is built again for every step from the Canary as read then, so spec changes (provider, metrics,
templates, Secrets) apply at the next step without a restart, as in Flagger.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Secret

from serinus.api import Canary, MetricTemplate
from serinus.api.check import check_object
from serinus.api.judge import MetricJudge, effective_judge
from serinus.api.rules import RuleContext
from serinus.engine.context import Services
from serinus.engine.faults import describe, fault_text
from serinus.engine.finalize import FINALIZER
from serinus.engine.ports import EventType, Next, NoLedger, PortError, Reason, World
from serinus.engine.status import with_initializing
from serinus.engine.step import Engine, EngineOptions
from serinus.errors import SerinusError
from serinus.hooks.port import HttpHooks
from serinus.kube.actions import KubeActions
from serinus.kube.client import FIELD_MANAGER
from serinus.kube.events import EventRecorder, InvolvedObject
from serinus.kube.ledger import KubeLedger
from serinus.kube.resources import MetricTemplate as MetricTemplateResource
from serinus.kube.store import InvalidCanary, KubeStore, parse_canary
from serinus.metrics.checks import plan_checks
from serinus.metrics.pool import ProviderPool
from serinus.metrics.port import CanaryMetrics, observer_name
from serinus.net import SharedClients
from serinus.routers.features import warnings as feature_warnings
from serinus.routers.kubernetes import KubernetesRouter
from serinus.routers.registry import RouterContext, make_router
from serinus.runtime.adapters import (
    ClusterNotifier,
    ControllerTelemetry,
    KubeRecorder,
    SystemClock,
    global_receiver,
    guard,
)
from serinus.runtime.foreign import REASON as FOREIGN_REASON
from serinus.runtime.foreign import foreign_writer
from serinus.runtime.metrics import ControllerMetrics
from serinus.runtime.options import OperatorOptions
from serinus.runtime.scheduler import Key, Wait
from serinus.targets.controller import TargetOptions
from serinus.targets.knative import KnativeTarget, NoServices
from serinus.targets.port import WorkloadTarget
from serinus.targets.scalers import AutoscalerPort

log = logging.getLogger("serinus.canary")


class ClusterAnalysis:
    """The engine wired to a cluster: `await analysis(key)` runs one step of that Canary."""

    def __init__(self, client: AsyncClient, options: OperatorOptions, metrics: ControllerMetrics) -> None:
        self.client = client
        self.options = options
        self.metrics = metrics
        #: metric providers kept across steps and Canaries (one connection pool per back-end)
        self.providers = ProviderPool(cluster=client)
        #: webhook, event-webhook and alert clients kept across steps and Canaries (one per destination)
        self.http = SharedClients()
        self.store = KubeStore(client)
        self.target_options = TargetOptions(
            selector_labels=options.selector_labels,
            include_label_prefixes=options.include_label_prefix,
            config_tracking=options.enable_config_tracking,
        )
        self.events = EventRecorder(client)
        self._warned: set[tuple[str, int]] = set()
        self.rules = RuleContext(
            mesh_provider=options.mesh_provider,
            no_cross_namespace_refs=options.no_cross_namespace_refs,
            selector_labels=tuple(options.selector_labels),
        )
        services = Services(
            store=self.store,
            recorder=KubeRecorder(self.events, options.event_webhook, self.http),
            notifier=ClusterNotifier(client, global_receiver(options), metrics, self.http),
            hooks=HttpHooks(clients=self.http),
            clock=SystemClock(),
            telemetry=ControllerTelemetry(metrics),
            ledger=KubeLedger(client, options.ledger_runs) if options.ledger_runs > 0 else NoLedger(),
            actions=guard(KubeActions(client)),
        )
        self.services = services
        self.engine = Engine(
            services, self.world, EngineOptions(mesh_provider=options.mesh_provider, cluster_name=options.cluster_name)
        )

    async def close(self) -> None:
        """Close the metric providers' and the webhooks' connections."""
        try:
            await self.providers.close()
        finally:
            await self.http.aclose()

    async def __call__(self, key: Key) -> Wait | None:
        """One analysis step of the Canary `key` = (namespace, name), and when the next is due; never raises: what
        fails outside the engine's step (reading the Canary, validation, finalizers) is logged, counted in
        serinus_analysis_errors_total{reason="tick_error"} and, where the API lets it, recorded as a Warning
        event on the Canary (the engine reports failures inside its step itself)."""
        with self.store.one_read():  # the tick reads its Canary from the API server once (see KubeStore)
            return await self._tick(key)

    async def _tick(self, key: Key) -> Wait | None:
        namespace, name = key
        raw: dict[str, Any] | None = None
        try:
            raw = await self.store.raw(name, namespace)
            if raw is None:
                return None
            if await self._foreign(raw, name, namespace):
                return None
            meta = raw.get("metadata") or {}
            finalizers = meta.get("finalizers") or []
            if meta.get("deletionTimestamp"):
                if FINALIZER not in finalizers:
                    return None
                _, due = await self.engine.terminate(name, namespace)
                return self._wait(due, parse_canary(raw))
            if not await self._valid(raw, name, namespace):
                return None
            revert = bool((raw.get("spec") or {}).get("revertOnDeletion"))
            if revert != (FINALIZER in finalizers):
                if not revert:
                    log.info("opting out, deleting finalizers", extra={"canary": f"{name}.{namespace}"})
                await self.store.set_finalizer(name, namespace, FINALIZER, present=revert)
            await self._initializing(name, namespace)
            due = await self.engine.advance(name, namespace)
            return self._wait(due, parse_canary(raw))
        except InvalidCanary as err:
            log.error("%s", err, extra={"canary": f"{name}.{namespace}"})
        except Exception as err:
            await self._tick_failed(name, namespace, raw, err)
        return None

    async def _foreign(self, raw: dict[str, Any], name: str, namespace: str) -> bool:
        """True when another controller (Flagger) wrote the Canary's status within --foreign-status-window: then
        nothing is touched, not even finalizers, and a Warning event says why (see serinus.runtime.foreign)."""
        writer = foreign_writer(raw, FIELD_MANAGER, self.services.clock.now(), self.options.foreign_status_window)
        if writer is None:
            return False
        message = writer.message(name, namespace)
        log.warning(message, extra={"canary": f"{name}.{namespace}"})
        await self.events.record(_involved(raw, name, namespace), "Warning", message, FOREIGN_REASON)
        return True

    async def _tick_failed(self, name: str, namespace: str, raw: dict[str, Any] | None, err: Exception) -> None:
        """A tick raised outside the engine: log it, count it, and tell the Canary's events (best effort: the API
        that failed may be the one the event goes to). Never raises."""
        log.error("analysis tick failed: %s", describe(err), exc_info=err, extra={"canary": f"{name}.{namespace}"})
        spec = (raw or {}).get("spec")
        target_ref = spec.get("targetRef") if isinstance(spec, dict) else None
        target = target_ref.get("name") if isinstance(target_ref, dict) else None
        try:
            self.metrics.count_error(str(target or name), namespace, Reason.TICK_ERROR)
            await self.events.record(_involved(raw, name, namespace), "Warning", fault_text(f"{name}.{namespace}", err))
        except Exception:
            log.exception("reporting a failed tick failed", extra={"canary": f"{name}.{namespace}"})

    def _wait(self, due: Next, canary: Canary) -> Wait | None:
        """The scheduler's side of a Next: which workload to watch for, or how long to drain."""
        ref, analysis = canary.spec.target_ref, canary.analysis_or_default()
        if due is Next.CANARY_READY:
            return Wait(workload=(str(ref.kind), ref.name), threshold=analysis.effective_canary_ready_threshold())
        if due is Next.PRIMARY_READY:
            return Wait(
                workload=(str(ref.kind), f"{ref.name}-primary"), threshold=analysis.effective_primary_ready_threshold()
            )
        if due is Next.DRAIN:
            return Wait(delay=self.options.drain_period)
        if due is Next.NOW:
            return Wait(delay=0)
        return None

    async def _valid(self, raw: dict[str, Any], name: str, namespace: str) -> bool:
        """Check the Canary as `serinus validate` does; an invalid one gets a Warning event and a `Valid=False`
        condition naming the field, and no analysis (traffic is left as it is)."""
        report = check_object(raw, self.rules)
        problem = "; ".join(str(p) for p in report.errors[:3]) if report.errors else None
        now = self.services.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.store.set_validity(name, namespace, f"invalid canary spec: {problem}" if problem else None, now)
        if problem is None:
            return True
        await self.events.record(_involved(raw, name, namespace), "Warning", f"invalid canary spec: {problem}")
        log.error("invalid canary spec: %s", problem, extra={"canary": f"{name}.{namespace}"})
        return False

    async def _initializing(self, name: str, namespace: str) -> None:
        """What Flagger's sync handler does to a Canary without conditions: phase Initializing."""
        canary = await self.store.get(name, namespace)
        if canary is None or canary.status.conditions:
            return
        now = self.services.clock.now()
        await self.store.update_status(name, namespace, lambda c: with_initializing(c, now) or c.status)

    async def world(self, canary: Canary, provider: str) -> World:
        """The adapters of one step of this Canary."""
        namespace = canary.metadata.namespace or "default"
        await self._feature_warnings(canary, provider)
        target: WorkloadTarget | KnativeTarget
        services: KubernetesRouter | NoServices
        raw = canary.to_dict()
        if canary.spec.target_ref.api_version.startswith("serving.knative.dev/"):
            target, services = KnativeTarget(self.client, canary), NoServices()
            label, value, ports = await target.metadata()
        else:
            target = WorkloadTarget(self.client, canary, self.target_options)
            label, value, ports = await guard(target).metadata()
            services = KubernetesRouter(self.client, raw, label, value, ports)
        try:
            router = guard(
                make_router(
                    RouterContext(
                        self.client,
                        canary,
                        label,
                        provider,
                        self._status_saver(canary),
                        self.options.ingress_annotations_prefix,
                        self.options.ingress_class,
                        tuple(self.options.include_label_prefix),
                    )
                )
            )
        except SerinusError as err:
            raise PortError(str(err), retriable=False) from err
        templates, secrets = await self._templates(canary, namespace)
        route = primary_route = None
        if isinstance(target, KnativeTarget):  # Flagger's `route` for Knative: the latest created revision
            latest, primary = await guard(target).revisions()
            route, primary_route = latest or None, primary or None
        plans = plan_checks(
            canary,
            mesh_provider=self.options.mesh_provider,
            metrics_server=self.options.metrics_server,
            templates=templates,
            secrets=secrets,
            route=route,
        )
        ref = canary.spec.target_ref
        observer = observer_name(
            self.options.mesh_provider,
            canary.spec.provider.value if canary.spec.provider else None,
            str(ref.kind),
            ref.api_version,
        )
        judges: dict[str, MetricJudge] = {}
        analysis = canary.analysis_or_default()
        with contextlib.suppress(ValueError):  # a bad annotation is reported by validation; spec blocks still count
            _, judges = effective_judge(
                analysis.judge, {m.name: m.judge for m in analysis.metrics}, canary.metadata.annotations
            )
        metrics = CanaryMetrics(
            plans,
            observer=observer,
            namespace=namespace,
            cluster=self.client,
            pool=self.providers,
            judges=judges,
            primary_route=primary_route,
        )
        scaler = None
        if canary.spec.autoscaler_ref is not None:
            scaler = guard(AutoscalerPort(self.client, canary, self.options.include_label_prefix))
        return World(
            target=guard(target),
            services=guard(services),
            router=router,
            metrics=metrics,
            scaler=scaler,
            provider=provider,
        )

    async def _feature_warnings(self, canary: Canary, provider: str) -> None:
        """A Warning event, once per spec generation, for each traffic feature the provider cannot do (the
        kubernetes provider's are Flagger's own, recorded by the engine)."""
        if provider == "kubernetes":
            return
        key = (canary.metadata.uid or canary.metadata.name or "", canary.metadata.generation or 0)
        if key in self._warned:
            return
        self._warned.add(key)
        for message in feature_warnings(provider, canary.to_dict()):
            await self.services.recorder.event(canary, EventType.WARNING, message)

    def _status_saver(self, canary: Canary) -> Any:
        """Persist status fields a router produced (session-affinity cookies) on the stored Canary."""
        name, namespace = canary.metadata.name or "", canary.metadata.namespace or "default"

        async def save(fields: dict[str, str]) -> None:
            def change(stored: Canary) -> Any:
                merged = stored.status.model_dump(by_alias=True) | fields
                return type(stored.status).model_validate(merged)

            await self.store.update_status(name, namespace, change)

        return save

    async def _templates(
        self, canary: Canary, namespace: str
    ) -> tuple[dict[tuple[str, str], MetricTemplate], dict[tuple[str, str], Any]]:
        templates: dict[tuple[str, str], MetricTemplate] = {}
        secrets: dict[tuple[str, str], Any] = {}
        for metric in canary.analysis_or_default().metrics:
            if metric.template_ref is None:
                continue
            ns = metric.template_ref.namespace_or(namespace)
            try:
                obj: Any = await self.client.get(MetricTemplateResource, metric.template_ref.name, namespace=ns)
            except ApiError:
                continue  # planning reports the missing template on the metric
            template = MetricTemplate.model_validate(obj.to_dict())
            templates[(ns, metric.template_ref.name)] = template
            ref = template.spec.provider.secret_ref
            if ref is not None and (ns, ref.name) not in secrets:
                try:
                    secret: Any = await self.client.get(Secret, ref.name, namespace=ns)
                    secrets[(ns, ref.name)] = secret.to_dict()
                except ApiError:
                    continue
        return templates, secrets


def _involved(raw: dict[str, Any] | None, name: str, namespace: str) -> InvolvedObject:
    """The Canary an event is about, from its raw object as read (None, or any shape, when reading it failed)."""
    raw = raw or {}
    meta = raw.get("metadata")
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return InvolvedObject(str(raw.get("apiVersion") or "flagger.app/v1beta1"), "Canary", namespace, name, uid)
