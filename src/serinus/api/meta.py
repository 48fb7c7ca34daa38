"""The part of Kubernetes object metadata that Serinus reads; the rest is kept as it came."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import Field

from serinus.api.base import ApiModel, Time

GROUP = "flagger.app"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"

#: Every field of metav1.ObjectMeta, so `serinus validate` can tell a typo from a field it does not model.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


TOOLKIT_MARKER = "toolkit.fluxcd.io"


def without_toolkit(meta: Mapping[str, str] | None) -> dict[str, str]:
    """Every key except Flux's `*toolkit.fluxcd.io*` ones, which must never be copied to a primary."""
    return {k: v for k, v in (meta or {}).items() if TOOLKIT_MARKER not in k}


def include_by_prefix(meta: Mapping[str, str] | None, prefixes: Iterable[str]) -> dict[str, str]:
    """Keys starting with one of `prefixes` (`*` = all), Flux toolkit keys always excluded."""
    prefixes = list(prefixes)
    out: dict[str, str] = {}
    for key, value in without_toolkit(meta).items():
        if any(p == "*" or (p and key.startswith(p)) for p in prefixes):
            out[key] = value
    return out


class ObjectMeta(ApiModel):
    """Object metadata (metav1.ObjectMeta); fields not named here stay in `model_extra`."""

    name: str = Field(default="", description="Name of the object.")
    namespace: str = Field(default="", description="Namespace of the object.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the object.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of the object.")
    uid: str = Field(default="", description="UID the API server assigned.")
    resource_version: str = Field(default="", description="Resource version, for optimistic concurrency.")
    generation: int = Field(default=0, description="Spec generation.")
    finalizers: list[str] = Field(default_factory=list, description="Finalizers holding the object.")
    deletion_timestamp: Time | None = Field(default=None, description="When deletion was requested.")
    creation_timestamp: Time | None = Field(default=None, description="When the object was created.")
