"""Helpers for engine tests: Canaries and scenarios in a few words, run on the simulator."""

from __future__ import annotations

from typing import Any

from serinus.api import Canary
from serinus.sim.runner import SimResult, simulate
from serinus.sim.scenario import parse_scenario


def canary(analysis: dict[str, Any], *, provider: str = "istio", **spec: Any) -> Canary:
    """The podinfo Canary in namespace test with this analysis."""
    return Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"interval": "1m", "threshold": 2, **analysis},
                **spec,
            },
        }
    )


def run(c: Canary, scenario: dict[str, Any] | None = None, **kw: Any) -> SimResult:
    """Simulate `c` against `scenario`."""
    return simulate(c, parse_scenario(scenario or {}, c), **kw)


def messages(result: SimResult) -> list[str]:
    """Every event message, in order."""
    return [e.message for e in result.events]


def warnings(result: SimResult) -> list[str]:
    """Every Warning event message, in order."""
    return [e.message for e in result.events if e.type == "Warning"]


def canary_weights(result: SimResult) -> list[int]:
    """The canary weight of every routing change."""
    return [w.canary for w in result.weights]


def at(result: SimResult, message: str) -> float:
    """When an event was first recorded."""
    return next(e.at for e in result.events if e.message == message)


SR = "request-success-rate"
DUR = "request-duration"
BUILTINS = [
    {"name": SR, "thresholdRange": {"min": 99}, "interval": "1m"},
    {"name": DUR, "thresholdRange": {"max": 500}, "interval": "1m"},
]
