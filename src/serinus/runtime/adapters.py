"""The operator's implementations of the engine's operator-wide ports: events (with event webhooks), alerts
(AlertProviders looked up on the cluster, or the global --slack-* / --msteams-* receiver), controller metrics,
the real clock, and a guard that turns any adapter failure into the PortError the engine reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import logging
import time
from typing import Any, TypeVar, cast

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Secret

from serinus.api import AlertProvider, Canary
from serinus.engine.judge.types import TickResult
from serinus.engine.ports import FLAGGER_REASON, EventType, Notice, PortError
from serinus.errors import SerinusError
from serinus.hooks.events import EventWebhooks
from serinus.kube.events import EventRecorder, InvolvedObject
from serinus.kube.resources import AlertProvider as AlertProviderResource
from serinus.metrics.checks import decode_secret
from serinus.net import API_ERRORS, SharedClients
from serinus.notify.alert import Alert, Field, wants
from serinus.notify.receivers import Receiver, make_receiver
from serinus.runtime.metrics import ControllerMetrics
from serinus.runtime.options import OperatorOptions
from serinus.targets.controller import TargetError

log = logging.getLogger("serinus.canary")
T = TypeVar("T")


class Guarded:
    """Wraps an adapter so every failure of its async methods reaches the engine as a PortError; other attributes
    (plain methods included) pass through untouched."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await attr(*args, **kwargs)
            except PortError:
                raise
            except TargetError as err:
                raise PortError(str(err), err.retriable) from err
            except ApiError as err:
                raise PortError(str(err.status.message or err)) from err
            except SerinusError as err:
                raise PortError(str(err)) from err
            except API_ERRORS as err:  # the API (or another endpoint) failed, garbled answers included
                raise PortError(f"{type(err).__name__}: {err}") from err

        return call


def guard(adapter: T) -> T:
    """`adapter` behind a Guarded, typed as the adapter itself so the World it joins is checked against the
    engine's ports."""
    # The one cast of the seam: Guarded forwards every attribute and gives each async method the same signature and
    # result (only its exceptions change), and everything else passes through as it is, so it is a T to its callers.
    return cast(T, Guarded(adapter))


def canary_subject(canary: Canary) -> str:
    """`<name>.<namespace>`, the `canary` field of every log line."""
    return f"{canary.metadata.name}.{canary.metadata.namespace}"


class SystemClock:
    """The Clock port on real time."""

    def now(self) -> dt.datetime:
        """Now, in UTC."""
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        """A monotonic clock."""
        return time.monotonic()


class KubeRecorder:
    """The Recorder port: a Kubernetes Event on the Canary, a log line, and the event webhooks."""

    def __init__(self, events: EventRecorder, event_webhook: str = "", clients: SharedClients | None = None) -> None:
        self.events = events
        self.webhooks = EventWebhooks(event_webhook, clients)

    async def event(self, canary: Canary, event_type: EventType, message: str, reason: str = FLAGGER_REASON) -> None:
        """Record the event; a canary's own `event` webhooks replace the global --event-webhook."""
        meta = canary.metadata
        extra = {"canary": canary_subject(canary)}
        if event_type is EventType.WARNING:
            log.warning(message, extra=extra)
        else:
            log.info(message, extra=extra)
        await self.events.record(
            InvolvedObject(canary.api_version, "Canary", meta.namespace or "default", meta.name or "", meta.uid),
            str(event_type),
            message,
            reason,
        )
        await self.webhooks.send(canary, str(event_type), message)


def global_receiver(options: OperatorOptions) -> Receiver | None:
    """The operator-wide receiver of Flagger's flags: MS Teams when --msteams-url is set, else Slack."""
    if options.msteams_url:
        return make_receiver("msteams", options.msteams_url, proxy=options.msteams_proxy_url or None)
    if options.slack_url:
        return make_receiver(
            "slack",
            options.slack_url,
            token=options.slack_token or None,
            proxy=options.slack_proxy_url or None,
            username=options.slack_user or None,
            channel=options.slack_channel or None,
        )
    return None


class ClusterNotifier:
    """The Notifier port: the Canary's AlertProviders (by severity), or the global receiver when it has none."""

    def __init__(
        self,
        client: AsyncClient | None,
        fallback: Receiver | None,
        metrics: ControllerMetrics | None = None,
        clients: SharedClients | None = None,
    ) -> None:
        self.client = client
        self.fallback = fallback
        self.metrics = metrics
        #: HTTP clients kept across alerts (one per receiver); None makes one per alert
        self.clients = clients

    async def alert(self, canary: Canary, notice: Notice) -> None:
        """Send; every failure is logged and the next receiver is tried."""
        namespace = canary.metadata.namespace or "default"
        alert = Alert(
            canary.metadata.name or "",
            namespace,
            notice.message,
            notice.severity,
            tuple(Field(n, v) for n, v in notice.fields),
            str(canary.status.phase),
        )
        entries = canary.analysis_or_default().alerts
        extra = {"canary": canary_subject(canary)}
        if not entries:
            if self.fallback is not None:
                await self._send(self.fallback, alert, "global", extra)
            return
        for entry in entries:
            if not wants(entry.severity.value, notice.severity):
                continue
            ns = entry.provider_ref.namespace_or(namespace)
            try:
                receiver = await self._receiver(entry.provider_ref.name, ns)
            except (SerinusError, ApiError) as err:
                log.error("alert provider %s.%s error: %s", entry.provider_ref.name, ns, err, extra=extra)
                continue
            await self._send(receiver, alert, f"{entry.provider_ref.name}.{ns}", extra)

    async def _receiver(self, name: str, namespace: str) -> Receiver:
        if self.client is None:
            raise SerinusError("no cluster to read AlertProviders from")
        obj: Any = await self.client.get(AlertProviderResource, name, namespace=namespace)
        provider = AlertProvider.model_validate(obj.to_dict())
        spec = provider.spec
        url, token = spec.address, None
        if spec.secret_ref is not None:
            secret: Any = await self.client.get(Secret, spec.secret_ref.name, namespace=namespace)
            data = decode_secret(secret.to_dict())
            if "address" not in data:
                raise SerinusError(f"alert provider {name}.{namespace} secret does not contain an address")
            url, token = data["address"], data.get("token")
        return make_receiver(
            str(spec.type),
            url,
            token=token,
            proxy=spec.proxy or None,
            username=spec.username or None,
            channel=spec.channel or None,
        )

    async def _send(self, receiver: Receiver, alert: Alert, where: str, extra: dict[str, str]) -> None:
        if self.clients is not None and receiver.clients is None and receiver.transport is None:
            receiver = dataclasses.replace(receiver, clients=self.clients)
        try:
            await receiver.send(alert)
        except SerinusError as err:
            log.error("alert provider %s send error: %s", where, err, extra=extra)
            if self.metrics is not None:
                self.metrics.count_alert(receiver.type, sent=False)
            return
        if self.metrics is not None:
            self.metrics.count_alert(receiver.type, sent=True)


class ControllerTelemetry:
    """The Telemetry port on the operator's Prometheus registry."""

    def __init__(self, metrics: ControllerMetrics) -> None:
        self.metrics = metrics

    @staticmethod
    def _labels(canary: Canary) -> tuple[str, str]:
        return canary.spec.target_ref.name, canary.metadata.namespace or "default"

    def set_status(self, canary: Canary, phase: str) -> None:
        """flagger_canary_status."""
        self.metrics.set_status(*self._labels(canary), phase)

    def set_weight(self, canary: Canary, primary: int, canary_weight: int) -> None:
        """flagger_canary_weight."""
        self.metrics.set_weight(*self._labels(canary), primary, canary_weight)

    def set_analysis(self, canary: Canary, metric: str, value: float, passed: bool) -> None:
        """flagger_canary_metric_analysis and the checks counter."""
        self.metrics.set_metric_value(*self._labels(canary), metric, value, passed)

    def inc_successes(self, canary: Canary, analysis_status: str) -> None:
        """flagger_canary_successes_total."""
        self.metrics.inc_success(
            *self._labels(canary), str(canary.deployment_strategy()), skipped=analysis_status == "skipped"
        )

    def inc_failures(self, canary: Canary, analysis_status: str) -> None:
        """flagger_canary_failures_total."""
        self.metrics.inc_failure(*self._labels(canary), str(canary.deployment_strategy()))

    def set_duration(self, canary: Canary, seconds: float) -> None:
        """flagger_canary_duration_seconds."""
        self.metrics.observe_duration(*self._labels(canary), seconds)

    def set_judge(self, canary: Canary, result: TickResult) -> None:
        """serinus_judge_*: the statistical judge's verdict and evidence."""
        self.metrics.set_judge(*self._labels(canary), result)

    def count_error(self, canary: Canary, reason: str, metric: str = "") -> None:
        """serinus_analysis_errors_total (and the metric's failed check)."""
        self.metrics.count_error(*self._labels(canary), reason, metric)
