"""The `traffic:` block's pydantic models: what they refuse, naming the field, and what they leave to the model."""

from __future__ import annotations

import pytest

from serinus.sim.base import ScenarioError
from serinus.sim.traffic import TrafficModel, parse_spec


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rps": 1, "canary": {"errorRate": None}}, "traffic.canary.errorRate: None is not a number"),
        ({"rps": 1, "seed": None}, "traffic.seed: None is not a whole number >= 0"),
        (
            {"rps": 1, "primary": {"latency": None}},
            "traffic.primary.latency: expected a mapping with median, sigma, tail",
        ),
        ({"rps": 1, "changes": None}, "traffic.changes: expected a list such as [{at: 6m, canary: {errorRate: 0.01}}]"),
        (
            {"rps": 1, "changes": [{"at": "1m", "canary": None}]},
            "traffic.changes[0].canary: expected a mapping with errorDrift, errorRate, latency, sticky",
        ),
        (
            {"rps": 1, "changes": [{"at": "1m", "until": None, "canary": {}}]},
            "traffic.changes[0].until: None is not a time (use a duration such as 90s or 2m)",
        ),
        ({"rps": 1, "gaps": [{"at": "1m", "until": None}]}, "traffic.gaps[0].until: None is not a time"),
    ],
)
def test_an_explicit_null_is_a_mistake_not_a_field_left_out(raw: object, message: str) -> None:
    """`errorRate:` with no value is refused naming the field, as before the models, instead of meaning "unset"."""
    with pytest.raises(ScenarioError) as err:
        parse_spec(raw)
    assert str(err.value).startswith(message)


def test_an_integer_too_large_for_a_float_names_the_field() -> None:
    """A 400-digit rps is refused as not a finite number, where it used to escape as an OverflowError."""
    with pytest.raises(ScenarioError, match=r"^traffic\.rps: 1000+ is not a finite number$"):
        parse_spec({"rps": 10**400})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rps": -1, "canary": {"colour": 1}}, "traffic.rps: -1 must be at least 0"),
        ({"rps": 1, "canary": {"errorRate": 2, "x": 1}}, "traffic.canary: unknown field 'x'"),
        ({"rps": 1, "canary": {"sticky": {"fraction": 2}}}, "traffic.canary.sticky: missing 'size'"),
        ({"rps": 1, "colour": 1, "zeta": 2, "rps2": 3}, "traffic: unknown field 'colour'"),
        (
            {"rps": 1, "changes": [{"at": "2m", "until": "1m", "shared": {"colour": 1}}]},
            "traffic.changes[0].until: must be after 'at'",
        ),
    ],
)
def test_of_several_mistakes_the_first_in_field_order_is_reported(raw: object, message: str) -> None:
    """A block with several mistakes reports the first: unknown and missing keys of a mapping before its values,
    then the fields in the order docs/simulate.md lists them."""
    with pytest.raises(ScenarioError) as err:
        parse_spec(raw)
    assert str(err.value).startswith(message)


def test_where_prefixes_the_field_path() -> None:
    """The benchmark's scenarios name themselves in the message instead of `traffic`."""
    with pytest.raises(ScenarioError, match=r"^scenario flaky\.changes\[1\]\.at: 'soon' is not a time"):
        TrafficModel.parse(
            {"rps": 1, "changes": [{"at": "1m", "canary": {}}, {"at": "soon", "canary": {}}]}, "scenario flaky"
        )


def test_fields_left_out_keep_the_values_in_effect() -> None:
    """A change that sets only the canary's median leaves its error rate and sigma, and the primary, as they were;
    changes are applied in the order of `at`, whatever their order in the file."""
    model = TrafficModel.parse(
        {
            "rps": 10,
            "primary": {"errorRate": 0.01, "latency": {"median": "100ms", "sigma": 0.3}},
            "changes": [
                {"at": "5m", "canary": {"latency": {"median": "300ms"}}},
                {"at": "2m", "until": "4m", "shared": {"errorRate": 0.2}},
            ],
        }
    )
    assert [c.at for c in model.changes] == [120.0, 300.0]
    primary, canary = model.versions_at(360.0)
    assert (primary.error_rate, primary.latency.median_ms, primary.latency.sigma) == (0.01, 100.0, 0.3)
    assert (canary.error_rate, canary.latency.median_ms, canary.latency.sigma) == (0.01, 300.0, 0.3)
    during, _ = model.versions_at(150.0)
    assert during.error_rate == 0.2


def test_the_spec_is_what_was_written() -> None:
    """The checked block keeps the values as written (durations in seconds, latencies in ms) and tells a field
    left out from one set to its default."""
    spec = parse_spec({"rps": 5, "subInterval": "30s", "buckets": ["1ms", 2.5, "1s"], "canary": {"errorRate": 0.001}})
    assert (spec.rps, spec.sub_interval, spec.buckets) == (5.0, 30.0, (1.0, 2.5, 1000.0))
    assert spec.canary.given("error_rate") == 0.001
    assert spec.primary.given("error_rate") is None
