"""Rules about the statistical judge's settings, in both forms: the spec fields and the `serinus.io/judge` annotations.

The spec fields (`spec.analysis.judge`, `spec.analysis.metrics[].judge`) are typed by the CRD; the annotations are
free text, read by the judge's one settings reader (`serinus.api.judge.read_annotations`) and held here to the same
schema, and every problem inside one names the annotation key and the field in it
(`metadata.annotations["serinus.io/judge"].falseRollbackRate`). Then the settings of each block are checked for
meaning (rates, durations, effect sizes, queries), and the settings in effect (a spec field wins over the
annotation) are checked against the rest of the Canary: the traffic mode, the metric windows, the absolute bounds
and the number of decisive metrics. The defaults quoted are the judge's own (`serinus.api.judge.DEFAULTS`); the
limits here (`MAX_RATE`, `MAX_DECISIVE_METRICS`) are advice the operator does not enforce.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final

from serinus.api.analysis import (
    BUILTIN_METRICS,
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    CanaryAnalysis,
    CanaryMetric,
    DeploymentStrategy,
)
from serinus.api.canary import Canary
from serinus.api.capabilities import AB_TESTING, BLUE_GREEN_MIRRORING, Router
from serinus.api.crdgen import model_schema
from serinus.api.duration import SECOND, DurationError, parse_duration
from serinus.api.judge import (
    DEFAULTS,
    DIRECTIONS,
    AnalysisJudge,
    AnnotationSchemas,
    Baseline,
    Effect,
    JudgeMode,
    Located,
    MetricJudge,
    MetricKind,
    effective_analysis,
    effective_metric,
    parse_bound,
    percent_fraction,
    read_annotations,
)
from serinus.api.judge_kinds import BUILTIN_KINDS, metric_kind
from serinus.api.problems import Path, Problem, error, format_path, show, warning

#: Highest false-rollback or missed-regression rate that makes sense: above it a coin toss does better.
MAX_RATE: Final = 0.5
#: More decisive metrics than this split the false-rollback budget too thin (docs/judge.md, Limits: Many metrics).
MAX_DECISIVE_METRICS: Final = 4


def judge_rules(
    canary: Canary, analysis: CanaryAnalysis | None, base: Path, router: Router, provider: str
) -> list[Problem]:
    """Every problem of the judge's settings: the annotations' syntax and schema, each block's values, and the
    settings in effect against the rest of the Canary. Without an analysis only the annotations are checked."""
    found = read_annotations(canary.metadata.annotations, _schemas())
    out = list(found.problems)
    if analysis is None:
        return out
    interval_s = analysis.interval_seconds()
    spec_analysis = Located(analysis.judge, (*base, "judge")) if analysis.judge is not None else None
    for analysis_block in (spec_analysis, found.analysis):
        if analysis_block is not None:
            out += _analysis_block_rules(analysis_block, interval_s)
    spec_metrics: dict[str, Located[MetricJudge]] = {}
    for index, metric in enumerate(analysis.metrics):
        if metric.judge is not None:
            block = Located(metric.judge, (*base, "metrics", index, "judge"))
            spec_metrics.setdefault(metric.name, block)
            out += _metric_block_rules(metric, block, router, provider)
    by_name = {metric.name: metric for metric in analysis.metrics}
    for name, blocks in found.metrics.items():
        named = by_name.get(name)
        for block in blocks:
            if named is None:
                out.append(
                    warning(
                        block.path,
                        f"names the metric {show(name)}, which this Canary does not have "
                        f"(its metrics: {_names(analysis)}); the block does nothing",
                        "judge-metric-name",
                    )
                )
            else:
                out += _metric_block_rules(named, block, router, provider)
    out += _both_forms_rules(spec_analysis, found.analysis, spec_metrics, found.metrics)
    effective = effective_analysis(
        spec_analysis.value if spec_analysis is not None else None,
        found.analysis.value if found.analysis is not None else None,
    )
    metrics = {name: effective_metric(spec_metrics.get(name), found.metrics.get(name, [])) for name in by_name}
    mode_path, mode = _mode(spec_analysis, found.analysis, effective)
    if found.unreadable and (spec_analysis is None or "mode" not in spec_analysis.set_fields()):
        return out  # the mode may be in the broken annotation: nothing more can be said
    if mode is not JudgeMode.STATISTICAL:
        out += _judge_off_rules(spec_analysis, found.analysis, spec_metrics, found.metrics, mode_path)
        return out
    assert effective is not None  # statistical mode is only ever set in a block
    out += _traffic_rules(analysis, base, router, provider, effective, mode_path)
    out += _metric_set_rules(analysis, base, effective, metrics)
    return out


@functools.cache
def _schemas() -> AnnotationSchemas:
    """The CRD schemas the annotations are held to: `spec.analysis.judge`'s, plus the annotation's own
    `metrics: {<name>: <metric block>}`, and `spec.analysis.metrics[].judge`'s."""
    metric = model_schema(MetricJudge)
    analysis = model_schema(AnalysisJudge)
    analysis["properties"]["metrics"] = {"type": "object", "additionalProperties": metric}
    return AnnotationSchemas(analysis, metric)


# --- one block's values ---------------------------------------------------------------------------------------------


def _analysis_block_rules(block: Located[AnalysisJudge], interval_s: float) -> list[Problem]:
    judge = block.value
    out: list[Problem] = []
    for name, rate, default in (
        ("falseRollbackRate", judge.false_rollback_rate, DEFAULTS.false_rollback_rate),
        ("missedRegressionRate", judge.missed_regression_rate, DEFAULTS.missed_regression_rate),
    ):
        if rate is not None and not 0 < rate <= MAX_RATE:
            out.append(
                error(
                    block.at(name),
                    f"must be above 0 and at most {MAX_RATE:g} (a probability per "
                    f"release; {default:g} is the default), got {rate:g}",
                    "judge-rate",
                )
            )
    if judge.max_hold:
        try:
            hold = parse_duration(judge.max_hold)
        except DurationError as err:
            out.append(error(block.at("maxHold"), f"is not a Go duration ({err}), e.g. 30m or 1h", "judge-max-hold"))
        else:
            if hold < interval_s * SECOND:
                out.append(
                    error(
                        block.at("maxHold"),
                        f"is {judge.max_hold}, shorter than the {interval_s:g}s analysis "
                        "interval; onInconclusive would decide before the judge could hold even once",
                        "judge-max-hold",
                    )
                )
    return out


def _metric_block_rules(
    metric: CanaryMetric, block: Located[MetricJudge], router: Router, provider: str
) -> list[Problem]:
    judge = block.value
    kind = metric_kind(metric, judge)
    out = _effect_rules(block, DEFAULTS.effects(metric.name == REQUEST_DURATION, kind).rollback[0])
    custom = not metric.is_builtin()
    allowed = BUILTIN_KINDS.get(metric.name)
    if judge.kind is not None and allowed is not None and judge.kind not in allowed:
        out.append(
            error(
                block.at("kind"),
                f"{metric.name} can be judged as {' or '.join(k.value for k in allowed)}, not {judge.kind.value}",
                "judge-kind",
            )
        )
    elif judge.kind is MetricKind.ABSOLUTE and custom and judge.max_bad_share is None:
        out.append(
            error(
                block.at("maxBadShare"),
                "is required: kind absolute on a custom metric tests the canary's "
                "share of bad requests (badQuery over requestsQuery) against this bound, e.g. 1%",
                "judge-kind",
            )
        )
    elif judge.kind is MetricKind.ABSOLUTE and not custom and not _has_absolute_bound(metric):
        out.append(
            error(
                block.at("kind"),
                "absolute needs the metric's thresholdRange: it tests the canary against that bound",
                "judge-kind",
            )
        )
    if judge.kind in (MetricKind.RATIO, MetricKind.ABSOLUTE) and custom:
        for name, query in (("requestsQuery", judge.requests_query), ("badQuery", judge.bad_query)):
            if not query:
                out.append(
                    error(
                        block.at(name),
                        f"is required: kind {judge.kind.value} on a custom metric counts "
                        "requests and bad requests with requestsQuery and badQuery",
                        "judge-queries",
                    )
                )
    elif judge.kind is None and custom and bool(judge.requests_query) != bool(judge.bad_query):
        given, missing = ("requestsQuery", "badQuery") if judge.requests_query else ("badQuery", "requestsQuery")
        out.append(
            warning(
                block.at(given),
                f"is ignored without {missing}; the metric is judged as scalar "
                "(its own query, rendered for both versions)",
                "judge-queries",
            )
        )
    out += _max_bad_share_rules(metric, block, kind)
    if judge.kind is MetricKind.HISTOGRAM and custom and not judge.buckets_query:
        out.append(
            error(
                block.at("bucketsQuery"),
                "is required: kind histogram on a custom metric reads bucket counts by le from bucketsQuery",
                "judge-queries",
            )
        )
    if judge.buckets_query and kind is not MetricKind.HISTOGRAM:
        out.append(
            warning(
                block.at("bucketsQuery"),
                f"is ignored: only kind histogram reads it, and this metric is judged as {kind.value}",
                "judge-buckets-query",
            )
        )
    if kind is MetricKind.HISTOGRAM and metric.name == REQUEST_DURATION and router is Router.NGINX:
        out.append(
            warning(
                block.at("kind") if judge.kind is not None else block.path,
                f"provider {provider} "
                "exports no latency histogram (only a sum and a count), so request-duration can only be "
                "judged as scalar (its mean)",
                "judge-histogram-data",
            )
        )
    for index, bound in enumerate(judge.bounds):
        if not _is_bound(bound):
            out.append(
                error(
                    block.at("bounds", index),
                    f"must be auto or a latency bound in milliseconds, got {show(bound)}",
                    "judge-bounds",
                )
            )
    if judge.bounds and kind is not MetricKind.HISTOGRAM:
        out.append(
            warning(
                block.at("bounds"),
                f"is ignored: only kind histogram tests latency bounds, and this metric is judged as {kind.value}",
                "judge-bounds",
            )
        )
    if judge.direction and judge.direction.strip().lower() not in DIRECTIONS:
        out.append(
            error(
                block.at("direction"),
                f"must be increase (higher is worse) or decrease (lower is worse), got {show(judge.direction)}",
                "judge-direction",
            )
        )
    return out


def _max_bad_share_rules(metric: CanaryMetric, block: Located[MetricJudge], kind: MetricKind) -> list[Problem]:
    judge = block.value
    if judge.max_bad_share is None:
        return []
    where = block.at("maxBadShare")
    try:
        judge.bad_share_bound()
    except ValueError as err:
        return [error(where, f"{err}, got {show(judge.max_bad_share)}", "judge-max-bad-share")]
    if metric.is_builtin():
        return [
            warning(
                where, f"is ignored: {metric.name} takes its absolute bound from thresholdRange", "judge-max-bad-share"
            )
        ]
    if kind not in (MetricKind.RATIO, MetricKind.ABSOLUTE):
        return [
            warning(
                where,
                f"is ignored: only a metric with requestsQuery and badQuery has a bad share, and "
                f"this one is judged as {kind.value}",
                "judge-max-bad-share",
            )
        ]
    return []


def _effect_rules(block: Located[MetricJudge], default: float) -> list[Problem]:
    """rollbackAt and promoteBelow; `default` is the rollback ratio the metric's test has when rollbackAt.ratio is
    unset."""
    judge = block.value
    out: list[Problem] = []
    rollback, promote = judge.rollback_at, judge.promote_below
    for name, effect in (("rollbackAt", rollback), ("promoteBelow", promote)):
        if effect is None:
            continue
        if effect.ratio is not None and effect.ratio <= 1:
            out.append(
                error(
                    block.at(name, "ratio"),
                    f"must be above 1 (canary/primary: 2 means twice as many bad requests), got {effect.ratio:g}",
                    "judge-effect",
                )
            )
        out += _delta_rules(effect, block.at(name, "delta"))
    if promote is not None and promote.ratio is not None and promote.ratio > 1:
        floor = rollback.ratio if rollback is not None and rollback.ratio is not None else default
        source = (
            "rollbackAt.ratio"
            if rollback is not None and rollback.ratio is not None
            else "the default rollbackAt.ratio"
        )
        if floor > 1 and promote.ratio < floor:
            out.append(
                error(
                    block.at("promoteBelow", "ratio"),
                    f"must be at least {source} ({floor:g}), got "
                    f"{promote.ratio:g}; a canary between the two could be neither rolled back nor "
                    "promoted and would hold until maxHold",
                    "judge-effect",
                )
            )
    return out


def _delta_rules(effect: Effect, path: Path) -> list[Problem]:
    if effect.delta is None:
        return []
    try:
        fraction = percent_fraction(effect.delta)
    except ValueError:
        return [
            error(
                path,
                f"must be a difference in percentage points such as 0.1%, got {show(effect.delta)}",
                "judge-effect",
            )
        ]
    if fraction > 1:
        return [error(path, f"must be at most 100%, got {show(effect.delta)}", "judge-effect")]
    return []


def _is_bound(text: str) -> bool:
    try:
        bound = parse_bound(text)
    except ValueError:
        return False
    return bound is None or bound > 0


def _has_absolute_bound(metric: CanaryMetric, judge: MetricJudge | None = None) -> bool:
    """True when a metric has a bound its absolute test can use: thresholdRange.min of the success rate (below
    100), thresholdRange.max of the duration, or the deprecated threshold; for a custom metric, maxBadShare with
    both count queries."""
    if not metric.is_builtin():
        return (
            judge is not None
            and judge.max_bad_share is not None
            and bool(judge.requests_query)
            and bool(judge.bad_query)
        )
    bounds = metric.threshold_range
    if metric.name == REQUEST_SUCCESS_RATE:
        return (bounds is not None and bounds.min is not None and 0 < bounds.min < 100) or metric.threshold > 0
    if metric.name == REQUEST_DURATION:
        return (bounds is not None and bounds.max is not None and bounds.max > 0) or metric.threshold > 0
    return False


# --- the settings in effect -----------------------------------------------------------------------------------------


def _both_forms_rules(
    spec_analysis: Located[AnalysisJudge] | None,
    annotated: Located[AnalysisJudge] | None,
    spec_metrics: Mapping[str, Located[MetricJudge]],
    annotated_metrics: Mapping[str, list[Located[MetricJudge]]],
) -> list[Problem]:
    out: list[Problem] = []
    if spec_analysis is not None and annotated is not None:
        spec_fields = set(spec_analysis.set_fields())
        for name in annotated.set_fields():
            if name in spec_fields:
                out.append(
                    warning(
                        annotated.at(name),
                        f"is also set in {format_path(spec_analysis.at(name))}, "
                        "which wins (the field in the spec overrides the annotation)",
                        "judge-both-forms",
                    )
                )
    for name, blocks in annotated_metrics.items():
        spec_block = spec_metrics.get(name)
        if spec_block is not None:
            for block in blocks:
                out.append(
                    warning(
                        block.path,
                        f"is ignored: {format_path(spec_block.path)} is set and wins (the whole block)",
                        "judge-both-forms",
                    )
                )
        else:
            for block in blocks[:-1]:
                out.append(
                    warning(
                        block.path,
                        f"is ignored: {format_path(blocks[-1].path)} is also set for this "
                        "metric and wins (the whole block)",
                        "judge-both-forms",
                    )
                )
    return out


def _mode(
    spec_block: Located[AnalysisJudge] | None, annotated: Located[AnalysisJudge] | None, effective: AnalysisJudge | None
) -> tuple[Path | None, JudgeMode]:
    """The mode in effect and the path of the field that sets it (None when nothing does)."""
    for block in (spec_block, annotated):
        if block is not None and "mode" in block.set_fields():
            return block.at("mode"), block.value.mode
    return None, effective.mode if effective is not None else JudgeMode.THRESHOLD


def _judge_off_rules(
    spec_analysis: Located[AnalysisJudge] | None,
    annotated: Located[AnalysisJudge] | None,
    spec_metrics: Mapping[str, Located[MetricJudge]],
    annotated_metrics: Mapping[str, list[Located[MetricJudge]]],
    mode_path: Path | None,
) -> list[Problem]:
    why = (
        f"the judge is off ({format_path(mode_path)} is threshold)"
        if mode_path is not None
        else "the judge is off (mode is threshold unless a judge block sets mode: statistical)"
    )
    out: list[Problem] = []
    for block in (spec_analysis, annotated):
        if block is None:
            continue
        settings = [name for name in block.set_fields() if name != "mode"]
        if settings:
            out.append(warning(block.path, f"sets {', '.join(settings)}, which do nothing: {why}", "judge-off"))
    blocks = [*spec_metrics.values(), *(b for blocks in annotated_metrics.values() for b in blocks)]
    for metric_block in blocks:
        out.append(warning(metric_block.path, f"does nothing: {why}", "judge-off"))
    return out


def _traffic_rules(
    analysis: CanaryAnalysis, base: Path, router: Router, provider: str, judge: AnalysisJudge, mode_path: Path | None
) -> list[Problem]:
    """Statistical mode compares the canary with the primary; that needs both to see the same kind of requests."""
    if judge.baseline is Baseline.NONE:
        return []
    where = mode_path or (*base, "judge")
    advice = "; only absolute tests (thresholdRange) are meaningful here, so set baseline: none"
    strategy = analysis.deployment_strategy()
    if router is Router.KUBERNETES or strategy is DeploymentStrategy.BLUE_GREEN:
        mirrored = analysis.mirror and router in BLUE_GREEN_MIRRORING
        if not mirrored:
            return [
                warning(
                    where,
                    "is statistical in a blue/green release without mirroring: the canary sees "
                    "only the load tester's requests and the primary the users', so their rates are not "
                    "comparable" + advice,
                    "judge-traffic",
                )
            ]
    elif router is Router.APISIX:
        return [
            warning(
                where,
                "is statistical with provider apisix: APISIX labels its metrics by route, and the "
                "canary route carries both versions, so the primary's requests cannot be told apart (the "
                "judge would freeze for want of primary data)" + advice,
                "judge-traffic",
            )
        ]
    elif analysis.match and router in AB_TESTING:
        kind = "an A/B testing" if strategy is DeploymentStrategy.AB_TESTING else "a"
        return [
            warning(
                where,
                f"is statistical in {kind} release that routes by header or cookie "
                f"({format_path((*base, 'match'))}) with provider {provider}: the canary serves one segment "
                "of the users and the primary the others, so their rates are not comparable" + advice,
                "judge-traffic",
            )
        ]
    return []


def _metric_set_rules(
    analysis: CanaryAnalysis, base: Path, judge: AnalysisJudge, blocks: Mapping[str, Located[MetricJudge] | None]
) -> list[Problem]:
    out: list[Problem] = []
    interval_s = analysis.interval_seconds()
    decisive = 0
    for index, metric in enumerate(analysis.metrics):
        where = (*base, "metrics", index)
        block = blocks.get(metric.name)
        if block is None or not block.value.advisory:
            decisive += 1
        # Count queries (built-in, requestsQuery, badQuery, bucketsQuery) cover the time since the previous
        # evaluation; a scalar is the metric's own query over the metric's own interval.
        window = metric.interval_or_default()
        scalar = not metric.is_builtin() and metric_kind(metric, block.value if block else None) is MetricKind.SCALAR
        if window and scalar:
            try:
                window_s = parse_duration(window) / SECOND
            except DurationError:
                window_s = interval_s  # reported by the metric rules
            if window_s < interval_s:
                out.append(
                    warning(
                        (*where, "interval") if metric.interval else where,
                        f"{show(metric.name)} is "
                        f"judged on its own query, whose window ({window}) is shorter than the "
                        f"{interval_s:g}s analysis interval, so the judge would skip the requests in "
                        "between; set interval to the analysis interval",
                        "judge-metric-interval",
                    )
                )
        metric_judge = block.value if block else None
        if (
            not metric.is_builtin()
            and judge.baseline is not Baseline.NONE
            and metric.threshold_range is not None
            and metric_kind(metric, metric_judge) is MetricKind.RATIO
            and metric_judge is not None
            and metric_judge.max_bad_share is None
        ):
            out.append(
                warning(
                    where,
                    f"{show(metric.name)} is judged against the primary only: its thresholdRange "
                    "is Flagger's check (read by onInconclusive: flagger), not a test of the judge. To "
                    "hold the canary to an absolute bound as well, set judge.maxBadShare (its share of "
                    "bad requests, e.g. 1%)",
                    "judge-absolute",
                )
            )
        if not _has_absolute_bound(metric, metric_judge):
            if judge.baseline is Baseline.NONE:
                why = "has no thresholdRange" if metric.is_builtin() else "has no maxBadShare"
                out.append(
                    warning(
                        where,
                        f"{show(metric.name)} {why}; with baseline: none only absolute tests "
                        "run (from the thresholdRange of request-success-rate and request-duration, "
                        "and from maxBadShare of a custom metric with count queries), so nothing tests "
                        "this metric",
                        "judge-absolute",
                    )
                )
            elif metric.name in BUILTIN_METRICS:
                out.append(
                    warning(
                        where,
                        f"{show(metric.name)} has no thresholdRange, so it has no absolute test; "
                        "at low traffic the comparison with the primary rarely gathers enough evidence "
                        "and promotions will mostly wait until maxHold",
                        "judge-absolute",
                    )
                )
    if decisive > MAX_DECISIVE_METRICS:
        out.append(
            warning(
                (*base, "metrics"),
                f"{decisive} metrics decide; the false-rollback budget is split "
                f"across them, so each test needs much stronger evidence. Keep {MAX_DECISIVE_METRICS} "
                "or fewer and mark the rest advisory: true (shown in the ledger, never deciding)",
                "judge-metric-count",
            )
        )
    return out


def _names(analysis: CanaryAnalysis) -> str:
    names = [metric.name for metric in analysis.metrics]
    return ", ".join(names) if names else "none"
