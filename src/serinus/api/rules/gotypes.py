"""Whole numbers Flagger's Go types cannot hold.

Flagger's CRD declares most of its integers as `type: number` without bounds, so the API server stores
`threshold: 1.0e+38` or `port: 99999999999`; Flagger's Go decoder then refuses the whole object. The bound is the
Go field's own: `int32` for most (port, progressDeadlineSeconds, Kubernetes and Istio fields), and 64 bits for the
analysis fields Flagger declares as `int` (pkg/apis/flagger/v1beta1/canary.go), which its amd64 and arm64 builds
hold, so a Canary Flagger runs is never refused here. The models say which: a field wider than int32 carries a
`GoInt` marker (`IntNumber` for Flagger's `int`), so no list here can miss a new field. The fractions and
non-finite numbers are refused earlier, by the schema check; this is the range.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from serinus.api.base import GoInt
from serinus.api.problems import Path, Problem, error

INT32 = (-(2**31), 2**31 - 1)


def _markers(annotation: Any) -> Iterator[Any]:
    """Every Annotated marker in a type, at any depth (`list[IntNumber]`, `IntNumber | None`)."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        yield from meta
        annotation = base
    for arg in typing.get_args(annotation):
        yield from _markers(arg)


def _bounds(info: FieldInfo) -> tuple[int, int]:
    """The range of a field's Go type: its GoInt marker, else int32."""
    marker = next((m for m in (*info.metadata, *_markers(info.annotation)) if isinstance(m, GoInt)), None)
    return INT32 if marker is None else (marker.low, marker.high)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, alone or in a list, a mapping or an Optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for arg in typing.get_args(annotation) if (m := _model_in(arg)) is not None), None)


def bounds_at(model: type[BaseModel], path: Path) -> tuple[int, int]:
    """The range of the Go field at `path` of an object of `model` (`spec.analysis.threshold` of a Canary -> 64
    bits), for errors raised before the object exists (a number too large to decode at all)."""
    info: FieldInfo | None = None
    current: type[BaseModel] | None = model
    for name in (step for step in path if isinstance(step, str)):
        fields = current.model_fields if current is not None else {}
        info = next((f for n, f in fields.items() if (f.alias or n) == name), None)
        if info is None:
            return INT32
        current = _model_in(info.annotation)
    return INT32 if info is None else _bounds(info)


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
                out += _walk(child, (*path, info.alias or name), _bounds(info))
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
