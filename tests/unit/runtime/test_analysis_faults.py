"""The operator's tick never raises: when the API server cannot even be read, the failure is logged and counted
in serinus_analysis_errors_total{reason="tick_error"}, and the scheduler's loop carries on."""

from __future__ import annotations

import logging
import socket

import pytest
from lightkube import AsyncClient, KubeConfig

from serinus.runtime.analysis import ClusterAnalysis
from serinus.runtime.metrics import ControllerMetrics
from serinus.runtime.options import OperatorOptions


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_tick_whose_api_server_is_gone_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """Reading the Canary fails with a connection error: the tick returns, the log names the Canary, and the
    error counter goes up once per tick."""
    config = KubeConfig.from_dict(
        {
            "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{_closed_port()}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
            "current-context": "gone",
        }
    )
    client = AsyncClient(config)
    metrics = ControllerMetrics()
    analysis = ClusterAnalysis(client, OperatorOptions(), metrics)
    try:
        with caplog.at_level(logging.ERROR, logger="serinus.canary"):
            assert await analysis(("test", "podinfo")) is None
            assert await analysis(("test", "podinfo")) is None
    finally:
        await client.close()
    counted = metrics.registry.get_sample_value(
        "serinus_analysis_errors_total", {"name": "podinfo", "namespace": "test", "reason": "tick_error"}
    )
    assert counted == 2
    assert "analysis tick failed" in caplog.text
