"""Pydantic models of Flagger's CRDs: Canary, MetricTemplate and AlertProvider (parsing and validation only)."""

from __future__ import annotations

from serinus.api.alert_provider import AlertProvider, AlertProviderSpec, AlertProviderType
from serinus.api.analysis import (
    AlertSeverity,
    CanaryAlert,
    CanaryAnalysis,
    CanaryMetric,
    CanaryWebhook,
    DeploymentStrategy,
    HookType,
    SameSite,
    SessionAffinity,
    ThresholdRange,
)
from serinus.api.canary import Canary, CanarySpec, Provider, ServiceNames
from serinus.api.duration import DurationError, format_duration, parse_duration
from serinus.api.gateway import BackendObjectReference, HTTPRequestMirrorFilter, ParentReference
from serinus.api.istio import AnalysisMatch, HeaderMatch, HTTPMatchRequest, StringMatch, TrafficPolicy
from serinus.api.meta import API_VERSION, GROUP, VERSION, ObjectMeta
from serinus.api.metric_template import MetricProviderType, MetricTemplate, MetricTemplateProvider, MetricTemplateSpec
from serinus.api.refs import AutoscalerKind, AutoscalerRef, CrossNamespaceRef, SecretRef, TargetKind, TargetRef
from serinus.api.service import CanaryService, CustomMetadata, HTTPRewrite
from serinus.api.status import (
    CanaryCondition,
    CanaryConditionType,
    CanaryPhase,
    CanaryStatus,
    ConditionStatus,
    make_promoted_conditions,
    promoted_status,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "AlertProvider",
    "AlertProviderSpec",
    "AlertProviderType",
    "AlertSeverity",
    "AnalysisMatch",
    "AutoscalerKind",
    "AutoscalerRef",
    "BackendObjectReference",
    "Canary",
    "CanaryAlert",
    "CanaryAnalysis",
    "CanaryCondition",
    "CanaryConditionType",
    "CanaryMetric",
    "CanaryPhase",
    "CanaryService",
    "CanarySpec",
    "CanaryStatus",
    "CanaryWebhook",
    "ConditionStatus",
    "CrossNamespaceRef",
    "CustomMetadata",
    "DeploymentStrategy",
    "DurationError",
    "HTTPMatchRequest",
    "HTTPRequestMirrorFilter",
    "HTTPRewrite",
    "HeaderMatch",
    "HookType",
    "MetricProviderType",
    "MetricTemplate",
    "MetricTemplateProvider",
    "MetricTemplateSpec",
    "ObjectMeta",
    "ParentReference",
    "Provider",
    "SameSite",
    "SecretRef",
    "ServiceNames",
    "SessionAffinity",
    "StringMatch",
    "TargetKind",
    "TargetRef",
    "ThresholdRange",
    "TrafficPolicy",
    "format_duration",
    "make_promoted_conditions",
    "parse_duration",
    "promoted_status",
]
