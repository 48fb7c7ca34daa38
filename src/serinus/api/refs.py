"""References from a Canary to other objects: the target, its autoscaler, ingress, route, upstream, templates."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from serinus.api.base import ApiModel, Crd

KNATIVE_SERVING_API_VERSION = "serving.knative.dev/v1"

Replicas = Annotated[int, Crd(minimum=1)]


class TargetKind(StrEnum):
    """Workload kinds a Canary can target. StatefulSet is Serinus's addition; Flagger's CRD stops at Service."""

    DEPLOYMENT = "Deployment"
    DAEMON_SET = "DaemonSet"
    SERVICE = "Service"
    STATEFUL_SET = "StatefulSet"


class AutoscalerKind(StrEnum):
    """Autoscalers whose copy Flagger creates for the primary."""

    HORIZONTAL_POD_AUTOSCALER = "HorizontalPodAutoscaler"
    SCALED_OBJECT = "ScaledObject"


class TargetRef(ApiModel):
    """The workload under management (`spec.targetRef`)."""

    api_version: str = Field(description="API version of the workload, e.g. apps/v1.")
    kind: TargetKind = Field(description="Kind of the workload.")
    name: str = Field(description="Name of the workload, in the Canary's namespace.")

    def is_knative_service(self) -> bool:
        """True for a Knative Service (`serving.knative.dev/v1`, kind `Service`), as Flagger's IsKnativeService."""
        return self.kind == TargetKind.SERVICE and self.api_version == KNATIVE_SERVING_API_VERSION


class ScalerReplicas(ApiModel):
    """Replica bounds that override the target autoscaler's on the primary's copy."""

    min_replicas: Replicas | None = Field(default=None, description="Minimum replicas of the primary autoscaler.")
    max_replicas: Replicas | None = Field(default=None, description="Maximum replicas of the primary autoscaler.")


class AutoscalerRef(ApiModel):
    """The HPA or KEDA ScaledObject of the target (`spec.autoscalerRef`)."""

    api_version: str = Field(description="API version of the autoscaler, e.g. autoscaling/v2.")
    kind: AutoscalerKind = Field(description="Kind of the autoscaler.")
    name: str = Field(description="Name of the autoscaler.")
    primary_scaler_queries: dict[str, str] = Field(
        default_factory=dict,
        description="KEDA trigger name -> query to use on the primary's ScaledObject instead of the rewritten one.",
    )
    primary_scaler_replicas: ScalerReplicas | None = Field(
        default=None, description="Replica bounds for the primary's autoscaler."
    )


class IngressKind(StrEnum):
    """The kind an ingressRef may name."""

    INGRESS = "Ingress"


class IngressRef(ApiModel):
    """The Ingress the nginx and skipper routers copy (`spec.ingressRef`)."""

    api_version: str = Field(description="API version of the Ingress, e.g. networking.k8s.io/v1.")
    kind: IngressKind = Field(description="Kind of the referent: Ingress.")
    name: str = Field(description="Name of the Ingress.")


class RouteKind(StrEnum):
    """The kind a routeRef may name."""

    APISIX_ROUTE = "ApisixRoute"


class RouteRef(ApiModel):
    """The ApisixRoute the apisix router copies (`spec.routeRef`)."""

    api_version: str = Field(description="API version of the ApisixRoute, e.g. apisix.apache.org/v2.")
    kind: RouteKind = Field(description="Kind of the referent: ApisixRoute.")
    name: str = Field(description="Name of the ApisixRoute.")


class UpstreamKind(StrEnum):
    """The kind an upstreamRef may name."""

    UPSTREAM = "Upstream"


class UpstreamRef(ApiModel):
    """The Gloo Upstream whose settings the generated upstreams copy (`spec.upstreamRef`)."""

    api_version: str = Field(description="API version of the Upstream, e.g. gloo.solo.io/v1.")
    kind: UpstreamKind = Field(description="Kind of the referent: Upstream.")
    name: str = Field(description="Name of the Upstream.")
    namespace: str = Field(default="", description="Namespace of the Upstream; Flagger looks it up as written.")


class CrossNamespaceRef(ApiModel):
    """A reference by name that may point into another namespace (metric templates, alert providers)."""

    name: str = Field(description="Name of the referent.")
    namespace: str = Field(default="", description="Namespace of the referent; defaults to the Canary's.")

    def namespace_or(self, default: str) -> str:
        """The referent's namespace, or `default` (the Canary's namespace) when none is written."""
        return self.namespace or default


class SecretRef(ApiModel):
    """A Secret in the same namespace as the object that names it."""

    name: str = Field(description="Name of the Secret.")
