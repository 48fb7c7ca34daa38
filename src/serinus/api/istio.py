"""The Istio types a Canary embeds: match conditions, retries, header operations, CORS and traffic policy.

These are the fields Flagger's CRD keeps; Istio fields the CRD does not declare are dropped by the API server.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field

from serinus.api.base import GO_UINT64, ApiModel, Crd

Int32 = Annotated[int, Crd(format="int32")]


def _required_each(*keys: str) -> list[dict[str, Any]]:
    return [{"required": [key]} for key in keys]


class StringMatch(ApiModel):
    """Match a string exactly, by prefix or by RE2 regex; at most one of the three."""

    crd_extra: ClassVar[Mapping[str, Any]] = {
        "oneOf": [
            {"not": {"anyOf": _required_each("exact", "prefix", "regex")}},
            *_required_each("exact", "prefix", "regex"),
        ]
    }

    exact: str | None = Field(default=None, description="Exact string match.")
    prefix: str | None = Field(default=None, description="Prefix-based match.")
    regex: str | None = Field(default=None, description="RE2 regular expression match.")


class HeaderMatch(StringMatch):
    """An A/B header condition: exactly one of exact, prefix, suffix or regex."""

    crd_extra: ClassVar[Mapping[str, Any]] = {"oneOf": _required_each("exact", "prefix", "suffix", "regex")}

    suffix: str | None = Field(default=None, description="Suffix-based match.")


class OriginMatch(ApiModel):
    """A CORS origin pattern: exactly one of exact, prefix or regex."""

    crd_extra: ClassVar[Mapping[str, Any]] = {"oneOf": _required_each("exact", "prefix", "regex")}

    exact: str | None = Field(default=None, description="Exact origin.")
    prefix: str | None = Field(default=None, description="Origin prefix.")
    regex: str | None = Field(default=None, description="RE2 regular expression for the origin.")


class HTTPMatchRequest(ApiModel):
    """An Istio HTTP match condition (`spec.service.match[]`); all fields of one entry must match."""

    name: str = Field(default="", description="Name of the match, used in access logs.")
    uri: StringMatch | None = Field(default=None, description="URI condition.")
    scheme: StringMatch | None = Field(default=None, description="URI scheme condition.")
    method: StringMatch | None = Field(default=None, description="HTTP method condition.")
    authority: StringMatch | None = Field(default=None, description="HTTP Authority (Host) condition.")
    headers: dict[str, StringMatch] = Field(default_factory=dict, description="Header name -> condition.")
    port: int = Field(default=0, description="Port on the host being addressed; with appProtocol tcp the L4 match.")
    source_labels: dict[str, str] = Field(default_factory=dict, description="Labels of the calling workload.")
    gateways: list[str] = Field(default_factory=list, description="Gateways the condition applies to.")
    query_params: dict[str, StringMatch] = Field(default_factory=dict, description="Query parameter -> condition.")
    ignore_uri_case: bool = Field(default=False, description="Match the URI case-insensitively.")
    without_headers: dict[str, StringMatch] = Field(
        default_factory=dict, description="Header name -> condition that must not match."
    )
    source_namespace: str = Field(default="", description="Namespace of the calling workload.")


class AnalysisMatch(ApiModel):
    """An A/B routing condition (`spec.analysis.match[]`): requests that match go to the canary."""

    headers: dict[str, HeaderMatch] = Field(default_factory=dict, description="Header name -> condition.")
    query_params: dict[str, StringMatch] = Field(default_factory=dict, description="Query parameter -> condition.")
    source_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels of the calling workload (only with the mesh gateway)."
    )


class HTTPRetry(ApiModel):
    """Retry policy of the generated route."""

    attempts: Int32 = Field(default=0, description="Number of retries for a request.")
    per_try_timeout: str = Field(default="", description="Timeout per attempt, e.g. 2s.")
    retry_on: str = Field(default="", description="Conditions that trigger a retry, comma separated.")


class HeaderOperations(ApiModel):
    """Header changes applied to requests or responses."""

    set: dict[str, str] = Field(default_factory=dict, description="Headers to overwrite.")
    add: dict[str, str] = Field(default_factory=dict, description="Headers to append.")
    remove: list[str] = Field(default_factory=list, description="Headers to remove.")


class Headers(ApiModel):
    """Header operations for requests and responses of the generated route."""

    request: HeaderOperations | None = Field(default=None, description="Changes to requests.")
    response: HeaderOperations | None = Field(default=None, description="Changes to responses.")


class CorsPolicy(ApiModel):
    """Cross-origin resource sharing policy of the generated route."""

    allow_origin: list[str] = Field(default_factory=list, description="Origins allowed to make CORS requests.")
    allow_origins: list[OriginMatch] = Field(default_factory=list, description="Origin patterns allowed.")
    allow_methods: list[str] = Field(default_factory=list, description="HTTP methods allowed.")
    allow_headers: list[str] = Field(default_factory=list, description="Request headers allowed.")
    expose_headers: list[str] = Field(default_factory=list, description="Response headers browsers may read.")
    max_age: str = Field(default="", description="How long preflight results may be cached, e.g. 24h.")
    allow_credentials: bool = Field(default=False, description="Allow credentials in CORS requests.")


class H2UpgradePolicy(StrEnum):
    """Whether HTTP/1.1 connections are upgraded to HTTP/2."""

    DEFAULT = "DEFAULT"
    DO_NOT_UPGRADE = "DO_NOT_UPGRADE"
    UPGRADE = "UPGRADE"


class HTTPSettings(ApiModel):
    """HTTP connection pool settings."""

    h2_upgrade_policy: H2UpgradePolicy | None = Field(default=None, description="HTTP/2 upgrade policy.")
    http1_max_pending_requests: Int32 = Field(default=0, description="Max pending HTTP requests to a destination.")
    http2_max_requests: Int32 = Field(default=0, description="Max requests to a backend.")
    idle_timeout: str = Field(default="", description="Idle timeout of upstream pool connections.")
    max_requests_per_connection: Int32 = Field(default=0, description="Max requests per connection.")
    max_retries: Int32 = Field(default=0, description="Max outstanding retries to the destination.")


class ConnectionPoolSettings(ApiModel):
    """Connection pool settings of the destination rules."""

    http: HTTPSettings | None = Field(default=None, description="HTTP connection pool settings.")


class SimpleLB(StrEnum):
    """Istio's simple load balancing algorithms."""

    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_CONN = "LEAST_CONN"
    RANDOM = "RANDOM"
    PASSTHROUGH = "PASSTHROUGH"
    LEAST_REQUEST = "LEAST_REQUEST"


class HTTPCookie(ApiModel):
    """A cookie used as the consistent-hash key."""

    name: str = Field(default="", description="Cookie name.")
    path: str = Field(default="", description="Cookie path.")
    ttl: str = Field(default="", description="Cookie lifetime.")


class ConsistentHashLB(ApiModel):
    """Consistent-hash load balancing: exactly one hash key."""

    http_cookie: HTTPCookie | None = Field(default=None, description="Hash on an HTTP cookie.")
    http_header_name: str | None = Field(default=None, description="Hash on an HTTP header.")
    http_query_parameter_name: str | None = Field(default=None, description="Hash on a query parameter.")
    minimum_ring_size: Annotated[int, GO_UINT64] = Field(
        default=0, description="Minimum number of virtual nodes in the hash ring."
    )
    use_source_ip: bool | None = Field(default=None, description="Hash on the source IP address.")


class LocalityDistribute(ApiModel):
    """Traffic distribution from one locality."""

    from_: str = Field(default="", alias="from", description="Originating locality, '/' separated.")
    to: dict[str, int] = Field(default_factory=dict, description="Upstream locality -> weight.")


class LocalityFailover(ApiModel):
    """Failover from one region to another."""

    from_: str = Field(default="", alias="from", description="Originating region.")
    to: str = Field(default="", description="Destination region.")


class LocalityLbSetting(ApiModel):
    """Locality-aware load balancing."""

    distribute: list[LocalityDistribute] = Field(default_factory=list, description="Weighted distribution.")
    enabled: bool = Field(default=False, description="Enable locality load balancing for this destination.")
    failover: list[LocalityFailover] = Field(default_factory=list, description="Failover regions.")


class LoadBalancerSettings(ApiModel):
    """Load balancing: a simple algorithm or a consistent hash."""

    crd_extra: ClassVar[Mapping[str, Any]] = {
        "oneOf": [
            {"required": ["simple"]},
            {
                "properties": {
                    "consistentHash": {
                        "oneOf": _required_each("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName")
                    }
                },
                "required": ["consistentHash"],
            },
        ]
    }

    simple: SimpleLB | None = Field(default=None, description="Simple load balancing algorithm.")
    consistent_hash: ConsistentHashLB | None = Field(default=None, description="Consistent-hash load balancing.")
    locality_lb_setting: LocalityLbSetting | None = Field(default=None, description="Locality load balancing.")
    warmup_duration_secs: str = Field(default="", description="Warm-up duration of a new endpoint.")


class OutlierDetection(ApiModel):
    """Ejection of unhealthy hosts from the load balancing pool."""

    base_ejection_time: str = Field(default="", description="Minimum ejection duration.")
    consecutive_5xx_errors: int | None = Field(default=None, description="5xx errors before a host is ejected.")
    consecutive_errors: Int32 = Field(default=0, description="Errors before a host is ejected (deprecated).")
    consecutive_gateway_errors: Int32 | None = Field(default=None, description="Gateway errors before ejection.")
    consecutive_local_origin_failures: Int32 | None = Field(
        default=None, description="Locally originated failures before ejection."
    )
    interval: str = Field(default="", description="Time between ejection sweeps.")
    max_ejection_percent: Int32 = Field(default=0, description="Max percentage of hosts that may be ejected.")
    min_health_percent: Int32 = Field(default=0, description="Min percentage of healthy hosts for detection.")
    split_external_local_origin_errors: bool = Field(
        default=False, description="Count local origin failures apart from external errors."
    )


class TLSMode(StrEnum):
    """TLS mode of connections to the upstream."""

    DISABLE = "DISABLE"
    SIMPLE = "SIMPLE"
    MUTUAL = "MUTUAL"
    ISTIO_MUTUAL = "ISTIO_MUTUAL"


class TLSSettings(ApiModel):
    """TLS settings for connections to the upstream service."""

    ca_certificates: str = Field(default="", description="CA certificates file.")
    client_certificate: str = Field(default="", description="Client certificate file (MUTUAL mode).")
    mode: TLSMode | None = Field(default=None, description="TLS mode.")
    private_key: str = Field(default="", description="Client private key file (MUTUAL mode).")
    sni: str = Field(default="", description="SNI presented to the server.")
    subject_alt_names: list[str] = Field(default_factory=list, description="Accepted subject alternative names.")


class TrafficPolicy(ApiModel):
    """Istio traffic policy written to both generated DestinationRules."""

    connection_pool: ConnectionPoolSettings | None = Field(default=None, description="Connection pool settings.")
    load_balancer: LoadBalancerSettings | None = Field(default=None, description="Load balancing settings.")
    outlier_detection: OutlierDetection | None = Field(default=None, description="Outlier detection settings.")
    tls: TLSSettings | None = Field(default=None, description="TLS settings for upstream connections.")
