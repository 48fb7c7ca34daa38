"""Typed reads of Optional values, lightkube's model fields above all, for tests of any tier that would fail on a
missing one anyway."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from lightkube.models.core_v1 import PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet

T = TypeVar("T")


class _ToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> ObjectMeta | None: ...


def present(value: T | None) -> T:
    """`value`, asserted not None (lightkube declares every field Optional, the API server fills most)."""
    assert value is not None
    return value


def meta(obj: _HasMetadata) -> ObjectMeta:
    """The object's metadata, which every object read from the API server has."""
    return present(obj.metadata)


def pod_spec(workload: Deployment | DaemonSet | StatefulSet) -> PodSpec:
    """The pod spec of a workload's template."""
    spec = workload.spec
    assert spec is not None
    return present(spec.template.spec)


def as_dict(obj: _ToDict) -> dict[str, Any]:
    """`obj.to_dict()`, typed: lightkube's generic resources leave `to_dict` unannotated."""
    return obj.to_dict()
