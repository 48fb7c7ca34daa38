"""The Kubernetes client against a stand-in API server on 127.0.0.1: a request ends within its deadline however
slowly the server answers; a watch is not cut by that deadline, but a watch silent for its idle timeout is."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest
import yaml
from lightkube.resources.core_v1 import ConfigMap

from serinus.errors import DeadlineExceeded
from serinus.kube.client import connect
from tests.integration.hostile import drip, streaming

pytestmark = pytest.mark.integration

#: slack for a loaded 2-core machine; before the fix a stalled answer held a request for as long as it dripped
MARGIN_S = 2.0


def kubeconfig(tmp_path: Path, server: str) -> str:
    """A kubeconfig whose cluster is `server`, with a bearer token."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


async def test_a_stalled_answer_ends_at_the_request_deadline(tmp_path: Path) -> None:
    """An API server dripping its answer one byte every 0.5 s fails a GET at the 1 s deadline, naming the request."""
    async with drip(head_too=False) as server:
        client = connect(kubeconfig(tmp_path, server.url), request_timeout_s=1.0)
        started = time.monotonic()
        try:
            with pytest.raises(DeadlineExceeded) as caught:
                await client.get(ConfigMap, "settings", namespace="default")
        finally:
            await client.close()
        elapsed = time.monotonic() - started
    assert str(caught.value) == "GET /api/v1/namespaces/default/configmaps/settings: no complete answer in 1s"
    assert isinstance(caught.value, TimeoutError)  # what code riding out API blips already catches
    assert elapsed < 1.0 + MARGIN_S


async def test_a_watch_outlives_the_request_deadline_until_it_falls_silent(tmp_path: Path) -> None:
    """A watch delivering an event every 0.3 s runs past the 0.5 s request deadline; once silent for the 1.5 s idle
    timeout it is given up with a ReadTimeout, which lightkube's watch error handling knows."""
    events = [
        json.dumps(
            {
                "type": "ADDED",
                "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}", "namespace": "x"}},
            }
        ).encode()
        for i in range(5)
    ]
    async with streaming(events, every_s=0.3) as server:
        client = connect(kubeconfig(tmp_path, server.url), request_timeout_s=0.5, watch_idle_s=1.5)
        seen: list[str | None] = []

        async def watch() -> None:
            async for _, obj in client.watch(ConfigMap, namespace="default"):
                seen.append(obj.metadata.name if obj.metadata else "")

        try:
            with pytest.raises(httpx2.ReadTimeout, match=r"no data on the stream for 1.5s"):
                await watch()
        finally:
            await client.close()
    assert seen == ["cm0", "cm1", "cm2", "cm3", "cm4"]
