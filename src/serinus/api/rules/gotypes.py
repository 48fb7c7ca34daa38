"""Whole numbers Flagger's Go types cannot hold.

Flagger's CRD declares most of its integers as `type: number` without bounds, so the API server stores
`threshold: 1.0e+38` or `port: 99999999999`; Flagger's Go decoder then refuses the whole object. The bound is the
Go field's own: `int32` for most (port, progressDeadlineSeconds, Kubernetes and Istio fields), and 64 bits for the
analysis fields Flagger declares as `int` (pkg/apis/flagger/v1beta1/canary.go), which its amd64 and arm64 builds
hold, so a Canary Flagger runs is never refused here. The fractions and non-finite numbers are refused earlier,
by the schema check; this is the range.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from serinus.api.analysis import CanaryAnalysis, CanaryWebhook, SessionAffinity
from serinus.api.istio import ConsistentHashLB
from serinus.api.problems import Path, Problem, error

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
#: Fields whose Go type is wider than 32 bits: (model, Python field name) -> (lowest, highest).
_WIDER: dict[tuple[type[BaseModel], str], tuple[int, int]] = {
    (ConsistentHashLB, "minimum_ring_size"): (0, 2**64 - 1),  # Istio's uint64
    # Flagger's `int` fields (CanaryAnalysis, SessionAffinity.MaxAge, CanaryWebhook.Retries)
    **{
        (CanaryAnalysis, name): INT64
        for name in (
            "iterations",
            "mirror_weight",
            "max_weight",
            "step_weight",
            "step_weights",
            "step_weight_promotion",
            "threshold",
            "primary_ready_threshold",
            "canary_ready_threshold",
        )
    },
    (SessionAffinity, "max_age"): INT64,
    (CanaryWebhook, "retries"): INT64,
}


def bounds_at(path: Path) -> tuple[int, int]:
    """The range of the Go field at `path` of a Canary (`spec.analysis.threshold` -> 64 bits), for errors raised
    before the model exists (a number too large to decode at all)."""
    names = [step for step in path if isinstance(step, str)]
    if len(names) >= 3 and names[:2] == ["spec", "analysis"]:
        model: type[BaseModel] | None = CanaryAnalysis
        for name in names[2:]:
            field = (
                next((n for n, info in model.model_fields.items() if (info.alias or n) == name), None)
                if model
                else None
            )
            if model is None or field is None:
                return INT32
            if (model, field) in _WIDER:
                return _WIDER[(model, field)]
            annotation = model.model_fields[field].annotation
            inner = getattr(annotation, "__args__", (annotation,))
            model = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
    return INT32


def go_integer_rules(obj: BaseModel) -> list[Problem]:
    """An error for every whole number of the object's spec outside what its Go field holds."""
    spec = getattr(obj, "spec", None)
    return _walk(spec, ("spec",), INT32) if isinstance(spec, BaseModel) else []


def _walk(value: Any, path: Path, bounds: tuple[int, int]) -> list[Problem]:
    if isinstance(value, BaseModel):
        out: list[Problem] = []
        for name, info in type(value).model_fields.items():
            child = getattr(value, name, None)
            if child is not None:
                wider = _WIDER.get((type(value), name), INT32)
                out += _walk(child, (*path, info.alias or name), wider)
        return out
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _walk(item, (*path, index), bounds)]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _walk(item, (*path, str(key)), bounds)]
    if isinstance(value, int) and not isinstance(value, bool) and not bounds[0] <= value <= bounds[1]:
        low, high = bounds
        return [
            error(
                path,
                f"must be a whole number from {low} to {high}, the range of Flagger's Go field, got {value}",
                "go-integer",
            )
        ]
    return []
