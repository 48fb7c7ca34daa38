"""Fixtures for the load tester's integration tests: a real server on 127.0.0.1 (in-process, or the installed
console script as a process) and a target that counts hits."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from serinus.loadtester.config import Settings
from serinus.loadtester.server import make_app


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pid_gone(pid: int) -> bool:
    """Whether the process has ended (exited, or a zombie waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def wait_until(check: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Poll `check` every 50 ms until it holds; fail the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus exposition text as {(series name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def payload(
    cmd: str | None = None, *, name: str = "podinfo", namespace: str = "test", **metadata: str
) -> dict[str, Any]:
    """A Flagger webhook payload whose metadata carries cmd (when given) and the other keys."""
    if cmd is not None:
        metadata["cmd"] = cmd
    return {
        "name": name,
        "namespace": namespace,
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": metadata,
    }


@dataclass
class Target:
    """A local HTTP server standing in for podinfo-canary: it records the path of every request."""

    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    """A target server on 127.0.0.1, stopped at the end of the test."""
    port = free_port()
    recorded = Target(f"http://127.0.0.1:{port}/")

    async def hit(request: web.Request) -> web.Response:
        recorded.hits.append(request.path)
        return web.Response(text="podinfo")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", hit)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield recorded
    await runner.cleanup()


StartLoadtester = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_loadtester() -> AsyncIterator[StartLoadtester]:
    """Start in-process load testers on 127.0.0.1 (keyword arguments are Settings); each is stopped at the end."""
    runners: list[web.AppRunner] = []

    async def start(**settings: object) -> str:
        port = free_port()
        runner = web.AppRunner(make_app(Settings(**settings)), access_log=None)  # type: ignore[arg-type]
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def hey_bin() -> str:
    """The path of Debian's `hey`, which scripts/test installs (apt-get install hey)."""
    path = shutil.which("hey")
    if path is None:
        pytest.fail("hey is not installed: run `apt-get install -y hey` (scripts/test does)")
    return path


SCRIPT = Path(sys.executable).parent / "serinus-loadtester"


@dataclass
class ScriptProcess:
    """A serinus-loadtester process on 127.0.0.1: its process, base URL and the file its log goes to."""

    proc: asyncio.subprocess.Process
    base: str
    log: Path

    def log_lines(self) -> list[str]:
        """The log so far, one event a line."""
        return self.log.read_text().splitlines()


StartScript = Callable[..., Awaitable[ScriptProcess]]


@pytest.fixture
async def start_script(tmp_path: Path) -> AsyncIterator[StartScript]:
    """Start the installed console script with the given flags on a free port; each is SIGKILLed (by pid) at the
    end if it still runs."""
    assert SCRIPT.exists(), f"{SCRIPT} is missing: run ./scripts/bootstrap --test"
    started: list[asyncio.subprocess.Process] = []

    async def start(*args: str, env: dict[str, str] | None = None) -> ScriptProcess:
        port = free_port()
        log = tmp_path / f"loadtester-{port}.log"
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                str(SCRIPT),
                "--host=127.0.0.1",
                f"--port={port}",
                *args,
                env={**os.environ, **(env or {})},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient() as http:
            for _ in range(400):
                assert proc.returncode is None, f"serinus-loadtester exited at start: {log.read_text()}"
                try:
                    if (await http.get(base + "/healthz")).text == "OK":
                        return ScriptProcess(proc, base, log)
                except httpx2.TransportError:
                    pass
                await asyncio.sleep(0.05)
        pytest.fail("serinus-loadtester did not answer /healthz within 20s")

    yield start
    for proc in started:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()


def children(pid: int) -> list[int]:
    """The pids of the live processes (zombies included) whose parent is `pid`, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # Fields after the command name, which is in parentheses and may hold spaces: state, ppid, ...
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found
