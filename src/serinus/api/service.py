"""`spec.service`: how the ClusterIP services and the mesh or ingress objects of a Canary are generated."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from serinus.api.base import ApiModel, Crd, Number
from serinus.api.gateway import HTTPRequestMirrorFilter, ParentReference
from serinus.api.istio import CorsPolicy, Headers, HTTPMatchRequest, HTTPRetry, TrafficPolicy

DEFAULT_PORT_NAME = "http"
MESH_GATEWAY = "mesh"


class TrafficDistribution(StrEnum):
    """`spec.trafficDistribution` of the generated services."""

    PREFER_CLOSE = "PreferClose"
    PREFER_SAME_ZONE = "PreferSameZone"
    PREFER_SAME_NODE = "PreferSameNode"


class RewriteType(StrEnum):
    """Gateway API path rewrite kinds."""

    REPLACE_FULL_PATH = "ReplaceFullPath"
    REPLACE_PREFIX_MATCH = "ReplacePrefixMatch"


class HTTPRewrite(ApiModel):
    """Rewrite of the request URI and Authority before forwarding."""

    uri: str = Field(default="", description="New path (or path prefix).")
    authority: str = Field(default="", description="New Authority/Host header.")
    type: str = Field(default="", description="Gateway API rewrite type: ReplaceFullPath or ReplacePrefixMatch.")

    def effective_type(self) -> RewriteType:
        """ReplacePrefixMatch when asked for, otherwise ReplaceFullPath (Flagger's GetType)."""
        if self.type == RewriteType.REPLACE_PREFIX_MATCH:
            return RewriteType.REPLACE_PREFIX_MATCH
        return RewriteType.REPLACE_FULL_PATH


class CustomMetadata(ApiModel):
    """Labels and annotations to put on a generated object."""

    labels: dict[str, str] = Field(default_factory=dict, description="Labels to set.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations to set.")


class UnmanagedMetadata(ApiModel):
    """Label and annotation keys on generated services that Serinus never adds, changes or removes."""

    annotations: list[str] = Field(default_factory=list, description="Annotation keys to leave alone.")
    labels: list[str] = Field(default_factory=list, description="Label keys to leave alone.")


class CanaryService(ApiModel):
    """How the apex, primary and canary services and the router objects are generated (`spec.service`)."""

    name: str = Field(default="", description="Name of the apex service and router objects; targetRef.name if unset.")
    port: Number = Field(description="Port of the generated services.")
    port_name: str = Field(default="", description="Name of the first service port; http if unset.")
    app_protocol: str = Field(default="", description="appProtocol of the first service port (tcp: Istio TCP route).")
    traffic_distribution: TrafficDistribution | None = Field(
        default=None, description="trafficDistribution of the generated services."
    )
    target_port: int | str | None = Field(
        default=None, description="Container port number or name; the service port if unset."
    )
    port_discovery: bool = Field(default=False, description="Add every container port of the target to the services.")
    headless: bool = Field(default=False, description="Generate headless services (clusterIP: None).")
    timeout: str = Field(default="", description="Request timeout of the generated route, e.g. 30s.")
    backend_timeout: str = Field(default="", description="Per-backend request timeout (Gateway API v1 only).")
    mesh_name: str = Field(default="", description="App Mesh mesh name (required by the appmesh provider).")
    backends: list[str] = Field(default_factory=list, description="App Mesh virtual node backends.")
    hosts: list[str] = Field(default_factory=list, description="Hosts of the VirtualService or HTTPRoute.")
    delegation: bool = Field(
        default=False, description="Generate a delegate Istio VirtualService (no hosts, no gateways)."
    )
    match: list[HTTPMatchRequest] = Field(default_factory=list, description="Match conditions of the generated route.")
    retries: HTTPRetry | None = Field(default=None, description="Retry policy of the generated route.")
    rewrite: HTTPRewrite | None = Field(default=None, description="URI and Authority rewrite of the generated route.")
    mirror: list[HTTPRequestMirrorFilter] = Field(
        default_factory=list, description="Gateway API RequestMirror filters added to every rule."
    )
    headers: Headers | None = Field(default=None, description="Header operations of the generated route.")
    gateways: list[str] = Field(
        default_factory=list, description="Istio gateways of the VirtualService; mesh if unset."
    )
    gateway_refs: Annotated[list[ParentReference], Crd(max_items=32)] = Field(
        default_factory=list, description="Parents of the generated HTTPRoute (required by the Gateway API providers)."
    )
    cors_policy: CorsPolicy | None = Field(default=None, description="CORS policy of the generated route.")
    traffic_policy: TrafficPolicy | None = Field(
        default=None, description="Istio traffic policy of the generated DestinationRules."
    )
    apex: CustomMetadata | None = Field(default=None, description="Metadata of the apex service and router objects.")
    primary: CustomMetadata | None = Field(default=None, description="Metadata of the primary service.")
    canary: CustomMetadata | None = Field(default=None, description="Metadata of the canary service.")
    unmanaged_metadata: UnmanagedMetadata | None = Field(
        default=None, description="Metadata keys of generated services that are left alone."
    )

    def port_name_or_default(self) -> str:
        """The name of the first service port: portName, or http."""
        return self.port_name or DEFAULT_PORT_NAME

    def target_port_or_default(self) -> int | str:
        """The container port: targetPort, or the service port."""
        if self.target_port is None or self.target_port in (0, ""):
            return self.port
        return self.target_port

    def gateways_or_default(self) -> list[str]:
        """Istio gateways: the list written, or [mesh] when it is empty."""
        return list(self.gateways) if self.gateways else [MESH_GATEWAY]
