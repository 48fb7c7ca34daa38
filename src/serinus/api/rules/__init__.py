"""The checks Flagger makes only at run time, as pure functions over parsed objects.

Each rule returns Problems: errors for what makes a release fail or hang, warnings for settings Flagger silently
ignores or bends. `flagger_message` carries Flagger's own text where it has one, so the operator can reuse these
for status conditions and Warning events with the words Flagger users know.
"""

from __future__ import annotations

from serinus.api.canary import Canary
from serinus.api.capabilities import router_for, unknown_provider_warning
from serinus.api.problems import Path, Problem, error, show, warning
from serinus.api.rules.checks import alert_rules, metric_rules, webhook_rules
from serinus.api.rules.context import DEFAULT_SELECTOR_LABELS, RuleContext, is_http_url
from serinus.api.rules.judge import judge_rules
from serinus.api.rules.providers import check_alert_provider, check_metric_template
from serinus.api.rules.target import router_ref_rules, service_rules, target_rules
from serinus.api.rules.traffic import strategy_rules, traffic_feature_rules
from serinus.api.rules.workload import workload_rules

__all__ = [
    "DEFAULT_SELECTOR_LABELS",
    "RuleContext",
    "check_alert_provider",
    "check_canary",
    "check_metric_template",
    "is_http_url",
]


def check_canary(canary: Canary, context: RuleContext | None = None) -> list[Problem]:
    """Every run-time rule of Flagger (and Serinus) that this Canary breaks."""
    context = context or RuleContext()
    provider = canary.provider_or(context.mesh_provider)
    router, fell_back = router_for(provider)
    out: list[Problem] = []
    if fell_back:
        out.append(
            warning(
                ("spec", "provider"),
                f"the operator's mesh provider {show(provider)} is unknown; Flagger uses istio",
                "provider",
                unknown_provider_warning(provider),
            )
        )
    out += target_rules(canary)
    out += workload_rules(canary, context)
    out += service_rules(canary, router, provider)
    out += router_ref_rules(canary, router, provider)
    analysis = canary.get_analysis()
    base: Path = ("spec", "analysis") if canary.spec.analysis is not None else ("spec", "canaryAnalysis")
    if analysis is not None:
        if canary.spec.analysis is None:
            out.append(
                warning(
                    base,
                    "is deprecated and not in the CRD, so the API server drops it; rename it to analysis",
                    "canary-analysis",
                )
            )
        out += strategy_rules(analysis, base, router)
        out += traffic_feature_rules(analysis, base, router, provider)
        out += metric_rules(canary, analysis, base, context)
        out += webhook_rules(analysis, base)
        out += alert_rules(canary, analysis, base, context)
    out += judge_rules(canary, analysis, base, router, provider)
    if context.no_cross_namespace_refs and canary.spec.upstream_ref is not None:
        ref = canary.spec.upstream_ref
        if (ref.namespace or canary.metadata.namespace) != canary.metadata.namespace:
            out.append(
                error(
                    ("spec", "upstreamRef", "namespace"),
                    "points to another namespace, and the operator blocks cross-namespace references",
                    "cross-namespace",
                    f"can't access gloo upstream {ref.name}.{ref.namespace}, cross-namespace references are blocked",
                )
            )
    return out
