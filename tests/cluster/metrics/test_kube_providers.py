"""Metric providers that read the Kubernetes API, on the real control plane: keptn (KeptnMetric values and Keptn
Analyses, with Keptn's CRDs) and externalmetrics (the External Metrics API path through the API server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.types import PatchType

from serinus.errors import NoValuesFound, QueryFailed
from serinus.metrics import keptn
from serinus.metrics.registry import ProviderConfig, make_provider
from tests.cluster.controlplane import Cluster
from tests.cluster.metrics.conftest import NAMESPACE

pytestmark = pytest.mark.cluster


@pytest.fixture
async def api(cluster: Cluster, keptn_crds: None) -> AsyncIterator[AsyncClient]:
    """The async client the operator would pass to the providers."""
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=NAMESPACE)
    try:
        yield client
    finally:
        await client.close()


async def _metric(api: AsyncClient, name: str, value: str | None) -> None:
    """A KeptnMetric as Keptn's metrics-operator leaves it: spec as the user wrote it, status.value fetched."""
    kind = keptn.keptn_metric()
    await api.create(
        kind(
            {
                "apiVersion": "metrics.keptn.sh/v1beta1",
                "kind": "KeptnMetric",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "provider": {"name": "prometheus"},
                    "query": "sum(rate(http_requests[1m]))",
                    "fetchIntervalSeconds": 10,
                },
            }
        )
    )
    if value is not None:
        await api.patch(
            kind.Status,
            name,
            {"status": {"value": value, "lastUpdated": "2024-01-01T00:00:00Z"}},
            namespace=NAMESPACE,
            patch_type=PatchType.MERGE,
        )


async def test_keptn_metric_value(api: AsyncClient) -> None:
    """`keptnmetric/<ns>/<name>` reads status.value; a metric not fetched yet is 'no values found'."""
    await _metric(api, "checkout-error-rate", "0.975")
    await _metric(api, "not-fetched-yet", None)
    provider = make_provider(ProviderConfig("keptn"), cluster=api)
    assert await provider.is_online()
    assert await provider.query(f"KeptnMetric/{NAMESPACE}/checkout-error-rate") == 0.975
    with pytest.raises(NoValuesFound, match=r"has no status\.value yet"):
        await provider.query(f"keptnmetric/{NAMESPACE}/not-fetched-yet")
    with pytest.raises(QueryFailed, match=r"NotFound \(HTTP 404\)"):
        await provider.query(f"keptnmetric/{NAMESPACE}/missing")


async def _judge(api: AsyncClient, verdict: bool, seen: list[dict[str, Any]]) -> None:
    """What Keptn's metrics-operator does with a new Analysis: evaluate it and mark it Completed."""
    kind = keptn.analysis()
    judged: set[str] = set()
    while True:
        async for item in api.list(kind, namespace=NAMESPACE):
            name = item.metadata.name
            if name in judged or (item.get("status") or {}).get("state"):
                continue
            try:  # a CRD just installed may take a moment to serve its status subresource everywhere
                await api.patch(
                    kind.Status,
                    name,
                    {"status": {"state": "Completed", "pass": verdict}},
                    namespace=NAMESPACE,
                    patch_type=PatchType.MERGE,
                )
            except ApiError:
                continue
            judged.add(name)
            seen.append(dict(item))
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("verdict", [True, False])
async def test_keptn_analysis_is_created_judged_and_deleted(api: AsyncClient, verdict: bool) -> None:
    """`analysis/<ns>/<definition>/<timeframe>/<args>` creates an Analysis with those fields, waits for Keptn's
    verdict (1 passed, 0 failed) and deletes it."""
    seen: list[dict[str, Any]] = []
    judge = asyncio.create_task(_judge(api, verdict, seen))
    provider = make_provider(ProviderConfig("keptn"), cluster=api)
    try:
        value = await provider.query(f"analysis/{NAMESPACE}/slo-checkout/5m/service=checkout;team=shop")
    finally:
        if judge.done():
            judge.result()  # the stand-in for Keptn's operator must not have crashed
        judge.cancel()
    assert value == (1.0 if verdict else 0.0)
    assert len(seen) == 1
    created = seen[0]
    assert created["metadata"]["name"].startswith("slo-checkout-")
    assert len(created["metadata"]["name"]) == len("slo-checkout-") + 6
    assert created["spec"] == {
        "analysisDefinition": {"name": "slo-checkout"},
        "timeframe": {"recent": "5m"},
        "args": {"service": "checkout", "team": "shop"},
    }
    assert [a async for a in api.list(keptn.analysis(), namespace=NAMESPACE)] == []


async def test_keptn_analysis_that_never_completes_times_out_and_is_cleaned_up(api: AsyncClient) -> None:
    """Without a verdict within the timeout the query fails, saying so, and the Analysis is removed."""
    provider = make_provider(ProviderConfig("keptn"), cluster=api)
    provider.sleep = lambda _: asyncio.sleep(0.01)  # type: ignore[attr-defined]
    with pytest.raises(QueryFailed, match=r"did not complete in 10s \(state 'unset'\)"):
        await provider.query(f"analysis/{NAMESPACE}/never")
    assert [a async for a in api.list(keptn.analysis(), namespace=NAMESPACE)] == []


async def test_external_metrics_without_an_adapter_is_a_failed_query(api: AsyncClient) -> None:
    """Through the real API server, with no external-metrics adapter registered, the query fails with the API
    server's 404 instead of passing or crashing."""
    provider = make_provider(ProviderConfig("externalmetrics"), cluster=api)
    with pytest.raises(QueryFailed, match=r"externalmetrics \(API server\): query failed \(HTTP 404"):
        await provider.query("prod/queue_depth?labelSelector=queue%3Dorders")
