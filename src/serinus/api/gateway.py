"""The Gateway API types a Canary embeds: HTTPRoute parent references and request mirror filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field

from serinus.api.base import ApiModel, Crd

GATEWAY_API_GROUP = "gateway.networking.k8s.io"

_GROUP = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_KIND = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"
_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_SECTION = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

Group = Annotated[str, Crd(pattern=_GROUP, max_length=253, emit_default=True)]
Kind = Annotated[str, Crd(pattern=_KIND, min_length=1, max_length=63, emit_default=True)]
ObjectName = Annotated[str, Crd(min_length=1, max_length=253)]
Namespace = Annotated[str, Crd(pattern=_LABEL, min_length=1, max_length=63)]
SectionName = Annotated[str, Crd(pattern=_SECTION, min_length=1, max_length=253)]
PortNumber = Annotated[int, Crd(format="int32", minimum=1, maximum=65535)]

#: The Gateway API's own rule: a Service backend (core group) must name a port.
SERVICE_BACKEND_PORT_RULE = "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true"


class ParentReference(ApiModel):
    """A Gateway (or, for GAMMA meshes, a Service) the generated HTTPRoute attaches to."""

    group: Group = Field(default=GATEWAY_API_GROUP, description="API group of the parent.")
    kind: Kind = Field(default="Gateway", description="Kind of the parent.")
    namespace: Namespace | None = Field(default=None, description="Namespace of the parent; the route's if unset.")
    name: ObjectName = Field(description="Name of the parent.")
    section_name: SectionName | None = Field(default=None, description="Listener (or port name) of the parent.")
    port: PortNumber | None = Field(default=None, description="Port of the parent to attach to.")


class BackendObjectReference(ApiModel):
    """The backend that receives mirrored requests."""

    crd_extra: ClassVar[Mapping[str, Any]] = {
        "x-kubernetes-validations": [
            {"message": "Must have port for Service reference", "rule": SERVICE_BACKEND_PORT_RULE},
        ]
    }

    group: Group = Field(default="", description="API group of the backend; empty for the core group.")
    kind: Kind = Field(default="Service", description="Kind of the backend.")
    name: ObjectName = Field(description="Name of the backend.")
    namespace: Namespace | None = Field(default=None, description="Namespace of the backend; the route's if unset.")
    port: PortNumber | None = Field(default=None, description="Port of the backend; required for a Service.")


class HTTPRequestMirrorFilter(ApiModel):
    """A RequestMirror filter added to every rule of the generated HTTPRoute (`spec.service.mirror[]`)."""

    backend_ref: BackendObjectReference | None = Field(
        default=None, description="Where to mirror requests; responses from it are dropped."
    )
