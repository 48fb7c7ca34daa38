"""Connecting to the cluster, and the start-up checks that tell a user plainly what is missing.

Every request of the client `connect` returns is over within `REQUEST_TIMEOUT_S`, its answer included
(serinus.net.DeadlineTransport): lightkube's own timeouts bound each read, so a stalled answer could otherwise
hold a release. A watch has no end to bound; it gets `WATCH_IDLE_S` for each read instead. (The operator's own
watches are kopf's, which gives up a stream after 70 s without an event or bookmark, and bounds its other requests
at 5 minutes.)
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import User

from serinus.errors import SerinusError
from serinus.kube.ratelimit import limited
from serinus.kube.resources import AlertProvider, Canary, MetricTemplate
from serinus.net import DeadlineTransport

FIELD_MANAGER = "serinus"
#: the longest one API request may take, answer included (a large list on a busy API server takes seconds)
REQUEST_TIMEOUT_S = 30.0
#: the longest a watch may stay silent; a watch should ask for bookmarks or a timeoutSeconds below it
WATCH_IDLE_S = 330.0
#: Connections to the API server. No cap, so no request ever waits for a free connection (with httpx's default
#: cap of 100 a burst of ticks queues, and a request waiting past lightkube's 10 s pool timeout fails); up to 64
#: stay open between requests (httpx's default keeps 20, so with more concurrent ticks the rest were closed and
#: each paid a new TLS handshake next time), idle for up to 60 s: past the 10 s to 1 min intervals Canaries tick
#: at, and before kube-apiserver closes an idle connection (90 s), so a request never goes out on one it is closing.
API_CONNECTIONS = httpx2.Limits(max_connections=None, max_keepalive_connections=64, keepalive_expiry=60.0)


class ClusterUnavailable(SerinusError):
    """The cluster cannot be reached, or lacks something Serinus needs; the message says what and how to fix it."""


def load_config(kubeconfig: str | None = None, context: str | None = None) -> SingleConfig:
    """The kubeconfig file given, else in-cluster credentials, else $KUBECONFIG or ~/.kube/config."""
    where = kubeconfig or "in-cluster credentials, $KUBECONFIG or ~/.kube/config"
    try:
        if kubeconfig:
            config = KubeConfig.from_file(Path(kubeconfig).expanduser()).get(context_name=context)
        else:
            config = KubeConfig.from_env().get(context_name=context)
    except Exception as err:  # lightkube raises several types for a missing or malformed config
        raise ClusterUnavailable(f"cannot load Kubernetes credentials from {where}: {err}") from err
    if config is None:
        raise ClusterUnavailable(f"no usable context in {where}")
    return config


def _environment_proxy(server: str) -> str | None:
    """The proxy the environment names for the API server (HTTPS_PROXY, NO_PROXY...), as client-go honours it."""
    parts = urlsplit(server)
    host = parts.hostname or ""
    if not host or urllib.request.proxy_bypass(f"{host}:{parts.port}" if parts.port else host):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def transport_for(
    config: SingleConfig, *, request_timeout_s: float = REQUEST_TIMEOUT_S, watch_idle_s: float = WATCH_IDLE_S
) -> DeadlineTransport:
    """lightkube's connection (the kubeconfig's CA, client certificate and proxy) under serinus.net's deadline.

    httpx uses neither the TLS settings nor the environment's proxy of a client given its own transport, so both
    are set on the transport here."""
    # The user only adds a client certificate here; lightkube itself refuses a context without one.
    verify = verify_cluster(config.cluster, config.user or User(), config.abs_file, trust_env=True)
    inner = httpx2.AsyncHTTPTransport(
        verify=verify, proxy=_environment_proxy(config.cluster.server or ""), limits=API_CONNECTIONS
    )
    return DeadlineTransport(inner, timeout_s=request_timeout_s, idle_s=watch_idle_s)


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    *,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    watch_idle_s: float = WATCH_IDLE_S,
) -> AsyncClient:
    """An async client that writes as field manager `serinus`, each request over within `request_timeout_s`, behind
    the process's rate limit (serinus.kube.ratelimit: --kubeconfig-qps, --kubeconfig-burst)."""
    config = load_config(kubeconfig, context)
    transport = limited(transport_for(config, request_timeout_s=request_timeout_s, watch_idle_s=watch_idle_s))
    return AsyncClient(config, namespace=namespace, field_manager=FIELD_MANAGER, transport=transport)


async def check_crds(client: AsyncClient, namespace: str | None = None) -> None:
    """Fail with a plain message unless Canary, MetricTemplate and AlertProvider can be listed (as Flagger checks)."""
    for resource, kind in ((Canary, "Canary"), (MetricTemplate, "MetricTemplate"), (AlertProvider, "AlertProvider")):
        try:
            async for _ in client.list(resource, namespace=namespace or "*", chunk_size=1):
                break
        except (ApiError, httpx2.HTTPStatusError) as err:
            # A missing resource type answers a bare 404 page, which lightkube passes on as an httpx2 error.
            code = err.status.code if isinstance(err, ApiError) else err.response.status_code
            message = err.status.message if isinstance(err, ApiError) else err.response.text.strip()
            if code == 404:
                raise ClusterUnavailable(
                    f"{kind} CRD is not registered: install the CRDs first "
                    f"(kubectl apply -f deploy/crds/, or the Helm chart)"
                ) from err
            if code == 403:
                raise ClusterUnavailable(
                    f"not allowed to list {kind} objects ({message}); check the ServiceAccount's RBAC"
                ) from err
            raise ClusterUnavailable(f"listing {kind} objects failed: HTTP {code} {message}") from err
        except (httpx2.TransportError, OSError) as err:
            raise ClusterUnavailable(f"cannot reach the Kubernetes API server: {err}") from err
