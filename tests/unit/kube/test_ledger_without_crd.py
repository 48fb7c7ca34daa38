"""The operator's ledger on a cluster with Flagger's CRDs only: no CanaryRun type, one warning, no failed step."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from lightkube import ApiError

from serinus.engine.ledger import LedgerTick, Record
from serinus.engine.ports import PortError
from serinus.kube.ledger import KubeLedger
from serinus.kube.memory import MemoryCluster


class FlaggerCrdsOnly(MemoryCluster):
    """The in-memory API answering CanaryRun requests as an API server without that CRD does: a bare 404 page."""

    async def list(self, res: Any, *, namespace: str | None = None, **_: Any) -> AsyncIterator[Any]:
        """404 for CanaryRuns (an async generator, as lightkube's list is)."""
        request = httpx2.Request("GET", f"https://api.test/apis/serinus.io/v1alpha1/namespaces/{namespace}/canaryruns")
        raise httpx2.HTTPStatusError(
            "404 page not found", request=request, response=httpx2.Response(404, text="404 page not found")
        )
        yield  # pragma: no cover - never reached; makes this an async generator


def _tick(seconds: int) -> LedgerTick:
    return LedgerTick(
        canary="web",
        namespace="test",
        uid="u-1",
        revision="r1",
        checksum="c1",
        at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds),
        phase="Progressing",
        weight=10,
        records=(Record("event", type="Normal", message="Advance web.test canary weight 10"),),
    )


async def test_missing_crd_warns_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    """Three steps without the CanaryRun CRD: no exception reaches the engine, and one warning says what to do."""
    ledger = KubeLedger(FlaggerCrdsOnly(namespace="test"))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="serinus.ledger"):
        for i in range(3):
            await ledger.write(_tick(10 * i))
    warnings = [r.getMessage() for r in caplog.records if r.name == "serinus.ledger"]
    assert warnings == ["CanaryRun CRD not installed: no run ledger is kept until it is (deploy/crds/crds.yaml)"]


class Restarting(MemoryCluster):
    """The in-memory API answering CanaryRun lists as an API server whose storage is (re)initializing: 429."""

    async def list(self, res: Any, *, namespace: str | None = None, **_: Any) -> AsyncIterator[Any]:
        """429 with the API server's Status body (an async generator, as lightkube's list is)."""
        request = httpx2.Request("GET", f"https://api.test/apis/serinus.io/v1alpha1/namespaces/{namespace}/canaryruns")
        status = {"kind": "Status", "code": 429, "message": "storage is (re)initializing", "reason": "TooManyRequests"}
        response = httpx2.Response(429, json=status, request=request)
        raise ApiError(request=request, response=response)
        yield  # pragma: no cover - never reached; makes this an async generator


async def test_an_api_server_restarting_is_a_port_error_in_one_line() -> None:
    """A ledger write while the API server restarts raises the engine's PortError naming the run and the server's
    answer (the engine logs it as one line, never a traceback), and the next write reads the runs again."""
    ledger = KubeLedger(Restarting(namespace="test"))  # type: ignore[arg-type]
    with pytest.raises(PortError) as raised:
        await ledger.write(_tick(0))
    assert str(raised.value) == "run ledger of web.test: 429 storage is (re)initializing"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    with pytest.raises(PortError):
        await ledger.write(_tick(10))
