"""The engine's Metrics port: the planned checks of one Canary, run against their providers.

Flagger's error texts depend on where a metric failed (template lookup, Secret, provider, render, query), so a
Measurement says which; the engine words it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serinus.api import CanaryMetric
from serinus.engine.ports import Measurement, MetricFailure
from serinus.errors import MetricsError, NoValuesFound, SerinusError
from serinus.metrics.builtin import metrics_provider
from serinus.metrics.checks import MetricCheck, PlanError
from serinus.metrics.pool import ProviderPool
from serinus.metrics.registry import MetricsProvider, ProviderConfig, make_provider

_STAGES = {"template": MetricFailure.TEMPLATE, "secret": MetricFailure.SECRET, "provider": MetricFailure.PROVIDER,
           "render": MetricFailure.RENDER, "unusable": MetricFailure.UNUSABLE}


class CanaryMetrics:
    """Runs the planned checks of one Canary's analysis step."""

    def __init__(self, plans: Sequence[MetricCheck | PlanError], *, observer: str, namespace: str,
                 cluster: Any = None, pool: ProviderPool | None = None) -> None:
        self.plans = {plan.metric.name: plan for plan in plans}
        #: the operator's lightkube client, for providers that read the Kubernetes API (keptn, externalmetrics)
        self.cluster = cluster
        #: the operator's providers, kept across steps; without one each check builds and closes its own
        self.pool = pool
        self.observer = observer
        self.namespace = namespace

    async def _open(self, config: ProviderConfig) -> MetricsProvider:
        if self.pool is not None:
            return await self.pool.get(config)
        return make_provider(config, cluster=self.cluster)

    async def _release(self, provider: MetricsProvider) -> None:
        if self.pool is None:
            await provider.close()

    async def providers_online(self) -> str | None:
        """Flagger's checkMetricProviderAvailability, texts included (its spelling too)."""
        seen: set[tuple[str, str]] = set()
        for plan in self.plans.values():
            if isinstance(plan, PlanError):
                if plan.stage in ("template", "secret", "provider"):
                    ref = plan.metric.template_ref
                    name = f"{ref.name}.{ref.namespace_or(self.namespace)}" if ref is not None else plan.metric.name
                    return f"metric template {name} error: {plan.error}"
                continue
            ident = (plan.provider.type, plan.provider.address)
            if ident in seen:
                continue
            seen.add(ident)
            try:
                provider = await self._open(plan.provider)
            except SerinusError as err:
                return f"metric template provider {plan.provider.type} error: {err}"
            try:
                await provider.is_online()
            except MetricsError as err:
                if plan.metric.template_ref is None:
                    return f"prometheus not avaiable: {err}"
                ref = plan.metric.template_ref
                return (f"{plan.provider.type} in metric template {ref.name}.{ref.namespace_or(self.namespace)} "
                        f"not avaiable: {err}")
            finally:
                await self._release(provider)
        return None

    async def measure(self, metric: CanaryMetric) -> Measurement:
        """Run one metric's query now."""
        plan = self.plans.get(metric.name)
        template = ""
        if metric.template_ref is not None:
            template = f"{metric.template_ref.name}.{metric.template_ref.namespace_or(self.namespace)}"
        if plan is None:
            return Measurement(failure=MetricFailure.UNUSABLE, error="not planned", template=template)
        if isinstance(plan, PlanError):
            error = str(plan.error)
            if plan.stage == "secret":
                error = error.removeprefix("secret ")  # the engine says "secret <what went wrong>"
            return Measurement(failure=_STAGES.get(plan.stage, MetricFailure.QUERY_FAILED), error=error,
                               template=template, observer=self.observer)
        try:
            provider = await self._open(plan.provider)
        except SerinusError as err:
            return Measurement(failure=MetricFailure.PROVIDER, error=str(err), template=template,
                               provider_type=plan.provider.type)
        try:
            raw = await provider.query(plan.query)
        except NoValuesFound as err:
            return Measurement(failure=MetricFailure.NO_DATA, error=str(err), observer=self.observer,
                               template=template, query=plan.query)
        except MetricsError as err:
            return Measurement(failure=MetricFailure.QUERY_FAILED, error=str(err), observer=self.observer,
                               template=template, query=plan.query)
        finally:
            await self._release(provider)
        return Measurement(value=plan.judged_value(raw), observer=self.observer, template=template, query=plan.query)


def observer_name(mesh_provider: str, provider: str | None, kind: str, api_version: str) -> str:
    """The metrics provider named in Flagger's no-data text (istio, nginx, kubernetes:service, ...)."""
    return metrics_provider(mesh_provider, provider, kind, api_version)
