"""judge_config: when the judge is on, and the defaults a user gets without writing any number."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.api import Canary
from serinus.api.judge import Baseline, Gate, MetricKind, OnInconclusive
from serinus.engine.judge.config import judge_config
from serinus.engine.thresholds import MetricKind as FlaggerKind

BUILTINS: list[dict[str, Any]] = [
    {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"},
    {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"},
]


def canary(analysis: dict[str, Any], annotations: dict[str, str] | None = None) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "annotations": annotations or {}},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10, **analysis},
            },
        }
    )


def test_judge_is_off_without_a_judge_block_or_in_threshold_mode() -> None:
    """No judge block, or mode threshold, leaves Flagger's rule in charge."""
    assert judge_config(canary({"metrics": BUILTINS})) is None
    assert judge_config(canary({"metrics": BUILTINS, "judge": {"mode": "threshold"}})) is None
    assert judge_config(canary({"metrics": BUILTINS}, {"serinus.io/judge": "mode: threshold"})) is None


def test_defaults_are_5pc_rates_2x_to_roll_back_5x_to_promote_and_80_to_1_per_test() -> None:
    """mode statistical alone: α = β = 5 %, gate maxWeight, maxHold 30 min, onInconclusive flagger, baseline
    primary; success rate: errors 2x/0.1 pp to roll back, 5x/0.5 pp to promote, P(5xx) <= 1 % from min 99;
    duration: auto bound, 2x/0.5 pp, 5x/2 pp, P(> 500 ms) <= 1 %; four FAIL tests share α (80:1 each)."""
    cfg = judge_config(canary({"metrics": BUILTINS, "judge": {"mode": "statistical"}}))
    assert cfg is not None
    assert (cfg.alpha, cfg.beta, cfg.gate, cfg.max_hold_s) == (0.05, 0.05, Gate.MAX_WEIGHT, 1800.0)
    assert (cfg.on_inconclusive, cfg.baseline, cfg.flagger_threshold) == (OnInconclusive.FLAGGER, Baseline.PRIMARY, 5)
    success, latency = cfg.metrics
    assert (success.kind, success.m_fail, success.delta_fail, success.m_pass, success.delta_pass) == (
        MetricKind.RATIO,
        2.0,
        0.001,
        5.0,
        0.005,
    )
    assert success.p_max == pytest.approx(0.01)
    assert success.flagger.kind is FlaggerKind.SUCCESS_RATE
    assert (latency.kind, latency.bounds, latency.latency_max) == (MetricKind.HISTOGRAM, (None,), 500.0)
    assert latency.p_max == pytest.approx(0.01)
    assert (latency.m_fail, latency.delta_fail, latency.m_pass, latency.delta_pass) == (2.0, 0.005, 5.0, 0.02)
    assert cfg.fail_tests() == 4
    assert 1 / cfg.alpha_i() == pytest.approx(80)
    assert cfg.flagger_passes == 5  # Flagger promotes after 5 passing checks: 10 % steps up to 50 %


def test_annotation_switches_the_judge_on_and_the_spec_wins() -> None:
    """The serinus.io/judge annotation (portable to Flagger's CRD) turns it on; a spec field wins over it, field by
    field; per-metric annotations tune one metric."""
    annotations = {
        "serinus.io/judge": "{mode: statistical, maxHold: 10m, onInconclusive: pause}",
        "serinus.io/judge-request-success-rate": "{rollbackAt: {ratio: 3, delta: '0.2%'}}",
    }
    cfg = judge_config(canary({"metrics": BUILTINS, "judge": {"maxHold": "1h"}}, annotations))
    assert cfg is not None
    assert cfg.max_hold_s == 3600.0
    assert cfg.on_inconclusive is OnInconclusive.PAUSE
    assert cfg.metrics[0].m_fail == 3.0
    assert cfg.metrics[0].delta_fail == pytest.approx(0.002)


def test_bad_annotation_is_an_error_the_engine_can_report() -> None:
    """A malformed annotation raises ValueError naming it, instead of silently judging with Flagger's rule."""
    with pytest.raises(ValueError, match=r"serinus\.io/judge"):
        judge_config(canary({"metrics": BUILTINS}, {"serinus.io/judge": "mode: [statistical"}))
    with pytest.raises(ValueError, match=r"rollbackAt\.ratio"):
        judge_config(
            canary(
                {"metrics": BUILTINS, "judge": {"mode": "statistical"}},
                {"serinus.io/judge-request-success-rate": "{rollbackAt: {ratio: 0.5}}"},
            )
        )


def test_legacy_threshold_is_the_success_rate_floor() -> None:
    """The deprecated `threshold: 95` on the success rate means min 95: the absolute test is P(5xx) <= 5 %."""
    metrics = [{"name": "request-success-rate", "threshold": 95}]
    cfg = judge_config(canary({"metrics": metrics, "judge": {"mode": "statistical"}}))
    assert cfg is not None
    assert cfg.metrics[0].p_max == pytest.approx(0.05)


def test_custom_metrics_ratio_with_count_queries_else_scalar_with_direction() -> None:
    """A template with requestsQuery and badQuery gets the ratio test; one without is a scalar, where a range with
    only a min means lower is worse; advisory metrics add no FAIL test."""
    template = {"templateRef": {"name": "t"}}
    metrics = [
        {
            "name": "errors",
            **template,
            "thresholdRange": {"max": 1},
            "judge": {"requestsQuery": "sum(a)", "badQuery": "sum(b)"},
        },
        {"name": "throughput", **template, "thresholdRange": {"min": 100}},
        {"name": "cpu", **template, "thresholdRange": {"max": 2}},
        {"name": "memory", **template, "judge": {"advisory": True}},
    ]
    cfg = judge_config(canary({"metrics": metrics, "judge": {"mode": "statistical", "baseline": "primary"}}))
    assert cfg is not None
    errors, throughput, cpu, memory = cfg.metrics
    assert errors.kind is MetricKind.RATIO
    assert errors.p_max is None
    assert (throughput.kind, throughput.direction) == (MetricKind.SCALAR, -1)
    assert (cpu.kind, cpu.direction) == (MetricKind.SCALAR, 1)
    assert memory.advisory
    assert cfg.fail_tests() == 3


def test_flaggers_schedule_for_the_timeout_verdict() -> None:
    """onInconclusive flagger replays Flagger's run, so the judge knows how many passing checks Flagger needs:
    one per stepWeights entry up to maxWeight, or `iterations` for blue/green."""
    steps = judge_config(
        canary(
            {"metrics": BUILTINS, "judge": {"mode": "statistical"}, "stepWeight": 0, "stepWeights": [1, 5, 25, 50, 80]}
        )
    )
    assert steps is not None
    assert steps.flagger_passes == 5
    blue_green = judge_config(canary({"metrics": BUILTINS, "judge": {"mode": "statistical"}, "iterations": 8}))
    assert blue_green is not None
    assert blue_green.flagger_passes == 8


def test_baseline_none_keeps_only_the_absolute_tests() -> None:
    """baseline none: no comparison with the primary, only P(5xx) <= 1 % and P(> 500 ms) <= 1 %."""
    cfg = judge_config(canary({"metrics": BUILTINS, "judge": {"mode": "statistical", "baseline": "none"}}))
    assert cfg is not None
    assert [m.relative for m in cfg.metrics] == [False, False]
    assert cfg.fail_tests() == 2


def test_custom_metric_gets_an_absolute_test_from_max_bad_share() -> None:
    """maxBadShare gives a custom metric with count queries the absolute test the built-ins take from
    thresholdRange (1 % → p_max 0.01, one more FAIL test); kind absolute keeps only that test, and a bound that is
    not a share is an error naming the field."""

    def custom(**judge: Any) -> dict[str, Any]:
        return {
            "name": "checkout-errors",
            "templateRef": {"name": "t"},
            "thresholdRange": {"max": 1},
            "judge": {"requestsQuery": "sum(r)", "badQuery": "sum(b)", **judge},
        }

    both = judge_config(canary({"metrics": [custom(maxBadShare="1%")], "judge": {"mode": "statistical"}}))
    assert both is not None
    (metric,) = both.metrics
    assert (metric.kind, metric.relative, metric.p_max) == (MetricKind.RATIO, True, 0.01)
    assert both.fail_tests() == 2
    alone = judge_config(
        canary({"metrics": [custom(kind="absolute", maxBadShare="0.5")], "judge": {"mode": "statistical"}})
    )
    assert alone is not None
    assert (alone.metrics[0].kind, alone.metrics[0].relative, alone.metrics[0].p_max) == (
        MetricKind.ABSOLUTE,
        False,
        0.005,
    )
    with pytest.raises(ValueError, match="kind absolute on a custom metric needs maxBadShare"):
        judge_config(canary({"metrics": [custom(kind="absolute")], "judge": {"mode": "statistical"}}))
    with pytest.raises(ValueError, match="maxBadShare must be above 0% and below 100%"):
        judge_config(canary({"metrics": [custom(maxBadShare="100%")], "judge": {"mode": "statistical"}}))
