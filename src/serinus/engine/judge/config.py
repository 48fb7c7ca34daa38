"""The statistical judge's settings with every default resolved (docs/judge.md, Settings).

`judge_config` reads a Canary once per run (or per tick; it is cheap) and turns the optional `judge` blocks of the
spec and of the `serinus.io/judge` annotations into plain numbers the tick function can use without looking
anything up: error rates, effect sizes, absolute bounds, the number of FAIL tests that share α, and the Flagger
thresholds needed when `onInconclusive: flagger` has to give Flagger's own verdict at the timeout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from serinus.api.analysis import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    CanaryAnalysis,
    CanaryMetric,
    ThresholdRange,
)
from serinus.api.canary import Canary
from serinus.api.duration import SECOND, parse_duration
from serinus.api.judge import (
    DEFAULTS,
    Baseline,
    Effect,
    EffectDefaults,
    Gate,
    JudgeMode,
    MetricJudge,
    MetricKind,
    OnInconclusive,
    effective_judge,
    parse_bound,
    parse_direction,
)
from serinus.api.judge_kinds import BUILTIN_KINDS, metric_kind
from serinus.engine.thresholds import MetricKind as FlaggerKind

#: the quantile Flagger's latency check reads (p99): the absolute test is "P(latency > max) <= 1 %"
LATENCY_QUANTILE = 0.99
#: prior rate of the beta-mixture confidence sequences (Robbins; Howard et al. 2021): 0.1 % for errors, 1 % for
#: slow requests
ERRORS_PRIOR_RATE = 0.001
LATENCY_PRIOR_RATE = 0.01
_DEFAULT_MAX_HOLD_S = parse_duration(DEFAULTS.max_hold) / SECOND


@dataclass(frozen=True)
class FlaggerCheck:
    """What Flagger's own check of one metric needs: its rule, range and deprecated threshold."""

    kind: FlaggerKind
    threshold_range: ThresholdRange | None
    threshold: float


@dataclass(frozen=True)
class MetricConfig:
    """One metric's tests, with every tolerance resolved.

    kind: ratio (bad events / requests vs the primary), histogram (exceedance of latency bounds vs the primary),
    absolute (the canary's own bad share vs `p_max` only) or scalar (one value per version and interval).
    """

    name: str
    kind: MetricKind
    advisory: bool = False
    #: relative tests (ratio, histogram): rollback at ratio m_fail with difference >= delta_fail, promotion must
    #: rule out ratio m_pass or difference delta_pass (fractions, not percentage points)
    m_fail: float = DEFAULTS.errors.rollback[0]
    delta_fail: float = DEFAULTS.errors.rollback[1]
    m_pass: float = DEFAULTS.errors.promote[0]
    delta_pass: float = DEFAULTS.errors.promote[1]
    #: relative tests exist (False with `baseline: none` or kind absolute)
    relative: bool = True
    #: absolute test on the canary's bad share: P(bad) <= p_max (None: no absolute test)
    p_max: float | None = None
    #: histogram: latency bounds for the exceedance ratio tests, None = auto (the primary's p99 bucket)
    bounds: tuple[float | None, ...] = ()
    #: histogram: the absolute latency bound (thresholdRange.max, in the buckets' unit); p_max is then 1 %
    latency_max: float | None = None
    #: scalar: +1 when a higher canary value is worse, -1 when a lower one is
    direction: int = 1
    scalar_fail_ratio: float = DEFAULTS.scalar.rollback[0]
    scalar_pass_ratio: float = DEFAULTS.scalar.promote[0]
    #: the prior rate of the confidence sequences of the ledger's CI
    prior_rate: float = ERRORS_PRIOR_RATE
    flagger: FlaggerCheck = field(default_factory=lambda: FlaggerCheck(FlaggerKind.CUSTOM, None, 0.0))

    def fail_tests(self) -> int:
        """How many FAIL tests this metric adds to the α split (0 when advisory)."""
        if self.advisory:
            return 0
        if self.kind is MetricKind.SCALAR:
            return 1 if self.relative else 0
        count = 0
        if self.relative:
            count += max(1, len(self.bounds)) if self.kind is MetricKind.HISTOGRAM else 1
        if self.p_max is not None:
            count += 1
        return count


@dataclass(frozen=True)
class JudgeConfig:
    """The run's settings: error rates, gate, timeout policy, and the metrics' tests."""

    metrics: tuple[MetricConfig, ...]
    alpha: float = DEFAULTS.false_rollback_rate  # false-rollback probability over the run, split over the FAIL tests
    beta: float = DEFAULTS.missed_regression_rate  # promoting a canary worse than the tolerance, per metric
    gate: Gate = DEFAULTS.gate
    max_hold_s: float = _DEFAULT_MAX_HOLD_S
    on_inconclusive: OnInconclusive = DEFAULTS.on_inconclusive
    baseline: Baseline = DEFAULTS.baseline
    flagger_threshold: int = 1  # the analysis' failed-check threshold, for onInconclusive: flagger
    #: passing checks Flagger needs to promote (its steps to maxWeight, or iterations); 0 = unknown: then Flagger's
    #: verdict at maxHold counts failed checks over the whole run
    flagger_passes: int = 0

    def fail_tests(self) -> int:
        """The number of decisive FAIL tests that share α (at least 1)."""
        return max(1, sum(metric.fail_tests() for metric in self.metrics))

    def alpha_i(self) -> float:
        """The false-rollback rate of one FAIL test: α / number of FAIL tests (Bonferroni)."""
        return self.alpha / self.fail_tests()


def _rate(value: float | None, default: float, what: str) -> float:
    if value is None:
        return default
    if not 0.0 < value < 1.0:
        raise ValueError(f"judge: {what} must be between 0 and 1, got {value:g}")
    return value


def _effect(effect: Effect | None, default: tuple[float, float], what: str) -> tuple[float, float]:
    ratio, delta = default
    if effect is not None:
        if effect.ratio is not None:
            if not effect.ratio > 1.0:
                raise ValueError(f"judge: {what}.ratio must be above 1, got {effect.ratio:g}")
            ratio = effect.ratio
        fraction = effect.delta_fraction()
        if fraction is not None:
            delta = fraction
    return ratio, delta


def _flagger_check(metric: CanaryMetric) -> FlaggerCheck:
    kind = {REQUEST_SUCCESS_RATE: FlaggerKind.SUCCESS_RATE, REQUEST_DURATION: FlaggerKind.DURATION_MS}.get(
        metric.name, FlaggerKind.CUSTOM
    )
    return FlaggerCheck(kind, metric.threshold_range, metric.threshold)


def _success_rate_min(metric: CanaryMetric) -> float | None:
    if metric.threshold_range is not None:
        return metric.threshold_range.min
    return metric.threshold if metric.threshold > 0 else None


def _duration_max(metric: CanaryMetric) -> float | None:
    if metric.threshold_range is not None:
        return metric.threshold_range.max
    return metric.threshold if metric.threshold > 0 else None


def _effects(judge: MetricJudge, defaults: EffectDefaults) -> tuple[tuple[float, float], tuple[float, float]]:
    """(rollback, promote) as (ratio, delta): the block's rollbackAt and promoteBelow over the defaults."""
    return _effect(judge.rollback_at, defaults.rollback, "rollbackAt"), _effect(
        judge.promote_below, defaults.promote, "promoteBelow"
    )


def _bounds(judge: MetricJudge) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for text in judge.bounds or DEFAULTS.bounds:
        try:
            out.append(parse_bound(text))
        except ValueError:
            raise ValueError(f"judge: bound {text!r} is neither auto nor a number of milliseconds") from None
    return tuple(dict.fromkeys(out))


def _metric_config(metric: CanaryMetric, judge: MetricJudge, baseline: Baseline) -> MetricConfig:
    relative = baseline is Baseline.PRIMARY
    flagger = _flagger_check(metric)
    kind = metric_kind(metric, judge)
    allowed = BUILTIN_KINDS.get(metric.name)
    if allowed is not None:
        latency = metric.name == REQUEST_DURATION
        (m_fail, d_fail), (m_pass, d_pass) = _effects(judge, DEFAULTS.effects(latency, kind))
        if kind is MetricKind.SCALAR and latency:
            return _scalar(metric.name, judge, relative, 1, flagger)
        if kind not in allowed:
            either = " or ".join((", ".join(k.value for k in allowed[:-1]), allowed[-1].value))
            raise ValueError(f"judge: {metric.name} is judged as {either}, not {kind}")
        if kind is MetricKind.ABSOLUTE:
            relative = False
        # the fields both built-in kinds share; each branch adds its bound and prior
        shared = MetricConfig(
            name=metric.name,
            kind=kind,
            advisory=judge.advisory,
            m_fail=m_fail,
            delta_fail=d_fail,
            m_pass=m_pass,
            delta_pass=d_pass,
            relative=relative,
            flagger=flagger,
        )
        if not latency:
            floor = _success_rate_min(metric)
            return replace(
                shared,
                p_max=1.0 - floor / 100.0 if floor is not None and 0.0 < floor < 100.0 else None,
                prior_rate=ERRORS_PRIOR_RATE,
            )
        ceiling = _duration_max(metric)
        latency_max = ceiling if ceiling is not None and ceiling > 0 else None
        return replace(
            shared,
            p_max=1.0 - LATENCY_QUANTILE if latency_max is not None else None,
            bounds=_bounds(judge) if relative else (),
            latency_max=latency_max,
            prior_rate=LATENCY_PRIOR_RATE,
        )
    # custom metrics: ratio when the judge block gives count queries, else scalar (the template's own value)
    has_counts = bool(judge.requests_query and judge.bad_query)
    if kind in (MetricKind.RATIO, MetricKind.ABSOLUTE):
        if not has_counts:
            raise ValueError(f"judge: {metric.name}: kind {kind} needs requestsQuery and badQuery")
        try:
            p_max = judge.bad_share_bound()
        except ValueError as err:
            raise ValueError(f"judge: {metric.name}: maxBadShare {err}, got {judge.max_bad_share!r}") from None
        if kind is MetricKind.ABSOLUTE:
            if p_max is None:
                raise ValueError(f"judge: {metric.name}: kind absolute on a custom metric needs maxBadShare")
            relative = False
        (m_fail, d_fail), (m_pass, d_pass) = _effects(judge, DEFAULTS.effects(False, kind))
        return MetricConfig(
            name=metric.name,
            kind=kind,
            advisory=judge.advisory,
            m_fail=m_fail,
            delta_fail=d_fail,
            m_pass=m_pass,
            delta_pass=d_pass,
            relative=relative,
            p_max=p_max,
            flagger=flagger,
        )
    if kind is MetricKind.HISTOGRAM:
        if not judge.buckets_query:
            raise ValueError(f"judge: {metric.name}: kind histogram needs bucketsQuery")
        (m_fail, d_fail), (m_pass, d_pass) = _effects(judge, DEFAULTS.effects(False, kind))
        return MetricConfig(
            name=metric.name,
            kind=kind,
            advisory=judge.advisory,
            m_fail=m_fail,
            delta_fail=d_fail,
            m_pass=m_pass,
            delta_pass=d_pass,
            relative=relative,
            bounds=_bounds(judge),
            flagger=flagger,
            prior_rate=LATENCY_PRIOR_RATE,
        )
    return _scalar(metric.name, judge, relative, _direction(metric, judge), flagger)


def _scalar(name: str, judge: MetricJudge, relative: bool, direction: int, flagger: FlaggerCheck) -> MetricConfig:
    """A scalar metric: sign tests on canary/primary at rollbackAt.ratio and promoteBelow.ratio."""
    (fail, _), (passed, _) = _effects(judge, DEFAULTS.scalar)
    return MetricConfig(
        name=name,
        kind=MetricKind.SCALAR,
        advisory=judge.advisory,
        relative=relative,
        direction=direction,
        scalar_fail_ratio=fail,
        scalar_pass_ratio=passed,
        flagger=flagger,
    )


def _direction(metric: CanaryMetric, judge: MetricJudge) -> int:
    """+1 when higher is worse. From judge.direction, else inferred: a range with only a min means lower is worse."""
    try:
        direction = parse_direction(judge.direction)
    except ValueError:
        raise ValueError(
            f"judge: {metric.name}: direction must be increase or decrease, not {judge.direction!r}"
        ) from None
    if direction is not None:
        return direction
    rng = metric.threshold_range
    if rng is not None and rng.min is not None and rng.max is None:
        return -1
    return 1


def _max_hold(text: str) -> float:
    if not text:
        return _DEFAULT_MAX_HOLD_S
    seconds = parse_duration(text) / SECOND
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"judge: maxHold must be positive, got {text!r}")
    return seconds


def _flagger_passes(analysis: CanaryAnalysis) -> int:
    """How many passing checks Flagger's own schedule needs before it promotes: `iterations` for A/B and
    blue/green, else one per traffic step up to maxWeight (stepWeights, or maxWeight/stepWeight rounded up)."""
    if analysis.iterations > 0:
        return int(analysis.iterations)
    top = analysis.effective_max_weight()
    if analysis.step_weights:
        return max(1, sum(1 for weight in analysis.step_weights if weight <= top))
    if analysis.step_weight > 0:
        return max(1, math.ceil(top / analysis.step_weight))
    return 1


def judge_config(canary: Canary) -> JudgeConfig | None:
    """The judge settings of a Canary, or None when the judge is off (no judge block in the spec nor the
    annotations, or `mode: threshold`). Raises ValueError for unreadable annotations or impossible settings."""
    analysis = canary.get_analysis()
    if analysis is None:
        return None
    block, per_metric = effective_judge(
        analysis.judge, {m.name: m.judge for m in analysis.metrics}, canary.metadata.annotations
    )
    if block is None or block.mode is not JudgeMode.STATISTICAL:
        return None
    baseline = block.baseline or DEFAULTS.baseline
    metrics = tuple(
        _metric_config(metric, per_metric.get(metric.name) or MetricJudge(), baseline) for metric in analysis.metrics
    )
    return JudgeConfig(
        metrics=metrics,
        alpha=_rate(block.false_rollback_rate, DEFAULTS.false_rollback_rate, "falseRollbackRate"),
        beta=_rate(block.missed_regression_rate, DEFAULTS.missed_regression_rate, "missedRegressionRate"),
        gate=block.gate or DEFAULTS.gate,
        max_hold_s=_max_hold(block.max_hold),
        on_inconclusive=block.on_inconclusive or DEFAULTS.on_inconclusive,
        baseline=baseline,
        flagger_threshold=analysis.effective_threshold(),
        flagger_passes=_flagger_passes(analysis),
    )
