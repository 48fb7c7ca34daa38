"""The part of Kubernetes object metadata that Serinus reads; the rest is kept as it came."""

from __future__ import annotations

from pydantic import Field

from serinus.api.base import ApiModel, Time

GROUP = "flagger.app"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"

#: Every field of metav1.ObjectMeta, so `serinus validate` can tell a typo from a field it does not model.
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields",
})


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
