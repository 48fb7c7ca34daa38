"""Start a real server binary on 127.0.0.1 for a test, wait until it is ready, and stop it by its PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest


def _ready(url: str) -> bool:
    try:
        if url.startswith("tcp://"):
            host, _, port = url.removeprefix("tcp://").rpartition(":")
            with socket.create_connection((host, int(port)), timeout=1):
                return True
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@contextmanager
def running(
    name: str,
    candidates: tuple[str, ...],
    args: Callable[[Path], list[str]],
    ready_url: str,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    prepare: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Run the first installed binary of `candidates` with `args(workdir)`; yield its work directory once
    `ready_url` answers 200 (or, for `tcp://host:port`, accepts a connection). `prepare(workdir)` writes config
    first; `env` is added to the environment. Fails the test (never skips) when the binary is missing or does not
    come up."""
    binary = next((path for c in candidates if (path := shutil.which(c))), None)
    if binary is None:
        pytest.fail(f"{name} is not installed (./scripts/test installs it with apt-get)")
    work = Path(tempfile.mkdtemp(prefix=f"serinus-{name}-"))
    if prepare is not None:
        prepare(work)
    log_path = work / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, *args(work)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            if _ready(ready_url):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not become ready in {timeout:.0f}s: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield work
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(work, ignore_errors=True)
