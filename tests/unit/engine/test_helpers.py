"""Pure helpers of the engine: weights, change detection, Go formatting, status setters."""

from __future__ import annotations

import datetime as dt

import pytest

from serinus.api import CanaryAnalysis, CanaryPhase, CanaryStatus
from serinus.engine.changes import canary_checksum, compute_hash, has_config_changed, has_spec_changed
from serinus.engine.gofmt import go_ms, go_value
from serinus.engine.status import synced, with_phase
from serinus.engine.weights import max_weight, next_step_weight
from tests.unit.engine.simkit import canary

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [({}, 100), ({"maxWeight": 50}, 50), ({"stepWeights": [1, 5, 80]}, 80), ({"stepWeights": [10, 120]}, 100)],
)
def test_max_weight(analysis: dict[str, object], expected: int) -> None:
    """maxWeight: the last stepWeight (at most 100), else maxWeight, else 100."""
    assert max_weight(CanaryAnalysis.model_validate(analysis)) == expected


@pytest.mark.parametrize(("weight", "expected"), [(0, 1), (1, 4), (5, 20), (25, 25), (50, 50), (30, 70), (100, 1)])
def test_next_step_weight_with_step_weights(weight: int, expected: int) -> None:
    """stepWeights [1, 5, 25, 50]: the distance to the next listed weight; off the list, the rest to 100."""
    assert next_step_weight(CanaryAnalysis(step_weights=[1, 5, 25, 50]), weight) == expected


def test_spec_change_rules() -> None:
    """First sync, a new hash, and the manual revert to the promoted hash (no change)."""
    assert has_spec_changed(CanaryStatus(), "a")
    status = CanaryStatus(last_applied_spec="b", last_promoted_spec="a")
    assert not has_spec_changed(status, "a")
    assert not has_spec_changed(status, "b")
    assert has_spec_changed(status, "c")


def test_config_change_rules() -> None:
    """No configs and none tracked is no change; new, removed or changed checksums are."""
    assert not has_config_changed(None, None)
    assert has_config_changed({"configmap/a": "1"}, None)
    assert not has_config_changed({"configmap/a": "1"}, {"configmap/a": "1"})
    assert has_config_changed({"configmap/a": "2"}, {"configmap/a": "1"})
    assert has_config_changed({}, {"configmap/a": "1"})


def test_hashes_are_stable_and_look_like_flaggers() -> None:
    """Equal objects hash equal whatever the key order; the text uses Kubernetes' safe alphabet."""
    assert compute_hash({"a": 1, "b": [1, 2]}) == compute_hash({"b": [1, 2], "a": 1})
    assert compute_hash({"a": 1}) != compute_hash({"a": 2})
    assert set(compute_hash({"x": "y"})) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert canary_checksum(CanaryStatus(last_applied_spec="x")) != canary_checksum(CanaryStatus(last_applied_spec="y"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (99, "99"),
        (99.5, "99.5"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (123456, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (0, "0"),
    ],
)
def test_go_value(value: float, text: str) -> None:
    """Go's %v of a float64, as Flagger's event texts print bounds."""
    assert go_value(value) == text


@pytest.mark.parametrize(
    ("ms", "text"), [(800, "800ms"), (1515, "1.515s"), (500, "500ms"), (60000, "1m0s"), (0, "0s"), (250.9, "250ms")]
)
def test_go_ms(ms: float, text: str) -> None:
    """Go's %v of a millisecond Duration."""
    assert go_ms(ms) == text


def test_sync_to_initialized_promotes_the_applied_spec() -> None:
    """SyncStatus(Initialized): lastAppliedSpec = lastPromotedSpec = the hash, Promoted=True."""
    c = canary({"stepWeight": 10})
    status = synced(c, phase=CanaryPhase.INITIALIZED, spec_hash="h1", tracked={"configmap/a": "x"}, now=NOW)
    assert (status.last_applied_spec, status.last_promoted_spec) == ("h1", "h1")
    assert status.tracked_configs == {"configmap/a": "x"}
    assert status.conditions[0].status == "True"
    assert status.conditions[0].message == "Deployment initialization completed."


def test_set_phase_resets_counters_like_flagger() -> None:
    """Finalising resets weight and iterations; WaitingPromotion keeps iterations one short; Promoting keeps both."""
    c = canary({"iterations": 4})
    c.status = CanaryStatus(phase=CanaryPhase.PROGRESSING, canary_weight=30, iterations=4, last_applied_spec="h")
    assert (
        with_phase(c, CanaryPhase.FINALISING, NOW).canary_weight,
        with_phase(c, CanaryPhase.FINALISING, NOW).iterations,
    ) == (0, 0)
    assert with_phase(c, CanaryPhase.WAITING_PROMOTION, NOW).iterations == 3
    promoting = with_phase(c, CanaryPhase.PROMOTING, NOW)
    assert (promoting.canary_weight, promoting.iterations) == (30, 4)
    assert with_phase(c, CanaryPhase.SUCCEEDED, NOW).last_promoted_spec == "h"
