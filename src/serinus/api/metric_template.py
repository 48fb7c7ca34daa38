"""The MetricTemplate kind: a provider and a query template that canaries reference by name."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import Field

from serinus.api.base import ApiModel, KubeObject
from serinus.api.meta import API_VERSION, ObjectMeta
from serinus.api.refs import SecretRef
from serinus.api.status import ObjectStatus

KIND: Final = "MetricTemplate"


class MetricProviderType(StrEnum):
    """Metric back-ends a MetricTemplate may query."""

    PROMETHEUS = "prometheus"
    INFLUXDB = "influxdb"
    DATADOG = "datadog"
    EXTERNALMETRICS = "externalmetrics"
    STACKDRIVER = "stackdriver"
    CLOUDWATCH = "cloudwatch"
    NEWRELIC = "newrelic"
    GRAPHITE = "graphite"
    DYNATRACE = "dynatrace"
    KEPTN = "keptn"
    SPLUNK = "splunk"
    #: Spinnaker's canary judge; the value is its judgement score (an addition over Flagger)
    KAYENTA = "kayenta"


class MetricTemplateProvider(ApiModel):
    """Where a MetricTemplate's query runs (`spec.provider`)."""

    type: MetricProviderType = Field(description="Metric back-end.")
    address: str = Field(default="", description="API address of the back-end.")
    headers: dict[str, list[str]] = Field(default_factory=dict, description="Extra HTTP headers (Prometheus).")
    secret_ref: SecretRef | None = Field(
        default=None, description="Secret with the credentials, in the template's namespace."
    )
    region: str = Field(default="", description="Region (CloudWatch).")
    insecure_skip_verify: bool = Field(default=False, description="Skip TLS certificate verification.")


class MetricTemplateSpec(ApiModel):
    """A provider and a query (`spec`)."""

    provider: MetricTemplateProvider = Field(description="Where the query runs.")
    query: str = Field(description="Go text/template query; {{ name }}, {{ namespace }}, {{ interval }}, ... ")


class MetricTemplate(KubeObject):
    """A MetricTemplate (flagger.app/v1beta1): a reusable metric query for canary analysis."""

    api_version: str = Field(default=API_VERSION, description="flagger.app/v1beta1.")
    kind: Literal["MetricTemplate"] = Field(default=KIND, description="MetricTemplate.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Object metadata.")
    spec: MetricTemplateSpec = Field(description="Provider and query.")
    status: ObjectStatus = Field(default_factory=ObjectStatus, description="Observed state.")
