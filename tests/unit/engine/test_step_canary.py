"""The canary strategy tick by tick: weight sequences, the event sequence of a healthy release and of a
rollback, and when each happens (Flagger's pkg/controller/scheduler.go advanceCanary, runCanary, nextStepWeight and
runPromotionTrafficShift)."""

from __future__ import annotations

from tests.unit.engine.simkit import BUILTINS, DUR, SR, at, canary, canary_weights, messages, run, warnings

NS = "podinfo.test"


def test_healthy_release_has_flaggers_event_sequence() -> None:
    """Initialization, new revision, analysis start, five steps, copy, route back, completion, in order."""
    result = run(canary({"stepWeight": 10, "maxWeight": 50, "metrics": BUILTINS}))
    assert messages(result) == [
        "all the metrics providers are available!",
        f"Initialization done! {NS}",
        f"New revision detected! Scaling up {NS}",
        f"Starting canary analysis for {NS}",
        *[f"Advance {NS} canary weight {w}" for w in (10, 20, 30, 40, 50)],
        f"Copying {NS} template spec to podinfo-primary.{NS.split('.')[1]}",
        "Routing all traffic to primary",
        f"Promotion completed! Scaling down {NS}",
    ]
    assert result.phase == "Succeeded"
    assert canary_weights(result) == [10, 20, 30, 40, 50, 0]
    assert [(a.severity, a.message) for a in result.alerts] == [
        ("info", "New Deployment detected, initialization completed."),
        ("info", "New revision detected, progressing canary analysis."),
        ("info", "Canary analysis completed successfully, promotion finished."),
    ]


def test_step_weight_overshoots_max_weight_as_flagger_does() -> None:
    """stepWeight 20 with maxWeight 50 goes 20, 40, 60, then promotes."""
    assert canary_weights(run(canary({"stepWeight": 20, "maxWeight": 50}))) == [20, 40, 60, 0]


def test_step_weights_are_followed_then_promoted() -> None:
    """stepWeights [1, 5, 25, 50] are the canary weights, then traffic goes back to the primary."""
    assert canary_weights(run(canary({"stepWeights": [1, 5, 25, 50]}))) == [1, 5, 25, 50, 0]


def test_step_weights_up_to_100_stop_there() -> None:
    """stepWeights ending at 100: the canary takes all traffic, then promotion."""
    assert canary_weights(run(canary({"stepWeights": [50, 100]}))) == [50, 100, 0]


def test_step_weight_promotion_moves_traffic_back_in_steps() -> None:
    """stepWeightPromotion 20 after 50%: the primary goes 70, 90, 100."""
    result = run(canary({"stepWeight": 25, "maxWeight": 50, "stepWeightPromotion": 20}))
    assert [w.primary for w in result.weights] == [75, 50, 70, 90, 100]
    assert [m for m in messages(result) if "primary weight" in m] == [
        f"Advance {NS} primary weight {w}" for w in (70, 90, 100)
    ]
    assert result.phase == "Succeeded"


def test_mirroring_mirrors_one_step_before_shifting() -> None:
    """mirror: the first step mirrors with all live traffic on the primary, then the canary gets stepWeight."""
    result = run(canary({"stepWeight": 10, "maxWeight": 20, "mirror": True}))
    assert [(w.canary, w.primary, w.mirrored) for w in result.weights] == [
        (0, 100, True),
        (10, 90, False),
        (20, 80, False),
        (0, 100, False),
    ]


def test_rollback_after_threshold_failed_checks() -> None:
    """Latency above the bound: a Halt per check, rollback one interval after the threshold-th, alert error."""
    result = run(
        canary({"stepWeight": 10, "maxWeight": 50, "threshold": 3, "metrics": BUILTINS}),
        {"metrics": {DUR: [{"at": 0, "value": 100}, {"at": "2m", "value": 1515}]}},
    )
    halt = f"Halt {NS} advancement request duration 1.515s > 500ms"
    assert warnings(result) == [
        halt,
        halt,
        halt,
        f"Rolling back {NS} failed checks threshold reached 3",
        f"Canary failed! Scaling down {NS}",
    ]
    first = next(e.at for e in result.events if e.message == halt)
    assert at(result, f"Canary failed! Scaling down {NS}") == first + 3 * 60
    assert result.phase == "Failed"
    assert result.weights[-1].canary == 0
    assert result.alerts[-1].severity == "error"
    assert result.alerts[-1].message == "Failed checks threshold reached 3"
    assert result.canary.status.failed_checks == 0
    assert result.canary.status.conditions[0].status == "False"


def test_success_rate_text_and_range() -> None:
    """A success rate below its minimum halts with Flagger's percent text."""
    result = run(
        canary({"stepWeight": 50, "threshold": 1, "metrics": BUILTINS}), {"metrics": {SR: [{"at": 0, "value": 97.456}]}}
    )
    assert warnings(result)[0] == f"Halt {NS} advancement success rate 97.46% < 99%"


def test_custom_metric_text() -> None:
    """An inline query above its maximum halts naming the metric, with two decimals and Go's %v for the bound."""
    result = run(
        canary(
            {
                "stepWeight": 50,
                "threshold": 1,
                "metrics": [{"name": "errors", "query": "sum(x)", "thresholdRange": {"max": 0.5}}],
            }
        ),
        {"metrics": {"errors": [{"at": 0, "value": 3}]}},
    )
    assert warnings(result)[0] == f"Halt {NS} advancement errors 3.00 > 0.5"


def test_no_data_halts_without_promoting() -> None:
    """No data for the built-in success rate: Flagger's no-values text naming the metrics provider."""
    result = run(
        canary({"stepWeight": 50, "threshold": 2, "metrics": BUILTINS}), {"metrics": {SR: [{"at": 0, "value": None}]}}
    )
    assert warnings(result)[0] == (
        "Halt advancement no values found for istio metric request-success-rate "
        "probably podinfo.test is not receiving traffic: no values found"
    )
    assert result.phase == "Failed"


def test_second_revision_restarts_the_analysis() -> None:
    """A new revision while Progressing: traffic back to the primary, counters reset, the analysis starts over."""
    result = run(canary({"stepWeight": 10, "maxWeight": 30}), {"revisions": ["0s", "90s"]})
    assert f"New revision detected! Restarting analysis for {NS}" in messages(result)
    restart = at(result, f"New revision detected! Restarting analysis for {NS}")
    assert [w.canary for w in result.weights if w.at <= restart][-1] == 0
    assert result.phase == "Succeeded"
    assert messages(result).count(f"Starting canary analysis for {NS}") == 2
