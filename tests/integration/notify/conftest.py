"""Alert test fixtures: the recording receiver and a real Alertmanager."""

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
def alertmanager() -> Iterator[str]:
    """Debian's prometheus-alertmanager on 127.0.0.1 (clustering off, temporary storage); yields its base URL."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is not installed (./scripts/test installs it with apt-get)")
    work = Path(tempfile.mkdtemp(prefix="serinus-alertmanager-"))
    config = work / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\n  group_wait: 0s\nreceivers:\n  - name: blackhole\n")
    port = free_port()
    log = (work / "alertmanager.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={work / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"alertmanager exited: {(work / 'alertmanager.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("alertmanager did not become ready in 30s")
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
