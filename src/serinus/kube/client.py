"""Connecting to the cluster, and the start-up checks that tell a user plainly what is missing."""

from __future__ import annotations

from pathlib import Path

import httpx2
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SingleConfig

from serinus.errors import SerinusError
from serinus.kube.resources import AlertProvider, Canary, MetricTemplate

FIELD_MANAGER = "serinus"


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


def connect(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None) -> AsyncClient:
    """An async client that writes as field manager `serinus`."""
    return AsyncClient(load_config(kubeconfig, context), namespace=namespace, field_manager=FIELD_MANAGER)


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
