"""A Prometheus (Debian's package) that a test can stop and start again on the same port and storage directory,
scraping the scenario exporter every second: a metrics outage in the middle of a release."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.conftest import scrape_config
from tests.integration.exporter import ScenarioExporter
from tests.integration.receivers import free_port
from tests.integration.servers import _ready


class RestartablePrometheus:
    """`start()`, `stop()`, `start()` again: same URL, same TSDB (the samples before the outage stay queryable)."""

    def __init__(self, exporter: ScenarioExporter) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed (./scripts/test installs it with apt-get)")
        self.binary = binary
        self.work = Path(tempfile.mkdtemp(prefix="serinus-judge-prometheus-"))
        (self.work / "prometheus.yml").write_text(scrape_config(exporter))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.work / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start (or restart) and wait for /-/ready."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while not _ready(f"{self.url}/-/ready"):
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited with {self.proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus did not become ready in {timeout:.0f}s: {self.tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 15 s): the port stops answering."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def tail(self, chars: int = 2000) -> str:
        """The end of Prometheus's own log."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def close(self) -> None:
        """Stop and remove the storage."""
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)
