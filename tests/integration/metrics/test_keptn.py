"""Keptn against a stand-in API server on 127.0.0.1: however the API call fails, the check fails with one of
serinus.errors' MetricsError kinds that names the query, never with an exception no code path expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from serinus.errors import ProviderUnreachable
from serinus.kube.client import connect
from serinus.metrics.keptn import KeptnProvider
from tests.integration.hostile import answering
from tests.integration.kube.test_client import kubeconfig

pytestmark = pytest.mark.integration

QUERY = "keptnmetric/default/latency"


@pytest.mark.parametrize(
    ("status", "body"),
    [(502, b"<html>502 Bad Gateway</html>"), (200, b'{"status": {"value": "1')],
    ids=["proxy-error-page", "truncated-json"],
)
async def test_a_failed_api_call_is_provider_unreachable(tmp_path: Path, status: int, body: bytes) -> None:
    """A proxy's HTML error page or a truncated body from the API server is ProviderUnreachable naming the query."""
    async with answering(status, {"Content-Type": "text/html"}, body) as server:
        client = connect(kubeconfig(tmp_path, server.url))
        try:
            with pytest.raises(ProviderUnreachable) as caught:
                await KeptnProvider(client).query(QUERY)
        finally:
            await client.close()
    assert str(caught.value).startswith("keptn: the Kubernetes API is unreachable (")
    assert str(caught.value).endswith(f"; query: {QUERY}")
