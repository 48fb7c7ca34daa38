"""The real `serinus-loadtester` console script: flags and variables, hey against a local server, clean stop."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
import yaml

from tests.integration.loadtester.conftest import Target, free_port, payload, pid_gone, wait_until

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).parent / "serinus-loadtester"


async def _wait_healthy(proc: asyncio.subprocess.Process, base: str) -> None:
    async with httpx2.AsyncClient() as http:
        for _ in range(400):
            assert proc.returncode is None, "serinus-loadtester exited at start"
            try:
                if (await http.get(base + "/healthz")).text == "OK":
                    return
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.05)
    pytest.fail("serinus-loadtester did not answer /healthz within 20s")


@pytest.fixture
async def loadtester_process(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, Path]]:
    """serinus-loadtester as a process on 127.0.0.1 (host and port from its variables), stopped by pid at the end."""
    assert SCRIPT.exists(), f"{SCRIPT} is missing: run ./scripts/bootstrap --test"
    port = free_port()
    log = tmp_path / "loadtester.log"
    env = {
        **os.environ,
        "SERINUS_LOADTESTER_HOST": "127.0.0.1",
        "SERINUS_LOADTESTER_PORT": str(port),
        # One pattern per line, spaces inside patterns kept.
        "SERINUS_LOADTESTER_ALLOW_COMMAND": "hey -n [0-9]+ -c [0-9]+ http://127\\.0\\.0\\.1:[0-9]+/\n"
        f"sleep 60 & echo \\$! > {tmp_path}/child; wait\n",
        "SERINUS_LOADTESTER_DISABLE_BASH": "true",
    }
    with log.open("wb") as sink:
        # Flagger's single-dash spelling of its flags is accepted, so its Deployment args work unchanged.
        proc = await asyncio.create_subprocess_exec(
            str(SCRIPT), "-timeout=30s", "-log-level=info", env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(proc, base)
        yield proc, base, log
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()


async def test_console_script_serves_hey_and_gates_then_stops_cleanly(
    loadtester_process: tuple[asyncio.subprocess.Process, str, Path], target: Target, hey_bin: str, tmp_path: Path
) -> None:
    """The installed script runs hey against the target, enforces its policy, and on SIGTERM kills its commands."""
    proc, base, log = loadtester_process
    async with httpx2.AsyncClient() as http:
        answer = await http.post(base + "/", json=payload(f"hey -n 20 -c 2 {target.url}"))
        assert (answer.status_code, answer.text) == (202, "")
        await wait_until(lambda: len(target.hits) == 20, what="hey's 20 requests")
        await wait_until(lambda: "command finished type=cmd" in log.read_text(), what="hey to end")

        refused = await http.post(base + "/", json=payload("curl http://example.com/\nid"))
        assert refused.status_code == 403
        assert "matches none of the --allow-command patterns" in refused.text
        forged = await http.post(base + "/gate/check", json={"name": "x\n2026-01-01 INFO forged", "namespace": "t"})
        assert forged.status_code == 403
        bash = await http.post(base + "/", json=payload("true", type="bash"))
        assert (bash.status_code, bash.text) == (403, "bash tasks are disabled on this load tester (--disable-bash)")

        assert (await http.post(base + "/gate/open", json={"name": "podinfo", "namespace": "test"})).status_code == 202
        check = await http.post(base + "/gate/check", json=payload(None, type="confirm-promotion"))
        assert (check.status_code, check.text) == (200, "Approved")

        child = tmp_path / "child"
        long = await http.post(base + "/", json=payload(f"sleep 60 & echo $! > {child}; wait"))
        assert long.status_code == 202
        await wait_until(lambda: child.exists() and child.read_text().strip() != "", what="the long command")

    os.kill(proc.pid, signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    await wait_until(lambda: pid_gone(int(child.read_text())), what="the long command to be killed")
    text = log.read_text()
    assert "starting serinus-loadtester" in text
    assert "on 127.0.0.1:" in text
    assert "timeout=30s" in text
    finished = next(line for line in text.splitlines() if "command finished type=cmd" in line)
    assert "exit_status=0" in finished
    assert "20 responses" in finished
    assert "stopping 1 running command(s)" in text
    assert 'exit_status="signal: killed" interrupted=shutdown' in text
    assert text.rstrip().endswith("serinus-loadtester stopped")
    # One line per event: line breaks sent by callers are escaped, never a line of their own.
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", line) for line in text.splitlines())
    assert "x\\n2026-01-01 INFO forged.t gate check: approved false" in text
    assert 'command refused: "curl http://example.com/\\nid" matches none' in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "10"], "use a Go duration such as 30s"),
        (["--timeout", "0s"], "is not a positive duration"),
        (["--namespace-regexp", "("], "is not a regular expression"),
        (["--allow-command", "[a-"], "is not a regular expression"),
        (["--log-level", "loud"], "'loud' is not one of"),
    ],
)
def test_console_script_refuses_bad_flags(args: list[str], message: str) -> None:
    """Bad flag values stop the script before it listens, with exit status 2 and the reason."""
    done = subprocess.run([str(SCRIPT), "--host", "127.0.0.1", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr


def _documented_args() -> list[str]:
    doc = Path(__file__).parents[3] / "docs" / "loadtester.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)
    for block in blocks:
        for document in yaml.safe_load_all(block):
            if isinstance(document, dict) and document.get("kind") == "Deployment":
                (container,) = document["spec"]["template"]["spec"]["containers"]
                assert container["command"] == ["serinus-loadtester"]
                return list(container["args"])
    pytest.fail("docs/loadtester.md has no Deployment example")


async def test_documented_locked_down_configuration_runs_flaggers_hey_and_refuses_the_rest(
    target: Target, hey_bin: str, tmp_path: Path
) -> None:
    """The Deployment args recommended in docs/loadtester.md run Flagger's hey webhook and refuse anything else."""
    port = free_port()
    args = [a for a in _documented_args() if not a.startswith("--port=")]
    log = tmp_path / "loadtester.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            str(SCRIPT), *args, "--host=127.0.0.1", f"--port={port}", stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(proc, base)
        async with httpx2.AsyncClient() as http:
            flagger_hey = payload(f"hey -z 1s -q 5 -c 2 {target.url}", type="cmd")
            assert (await http.post(base + "/", json=flagger_hey)).status_code == 202
            await wait_until(lambda: "command finished type=cmd" in log.read_text(), what="hey to end")
            assert target.hits

            chained = await http.post(base + "/", json=payload(f"hey -z 1s -q 5 -c 2 {target.url}; id"))
            assert chained.status_code == 403
            assert "matches none of the --allow-command patterns" in chained.text
            bash = await http.post(base + "/", json=payload("true", type="bash"))
            assert bash.status_code == 403
            other_namespace = await http.post(
                base + "/", json=payload(flagger_hey["metadata"]["cmd"], namespace="prod")
            )
            assert (other_namespace.status_code, other_namespace.text) == (403, "Forbidden")
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
