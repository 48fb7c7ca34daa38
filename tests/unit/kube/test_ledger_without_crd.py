"""The operator's ledger on a cluster with Flagger's CRDs only: no CanaryRun type, one warning, no failed step."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from serinus.engine.ledger import LedgerTick, Record
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
