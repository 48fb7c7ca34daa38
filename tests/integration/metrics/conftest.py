"""Metrics test fixtures: a real Prometheus (Debian's package) on 127.0.0.1 with nothing to scrape, for
evaluating PromQL whose answer does not depend on scraped data, and the recording receiver."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.receivers import free_port, receiver

__all__ = ["receiver"]


@pytest.fixture(scope="session")
def bare_prometheus() -> Iterator[str]:
    """Prometheus with an empty scrape configuration; yields its base URL and stops it by PID."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (./scripts/test installs it with apt-get)")
    work = Path(tempfile.mkdtemp(prefix="serinus-prom-"))
    (work / "prometheus.yml").write_text("global:\n  scrape_interval: 1s\nscrape_configs: []\n")
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("prometheus did not become ready in 30s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
