"""The Canary kind: spec, status and the helpers Flagger's Go type offers (names, defaults, strategy)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal, NamedTuple

from pydantic import Field

from serinus.api.analysis import CanaryAnalysis, DeploymentStrategy
from serinus.api.base import ApiModel, Crd, KubeObject, Number
from serinus.api.meta import API_VERSION, ObjectMeta
from serinus.api.refs import AutoscalerRef, IngressRef, RouteRef, TargetRef, UpstreamRef
from serinus.api.service import CanaryService
from serinus.api.status import CanaryStatus

KIND: Final = "Canary"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_MESH_PROVIDER = "istio"


class Provider(StrEnum):
    """Traffic providers a Canary may name (`spec.provider`)."""

    APISIX = "apisix"
    APPMESH = "appmesh"
    APPMESH_V1BETA2 = "appmesh:v1beta2"
    CONTOUR = "contour"
    GATEWAYAPI_V1 = "gatewayapi:v1"
    GATEWAYAPI_V1BETA1 = "gatewayapi:v1beta1"
    GLOO = "gloo"
    ISTIO = "istio"
    KNATIVE = "knative"
    KUBERNETES = "kubernetes"
    KUMA = "kuma"
    LINKERD = "linkerd"
    NGINX = "nginx"
    OSM = "osm"
    SKIPPER = "skipper"
    SMI_V1ALPHA1 = "smi:v1alpha1"
    SMI_V1ALPHA2 = "smi:v1alpha2"
    SMI_V1ALPHA3 = "smi:v1alpha3"
    TRAEFIK = "traefik"


class ServiceNames(NamedTuple):
    """Names of the three generated services."""

    apex: str
    primary: str
    canary: str


class CanarySpec(ApiModel):
    """What to release and how (`spec`)."""

    # The CRD requires analysis; the model does not, because Flagger falls back to canaryAnalysis and treats a
    # Canary with neither as one that skips analysis.
    crd_extra: ClassVar[Mapping[str, Any]] = {"required": ["analysis"]}

    provider: Provider | None = Field(default=None, description="Traffic provider; the operator's default if unset.")
    metrics_server: str = Field(default="", description="Prometheus URL for built-in and inline-query metrics.")
    progress_deadline_seconds: Number | None = Field(
        default=None, description="Seconds the canary or primary may take to make progress; 600 if unset."
    )
    target_ref: TargetRef = Field(description="The workload to release.")
    autoscaler_ref: AutoscalerRef | None = Field(default=None, description="The target's HPA or KEDA ScaledObject.")
    ingress_ref: IngressRef | None = Field(default=None, description="Ingress for the nginx and skipper providers.")
    route_ref: RouteRef | None = Field(default=None, description="ApisixRoute for the apisix provider.")
    upstream_ref: UpstreamRef | None = Field(default=None, description="Gloo Upstream to copy settings from.")
    service: CanaryService | None = Field(default=None, description="How services and router objects are generated.")
    skip_analysis: bool = Field(default=False, description="Promote without analysis.")
    revert_on_deletion: bool = Field(default=False, description="Restore the target and router objects on deletion.")
    suspend: bool = Field(default=False, description="Pause every release of this Canary.")
    analysis: CanaryAnalysis | None = Field(default=None, description="How releases are judged and traffic moved.")
    # Flagger's CRD never declared canaryAnalysis, so the API server drops it; the field exists for objects built
    # in code and for manifests read by `serinus validate`, which warns about it.
    canary_analysis: Annotated[CanaryAnalysis | None, Crd(exclude=True)] = Field(
        default=None, description="Deprecated name of analysis, used when analysis is unset."
    )


class Canary(KubeObject):
    """A Canary (flagger.app/v1beta1): a workload whose releases are analysed and promoted or rolled back."""

    api_version: str = Field(default=API_VERSION, description="flagger.app/v1beta1.")
    kind: Literal["Canary"] = Field(default=KIND, description="Canary.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Object metadata.")
    spec: CanarySpec = Field(description="Desired release behaviour.")
    status: CanaryStatus = Field(default_factory=CanaryStatus, description="Observed state.")

    def get_analysis(self) -> CanaryAnalysis | None:
        """spec.analysis, or the deprecated spec.canaryAnalysis (GetAnalysis)."""
        return self.spec.analysis if self.spec.analysis is not None else self.spec.canary_analysis

    def analysis_or_default(self) -> CanaryAnalysis:
        """The analysis, or an empty one (all Flagger defaults) when neither field is set."""
        return self.get_analysis() or CanaryAnalysis()

    def skip_analysis(self) -> bool:
        """True when spec.skipAnalysis is set or there is no analysis at all (SkipAnalysis)."""
        if self.spec.analysis is None and self.spec.canary_analysis is None:
            return True
        return self.spec.skip_analysis

    def service_names(self) -> ServiceNames:
        """Apex (service.name or targetRef.name), `<apex>-primary` and `<apex>-canary` (GetServiceNames)."""
        apex = self.spec.target_ref.name
        if self.spec.service is not None and self.spec.service.name:
            apex = self.spec.service.name
        return ServiceNames(apex, f"{apex}-primary", f"{apex}-canary")

    def primary_workload_name(self) -> str:
        """The primary workload's name: always `<targetRef.name>-primary`."""
        return f"{self.spec.target_ref.name}-primary"

    def progress_deadline_seconds(self) -> int:
        """spec.progressDeadlineSeconds, or 600 when unset (GetProgressDeadlineSeconds)."""
        deadline = self.spec.progress_deadline_seconds
        return DEFAULT_PROGRESS_DEADLINE_SECONDS if deadline is None else deadline

    def analysis_interval_seconds(self) -> float:
        """The analysis period in seconds (GetAnalysisInterval)."""
        return self.analysis_or_default().interval_seconds()

    def analysis_threshold(self) -> int:
        """Failed checks before rollback (GetAnalysisThreshold)."""
        return self.analysis_or_default().effective_threshold()

    def deployment_strategy(self) -> DeploymentStrategy:
        """canary, blue-green or ab-testing (DeploymentStrategy)."""
        analysis = self.get_analysis()
        return DeploymentStrategy.CANARY if analysis is None else analysis.deployment_strategy()

    def provider_or(self, default: str = DEFAULT_MESH_PROVIDER) -> str:
        """spec.provider, or the operator's mesh provider when unset."""
        return self.spec.provider.value if self.spec.provider is not None else default
