"""Rules about what judges a release: metrics, their templates and thresholds, webhooks and alerts."""

from __future__ import annotations

import re

from serinus.api.analysis import CanaryAnalysis, CanaryMetric, HookType
from serinus.api.canary import Canary
from serinus.api.capabilities import INTERVAL_PROVIDERS
from serinus.api.duration import DurationError
from serinus.api.problems import Path, Problem, error, show, warning
from serinus.api.rules.context import RuleContext, duration_problem, is_http_url

#: `{{ interval }}` (or a pipeline using it) in a Go template.
_INTERVAL_CALL = re.compile(r"\{\{-?[^}]*\binterval\b")


def metric_rules(canary: Canary, analysis: CanaryAnalysis, base: Path, context: RuleContext) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    for index, metric in enumerate(analysis.metrics):
        where = (*base, "metrics", index)
        if metric.name in seen:
            out.append(
                warning(
                    (*where, "name"),
                    f"{show(metric.name)} is used twice; metrics and events would mix them up",
                    "duplicate-name",
                )
            )
        seen.add(metric.name)
        if not metric.is_builtin() and metric.template_ref is None and not metric.query:
            out.append(
                error(
                    where,
                    f"{show(metric.name)} is not built in (request-success-rate, request-duration)"
                    "; it needs templateRef or query",
                    "metric-source",
                    "Metric query failed for no usable metrics template and query were configured",
                )
            )
        if metric.interval:
            problem = duration_problem((*where, "interval"), metric.interval, "metric-interval")
            out += [problem] if problem else []
        out += _threshold_rules(metric, where)
        out += _template_rules(canary, metric, where, context)
    return out


def _threshold_rules(metric: CanaryMetric, where: Path) -> list[Problem]:
    bounds = metric.threshold_range
    if bounds is None:
        return []
    out: list[Problem] = []
    if bounds.min is not None and bounds.max is not None and bounds.min > bounds.max:
        out.append(
            error(
                (*where, "thresholdRange"),
                f"min ({bounds.min:g}) is above max ({bounds.max:g}); no value can pass",
                "threshold-range",
            )
        )
    if metric.threshold:
        out.append(warning((*where, "threshold"), "is ignored when thresholdRange is set", "threshold-range"))
    return out


def _template_rules(canary: Canary, metric: CanaryMetric, where: Path, context: RuleContext) -> list[Problem]:
    ref = metric.template_ref
    if ref is None:
        return []
    out: list[Problem] = []
    namespace = ref.namespace_or(canary.metadata.namespace)
    if context.no_cross_namespace_refs and namespace != canary.metadata.namespace:
        out.append(
            error(
                (*where, "templateRef", "namespace"),
                "points to another namespace, and the operator blocks cross-namespace references",
                "cross-namespace",
                f"can't access metric template {ref.name}.{ref.namespace}, cross-namespace references are blocked",
            )
        )
    template = context.templates.get((namespace, ref.name))
    if metric.interval:
        return out
    if template is None:
        out.append(
            warning(
                (*where, "interval"),
                "is not set; a templateRef metric gets no default, so "
                "{{ interval }} renders empty (and datadog, cloudwatch, newrelic, dynatrace and splunk "
                "templates fail)",
                "template-interval",
            )
        )
    elif template.spec.provider.type in INTERVAL_PROVIDERS:
        out.append(
            error(
                (*where, "interval"),
                f"is required: MetricTemplate {ref.name} uses "
                f"{template.spec.provider.type.value}, whose client is built from the interval",
                "template-interval",
                "error parsing metric interval",
            )
        )
    elif _INTERVAL_CALL.search(template.spec.query):
        out.append(
            error(
                (*where, "interval"),
                f"is required: the query of MetricTemplate {ref.name} uses "
                "{{ interval }}, which renders empty without it",
                "template-interval",
            )
        )
    return out


def webhook_rules(analysis: CanaryAnalysis, base: Path) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    for index, hook in enumerate(analysis.webhooks):
        where = (*base, "webhooks", index)
        if hook.name in seen:
            out.append(
                warning(
                    (*where, "name"),
                    f"{show(hook.name)} is used twice; events and logs would mix them up",
                    "duplicate-name",
                )
            )
        seen.add(hook.name)
        if not is_http_url(hook.url):
            out.append(
                error((*where, "url"), f"must be an absolute http or https URL, got {show(hook.url)}", "webhook-url")
            )
        if len(hook.timeout) >= 2:
            problem = duration_problem((*where, "timeout"), hook.timeout, "webhook-timeout")
            out += [problem] if problem else []
        if hook.retries < 0:
            out.append(error((*where, "retries"), f"must not be negative, got {hook.retries}", "webhook-retries"))
    out += _webhook_budget(analysis, base)
    return out


def _webhook_budget(analysis: CanaryAnalysis, base: Path) -> list[Problem]:
    """Flagger's docs: the rollout hooks of one step should finish within one analysis interval."""
    total = 0.0
    for hook in analysis.webhooks_of(HookType.ROLLOUT):
        try:
            total += hook.timeout_seconds()
        except DurationError:
            return []
    interval = analysis.interval_seconds()
    if total > interval:
        return [
            warning(
                (*base, "webhooks"),
                f"the rollout webhooks may take {total:g}s together, longer than the {interval:g}s analysis interval",
                "webhook-budget",
            )
        ]
    return []


def alert_rules(canary: Canary, analysis: CanaryAnalysis, base: Path, context: RuleContext) -> list[Problem]:
    out: list[Problem] = []
    for index, alert in enumerate(analysis.alerts):
        ref = alert.provider_ref
        if context.no_cross_namespace_refs and ref.namespace_or(canary.metadata.namespace) != canary.metadata.namespace:
            out.append(
                error(
                    (*base, "alerts", index, "providerRef", "namespace"),
                    "points to another namespace, and the operator blocks cross-namespace references",
                    "cross-namespace",
                    f"can't access alert provider {ref.name}.{ref.namespace}, cross-namespace references are blocked",
                )
            )
    return out
