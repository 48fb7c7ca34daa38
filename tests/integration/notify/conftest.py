"""Local receivers for alert tests: an HTTP server that records what it is sent, and a real Alertmanager."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One recorded request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Recorder:
    """A local HTTP receiver: records every request and answers with `status` after `delay` seconds."""

    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
async def receiver() -> AsyncIterator[Recorder]:
    """An HTTP server on 127.0.0.1 that records requests to any path."""
    port = free_port()
    rec = Recorder(url=f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        rec.requests.append(Received(request.method, request.path_qs, dict(request.headers), await request.read()))
        if rec.delay:
            await asyncio.sleep(rec.delay)
        return web.Response(status=rec.status, text="ok" if rec.status < 300 else "receiver says no")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield rec
    finally:
        await runner.cleanup()


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
