"""Flagger's threshold rules for built-in and custom metrics."""

from __future__ import annotations

import pytest

from serinus.api import ThresholdRange
from serinus.engine.thresholds import MetricKind, describe, within


@pytest.mark.parametrize(
    ("kind", "value", "rng", "threshold", "passes"),
    [
        (MetricKind.SUCCESS_RATE, 99.0, ThresholdRange(min=99), 0, True),
        (MetricKind.SUCCESS_RATE, 98.9, ThresholdRange(min=99), 0, False),
        (MetricKind.DURATION_MS, 500, ThresholdRange(max=500), 0, True),
        (MetricKind.DURATION_MS, 501, ThresholdRange(max=500), 0, False),
        (MetricKind.CUSTOM, 5, ThresholdRange(min=1, max=10), 0, True),
        (MetricKind.CUSTOM, 0.5, ThresholdRange(min=1, max=10), 0, False),
        (MetricKind.CUSTOM, 11, ThresholdRange(min=1, max=10), 0, False),
        (MetricKind.SUCCESS_RATE, 95, None, 99, False),
        (MetricKind.SUCCESS_RATE, 99, None, 99, True),
        (MetricKind.DURATION_MS, 450, None, 500, True),
        (MetricKind.CUSTOM, 3, None, 2, False),
    ],
)
def test_rules(kind: MetricKind, value: float, rng: ThresholdRange | None, threshold: float, passes: bool) -> None:
    """A range bounds the value on both sides; the deprecated threshold is a floor for success rate, else a ceiling."""
    assert within(kind, value, rng, threshold) is passes


def test_descriptions() -> None:
    """Accepted values are described the way a person reads them."""
    assert describe(ThresholdRange(min=99), 0, MetricKind.SUCCESS_RATE) == ">= 99"
    assert describe(ThresholdRange(max=500), 0, MetricKind.DURATION_MS) == "<= 500"
    assert describe(ThresholdRange(min=0.5, max=2), 0, MetricKind.CUSTOM) == "0.5..2"
    assert describe(None, 99, MetricKind.SUCCESS_RATE) == ">= 99"
