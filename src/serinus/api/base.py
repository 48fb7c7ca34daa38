"""The base of every API model, and the markers that carry CRD schema facts (and Go types) the Python types cannot
say."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainSerializer


def camel(name: str) -> str:
    """snake_case -> camelCase, keeping digits as they are (`consecutive_5xx_errors` -> `consecutive5xxErrors`)."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class ApiModel(BaseModel):
    """A Kubernetes-shaped model: camelCase on the wire, snake_case in Python, unknown fields kept, not dropped.

    Field defaults follow Go's zero values (`""`, `0`, `False`, empty list) where Flagger's Go type is a value,
    and `None` where it is a pointer, because Flagger's code tells "unset" from "zero" only for pointers.
    """

    model_config = ConfigDict(
        alias_generator=camel,
        populate_by_name=True,
        # Unknown fields stay in `model_extra`: `serinus validate` reports them and a round trip keeps them.
        extra="allow",
        validate_assignment=False,
        use_enum_values=False,
    )

    #: Schema keywords added to this model's CRD schema as they are (oneOf, x-kubernetes-validations, ...).
    crd_extra: ClassVar[Mapping[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The wire form, as Go's omitempty writes it: camelCase keys, unset and zero-valued fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True, mode="json")


class KubeObject(ApiModel):
    """Base of the three kinds: `to_dict` always carries apiVersion and kind, even though they are defaults."""

    def to_dict(self) -> dict[str, Any]:
        """The wire form with apiVersion and kind first."""
        head = self.model_dump(by_alias=True, include={"api_version", "kind"}, mode="json")
        return head | {k: v for k, v in super().to_dict().items() if k not in head}


@dataclass(frozen=True)
class Crd:
    """CRD schema facts for one field, read by the CRD generator (pydantic ignores them when validating).

    `type` overrides the JSON type the Python type implies: Flagger declares most integers as `number`.
    `emit_default` writes the field's Python default into the schema as the API server's `default`.
    `exclude` keeps a field of Flagger's Go type out of the CRD (the API server then drops it, as with Flagger's).
    """

    type: str | None = None
    format: str | None = None
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    max_items: int | None = None
    emit_default: bool = False
    exclude: bool = False


def _go_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with whole seconds, as metav1.Time marshals."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: A metav1.Time: any RFC 3339 text in, `2006-01-02T15:04:05Z` out.
Time = Annotated[dt.datetime, PlainSerializer(_go_time, return_type=str), Crd(format="date-time")]


@dataclass(frozen=True)
class GoInt:
    """The range of the Go integer type behind a field wider than `int32`, which every other whole number of a
    spec is; read by `serinus validate` (api/rules/gotypes.py), ignored by pydantic and the CRD generator."""

    low: int
    high: int


#: Flagger's Go `int`, 64 bits on its amd64 and arm64 builds.
GO_INT64 = GoInt(-(2**63), 2**63 - 1)
#: A Go `uint64`.
GO_UINT64 = GoInt(0, 2**64 - 1)

#: An integer that Flagger's CRD declares as `type: number` (an int32 in Flagger's Go type).
Number = Annotated[int, Crd(type="number")]
#: An integer that Flagger's CRD declares as `type: number` and its Go type as `int`.
IntNumber = Annotated[int, Crd(type="number"), GO_INT64]
