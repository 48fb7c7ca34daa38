"""Shared integration fixtures: a scenario exporter and a real Prometheus (Debian's package) scraping it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.exporter import ScenarioExporter
from tests.integration.receivers import free_port
from tests.integration.servers import running

SCRAPE_INTERVAL_S = 1


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus: its base URL and the exporter it scrapes every second."""

    url: str
    exporter: ScenarioExporter


@pytest.fixture(scope="session")
def exporter() -> Iterator[ScenarioExporter]:
    """One scenario exporter for the session; tests add series with labels of their own."""
    exp = ScenarioExporter().start()
    try:
        yield exp
    finally:
        exp.stop()


def scrape_config(exporter: ScenarioExporter) -> str:
    """A Prometheus-format scrape configuration for the exporter, every second (VictoriaMetrics reads it too, and
    refuses keys it does not know, such as evaluation_interval)."""
    return (
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
        f"scrape_configs:\n  - job_name: scenario\n    static_configs:\n"
        f"      - targets: ['{exporter.target}']\n"
    )


@pytest.fixture(scope="session")
def prometheus(exporter: ScenarioExporter) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port, temporary storage, scraping the exporter every second."""
    port = free_port()

    def args(work: Path) -> list[str]:
        (work / "prometheus.yml").write_text(scrape_config(exporter))
        return [
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]

    url = f"http://127.0.0.1:{port}"
    with running("prometheus", ("prometheus",), args, f"{url}/-/ready"):
        yield Prometheus(url, exporter)


@pytest.fixture(scope="session")
def victoria_metrics(exporter: ScenarioExporter) -> Iterator[Prometheus]:
    """VictoriaMetrics (Debian's package), which speaks Prometheus's query API, scraping the same exporter.

    Its default 30 s latency offset hides fresh samples from instant queries; tests want them after a second.
    """
    port = free_port()

    def args(work: Path) -> list[str]:
        (work / "scrape.yml").write_text(scrape_config(exporter))
        return [
            f"-promscrape.config={work / 'scrape.yml'}",
            f"-storageDataPath={work / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=1d",
            "-search.latencyOffset=1s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]

    url = f"http://127.0.0.1:{port}"
    with running("victoria-metrics", ("victoria-metrics",), args, f"{url}/health"):
        yield Prometheus(url, exporter)
