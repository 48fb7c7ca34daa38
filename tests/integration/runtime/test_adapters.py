"""Guarded turns every way a Kubernetes API call can fail into the PortError the engine reports as a Warning and
retries, instead of a step fault (traceback, step_error, a failed check) that a blip of the API server does not
deserve."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import ConfigMap

from serinus.engine.ports import PortError
from serinus.kube.client import connect
from serinus.runtime.adapters import Guarded
from tests.integration.hostile import answering
from tests.integration.kube.test_client import kubeconfig

pytestmark = pytest.mark.integration


class Reader:
    """An adapter whose one method reads a ConfigMap."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def read(self) -> ConfigMap:
        """GET the ConfigMap `settings`."""
        return await self.client.get(ConfigMap, "settings", namespace="default")


@pytest.mark.parametrize(
    "body",
    [b'{"kind": "ConfigMap", "metadata": {"name"', b"<html>upstream</html>"],
    ids=["truncated-json", "not-json"],
)
async def test_a_garbled_api_answer_is_a_port_error(tmp_path: Path, body: bytes) -> None:
    """An API server (or a proxy before it) answering 200 with a body that is not a JSON object fails the call
    as a PortError naming the decoding error, as a refused connection does."""
    async with answering(200, {"Content-Type": "application/json"}, body) as server:
        client = connect(kubeconfig(tmp_path, server.url))
        try:
            with pytest.raises(PortError) as caught:
                await Guarded(Reader(client)).read()
        finally:
            await client.close()
    assert caught.value.retriable
    assert "DecodeError" in str(caught.value)
