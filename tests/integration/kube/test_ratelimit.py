"""`serinus run -kubeconfig-qps/-kubeconfig-burst`: the Kubernetes client really spaces its requests to a stand-in
API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube.resources.core_v1 import ConfigMap

from serinus.kube.client import connect
from serinus.kube.ratelimit import set_rate_limit
from tests.integration.fakeapi import Call, FakeApi, fake_api
from tests.integration.kube.test_client import kubeconfig

pytestmark = pytest.mark.integration
__all__ = ["fake_api"]

PATH = "/api/v1/namespaces/default/configmaps/settings"
CONFIGMAP: dict[str, object] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "namespace": "default"},
}


@pytest.fixture
def no_limit_after() -> Iterator[None]:
    """The process-wide limit is set back to none after the test."""
    yield
    set_rate_limit(-1, 0)


async def _arrivals(api: FakeApi, tmp_path: Path, requests: int) -> list[float]:
    """The times at which the server saw `requests` GETs sent all at once, from the first."""
    seen: list[float] = []

    def answer(_: Call) -> tuple[int, dict[str, object]]:
        seen.append(time.monotonic())
        return 200, CONFIGMAP

    api.on("GET", PATH, answer)
    client = connect(kubeconfig(tmp_path, api.url))
    try:
        await asyncio.gather(*(client.get(ConfigMap, "settings", namespace="default") for _ in range(requests)))
    finally:
        await client.close()
    return [t - seen[0] for t in seen]


async def test_requests_beyond_the_burst_are_spaced_at_the_qps(
    fake_api: FakeApi, tmp_path: Path, no_limit_after: None
) -> None:
    """QPS 10 and burst 2: of 6 requests sent at once the server sees 2 at once and the others 0.1 s apart, so the
    last arrives no sooner than 0.4 s after the first."""
    set_rate_limit(10, 2)
    arrivals = await _arrivals(fake_api, tmp_path, 6)
    assert len(arrivals) == 6
    assert arrivals[-1] >= 0.4 - 0.02  # the bucket's schedule, less the timer's granularity
    assert arrivals[3] >= 0.2 - 0.02
