"""Rules about how traffic moves: strategy, weights, interval, mirroring, A/B conditions, session affinity."""

from __future__ import annotations

from itertools import pairwise

from serinus.api.analysis import CanaryAnalysis, DeploymentStrategy
from serinus.api.capabilities import (
    AB_TESTING,
    BLUE_GREEN_MIRRORING,
    CANARY_MIRRORING,
    GATEWAY_API,
    PRIMARY_COOKIE,
    SESSION_AFFINITY,
    Router,
)
from serinus.api.duration import SECOND, DurationError, parse_duration
from serinus.api.problems import Path, Problem, error, one_of, show, warning
from serinus.api.rules.target import gateway_match_rules


def strategy_rules(analysis: CanaryAnalysis, base: Path, router: Router) -> list[Problem]:
    out: list[Problem] = []
    chosen = [
        name
        for name, on in (
            ("iterations", analysis.iterations > 0),
            ("stepWeight", analysis.step_weight > 0),
            ("stepWeights", bool(analysis.step_weights)),
        )
        if on
    ]
    if not chosen:
        out.append(
            error(
                base,
                "must set one of iterations, stepWeight or stepWeights to a positive value; "
                "without one the canary never gets traffic",
                "analysis-strategy",
            )
        )
    elif len(chosen) > 1:
        out.append(
            error(
                base,
                f"must set only one of iterations, stepWeight or stepWeights, got {one_of(chosen, 'and')}",
                "analysis-strategy",
            )
        )
    if analysis.iterations < 0:
        out.append(
            error((*base, "iterations"), f"must not be negative, got {analysis.iterations}", "analysis-strategy")
        )
    weights = analysis.step_weights
    if weights:
        if any(b < a for a, b in pairwise(weights)):
            out.append(error((*base, "stepWeights"), f"must be ascending, got {show(weights)}", "step-weights-order"))
        elif len(set(weights)) != len(weights):
            out.append(
                error(
                    (*base, "stepWeights"),
                    f"must not repeat a weight (the canary would stop there), got {show(weights)}",
                    "step-weights-order",
                )
            )
        if any(not 1 <= w <= 100 for w in weights):
            out.append(
                error(
                    (*base, "stepWeights"),
                    f"every weight must be between 1 and 100, got {show(weights)}",
                    "step-weights-range",
                )
            )
        if analysis.max_weight:
            out.append(
                warning(
                    (*base, "maxWeight"),
                    f"is ignored with stepWeights; the last step ({min(100, weights[-1])}) is the max weight",
                    "max-weight",
                )
            )
    percentages = (
        ("stepWeight", analysis.step_weight),
        ("maxWeight", analysis.max_weight),
        ("stepWeightPromotion", analysis.step_weight_promotion),
        ("mirrorWeight", analysis.mirror_weight),
        ("primaryReadyThreshold", analysis.primary_ready_threshold),
        ("canaryReadyThreshold", analysis.canary_ready_threshold),
    )
    for name, value in percentages:
        if value is not None and not 0 <= value <= 100:
            why = "; the canary would never reach it and never be promoted" if name == "maxWeight" else ""
            out.append(error((*base, name), f"must be between 0 and 100, got {value}{why}", "weight-range"))
    if analysis.threshold <= 0:
        out.append(
            warning(
                (*base, "threshold"),
                f"is {analysis.threshold}; Flagger treats it as 1 (roll back on the first failed check)",
                "threshold",
            )
        )
    out += _interval_rules(analysis, base)
    if router is Router.KUBERNETES and analysis.iterations < 1:
        out.append(
            warning(
                base,
                "the kubernetes provider cannot shift traffic progressively; Flagger runs a "
                "blue/green release of 10 iterations instead",
                "kubernetes-progressive",
                "Progressive traffic is not supported when using the kubernetes provider",
            )
        )
    return out


def _interval_rules(analysis: CanaryAnalysis, base: Path) -> list[Problem]:
    if not analysis.interval:
        return []
    try:
        seconds = parse_duration(analysis.interval) / SECOND
    except DurationError as err:
        return [
            warning(
                (*base, "interval"), f"is not a Go duration ({err}); Flagger falls back to 60s", "analysis-interval"
            )
        ]
    if seconds < 10:
        return [
            warning((*base, "interval"), "is below the 10s minimum; the analysis runs every 10s", "analysis-interval")
        ]
    return []


def traffic_feature_rules(analysis: CanaryAnalysis, base: Path, router: Router, provider: str) -> list[Problem]:
    out: list[Problem] = []
    strategy = analysis.deployment_strategy()
    if analysis.mirror:
        if strategy is DeploymentStrategy.CANARY and router not in CANARY_MIRRORING:
            out.append(
                error(
                    (*base, "mirror"),
                    "mirroring in a weighted canary release needs provider istio; "
                    f"with {provider} the release never gets past the mirror step",
                    "mirror-support",
                )
            )
        elif strategy is DeploymentStrategy.BLUE_GREEN and router not in BLUE_GREEN_MIRRORING:
            out.append(
                warning(
                    (*base, "mirror"),
                    f"is ignored by provider {provider} (blue/green mirroring needs istio or gatewayapi)",
                    "mirror-support",
                )
            )
        elif strategy is DeploymentStrategy.AB_TESTING:
            out.append(warning((*base, "mirror"), "is ignored in an A/B testing release", "mirror-support"))
    elif analysis.mirror_weight:
        out.append(warning((*base, "mirrorWeight"), "is ignored without mirror: true", "mirror-support"))
    if analysis.match:
        if router is Router.KUBERNETES:
            out.append(
                warning(
                    (*base, "match"),
                    "is ignored: the kubernetes provider cannot route by request",
                    "ab-support",
                    "A/B testing is not supported when using the kubernetes provider",
                )
            )
        elif router not in AB_TESTING:
            out.append(
                warning(
                    (*base, "match"),
                    f"is ignored by provider {provider} (A/B routing works with "
                    "istio, contour, gloo, nginx, gatewayapi and appmesh)",
                    "ab-support",
                )
            )
        elif router in GATEWAY_API:
            out += gateway_match_rules(analysis.match, (*base, "match"))
    affinity = analysis.session_affinity
    if affinity is not None:
        where = (*base, "sessionAffinity")
        if affinity.cookie_name == affinity.primary_cookie_name:
            out.append(
                error(
                    (*where, "primaryCookieName"),
                    f"must differ from cookieName, both are {show(affinity.cookie_name)}",
                    "session-affinity-cookies",
                    "can't use the same cookie name for both primary and cookie name; please update them "
                    "to be different",
                )
            )
        if router not in SESSION_AFFINITY:
            out.append(
                warning(
                    where,
                    f"is ignored by provider {provider} (cookie affinity works with istio and gatewayapi)",
                    "session-affinity-support",
                )
            )
        elif affinity.primary_cookie_name and router not in PRIMARY_COOKIE:
            out.append(
                warning(
                    (*where, "primaryCookieName"),
                    f"is ignored by provider {provider} (only istio and gatewayapi:v1 keep a primary cookie)",
                    "session-affinity-support",
                )
            )
        if strategy is not DeploymentStrategy.CANARY:
            out.append(warning(where, "is only used in weighted canary releases", "session-affinity-support"))
    return out
