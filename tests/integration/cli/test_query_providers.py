"""`serinus query` with MetricTemplates on other providers: the template's Secret comes from the --templates file,
the query goes to that provider, and a missing credential or an unreachable provider is a row, not a traceback."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from serinus.cli import main
from tests.integration.fakeapi import FakeApi, fake_api

pytestmark = pytest.mark.integration

__all__ = ["fake_api"]


def _files(tmp_path: Path, address: str, secret: dict[str, str]) -> tuple[Path, Path]:
    canary = tmp_path / "canary.yaml"
    canary.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "service": {"port": 80},
                    "analysis": {
                        "interval": "1m",
                        "threshold": 5,
                        "stepWeight": 10,
                        "metrics": [
                            {
                                "name": "error-rate",
                                "interval": "1m",
                                "templateRef": {"name": "dd-errors"},
                                "thresholdRange": {"max": 1},
                            }
                        ],
                    },
                },
            }
        )
    )
    templates = tmp_path / "templates.yaml"
    templates.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "MetricTemplate",
                    "metadata": {"name": "dd-errors", "namespace": "shop"},
                    "spec": {
                        "provider": {"type": "datadog", "address": address, "secretRef": {"name": "dd"}},
                        "query": "100 * sum:trace.http.request.errors{service:{{ target }},env:{{ namespace }}}"
                        ".as_count()"
                        " / sum:trace.http.request.hits{service:{{ target }}}.as_count()",
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "dd", "namespace": "shop"},
                    "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()},
                },
            ]
        )
    )
    return canary, templates


async def test_query_runs_a_datadog_template_with_its_secret(fake_api: FakeApi, tmp_path: Path) -> None:
    """The rendered Datadog query is sent with the Secret's keys; 0.4 % errors passes `max: 1`; exit 0."""
    fake_api.on("GET", "/api/v1/query", (200, {"status": "ok", "series": [{"pointlist": [[0, 0.4], [1, 3.0]]}]}))
    canary, templates = _files(
        tmp_path, fake_api.url, {"datadog_api_key": "k-SECRET", "datadog_application_key": "a-SECRET"}
    )
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["query", str(canary), "--templates", str(templates), "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.strip())
    assert row["metric"] == "error-rate"
    assert row["value"] == "0.4"
    assert row["verdict"] == "pass"
    assert row["query"].startswith("100 * sum:trace.http.request.errors{service:web,env:shop}")
    call = fake_api.only("GET", "/api/v1/query")
    assert call.params["query"] == row["query"]
    assert call.headers["DD-API-KEY"] == "k-SECRET"


async def test_query_names_a_missing_key_and_exits_1(fake_api: FakeApi, tmp_path: Path) -> None:
    """A Secret without the application key is an error row naming the key (not its neighbour's value)."""
    canary, templates = _files(tmp_path, fake_api.url, {"datadog_api_key": "k-SECRET"})
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["query", str(canary), "--templates", str(templates), "-o", "json"]
    )
    assert result.exit_code == 1
    row = json.loads(result.output.strip())
    assert row["verdict"] == "error"
    assert row["value"] == "datadog: the secret has no datadog_application_key"
    assert "SECRET" not in result.output
    assert fake_api.calls == []
