"""`cmd` tasks run in the background: real `hey` loads a local server, and a running command is never doubled."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx2
import pytest
from aiohttp import web

from serinus.loadtester.config import Settings
from serinus.loadtester.server import make_app
from tests.integration.loadtester.conftest import (
    StartLoadtester,
    Target,
    free_port,
    payload,
    pid_gone,
    samples,
    wait_until,
)

pytestmark = pytest.mark.integration


async def _metrics(http: httpx2.AsyncClient, base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples((await http.get(f"{base}/metrics")).text)


def _count(got: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, task_type: str = "cmd") -> float:
    return got.get((name, (("type", task_type),)), 0.0)


async def test_hey_loads_the_target_in_the_background(
    start_loadtester: StartLoadtester, target: Target, hey_bin: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A rollout webhook's `hey` command is answered 202 at once, then really sends its 20 requests to the target."""
    caplog.set_level(logging.INFO, logger="serinus.loadtester")
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        answer = await http.post(base + "/", json=payload(f"hey -n 20 -c 2 {target.url}", type="cmd"))
        assert (answer.status_code, answer.text) == (202, "")
        await wait_until(lambda: len(target.hits) == 20, what="20 requests from hey")
        await wait_until(lambda: "command finished" in caplog.text, what="hey to exit")
        got = await _metrics(http, base)
    assert target.hits == ["/"] * 20
    assert _count(got, "serinus_loadtester_tasks_started_total") == 1
    assert _count(got, "serinus_loadtester_tasks_failed_total") == 0
    assert _count(got, "serinus_loadtester_tasks_running") == 0
    finished = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("command finished"))
    assert "type=cmd canary=podinfo.test" in finished
    assert "exit_status=0" in finished
    assert "[200]\\t20 responses" in finished  # the tail of hey's report


async def test_same_command_for_same_canary_starts_once(
    start_loadtester: StartLoadtester, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Posting the same cmd twice while it runs starts it once and logs `command skipped ... is already running`."""
    caplog.set_level(logging.INFO, logger="serinus.loadtester")
    starts = tmp_path / "starts"
    cmd = f"echo started >> {starts}; sleep 1"
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        first = await http.post(base + "/", json=payload(cmd))
        second = await http.post(base + "/", json=payload(cmd))
        assert (first.status_code, second.status_code) == (202, 202)
        await wait_until(lambda: "command finished" in caplog.text, what="the command to end")
        assert starts.read_text() == "started\n"
        got = await _metrics(http, base)
        assert _count(got, "serinus_loadtester_tasks_started_total") == 1
        assert _count(got, "serinus_loadtester_tasks_skipped_total") == 1
        assert f"command skipped {cmd} is already running canary=podinfo.test" in caplog.messages

        # Once it has ended, the same webhook starts it again (the next analysis tick).
        again = await http.post(base + "/", json=payload(cmd))
        assert again.status_code == 202
        await wait_until(lambda: starts.read_text() == "started\nstarted\n", what="the second run")


async def test_same_command_for_two_canaries_runs_twice(start_loadtester: StartLoadtester, tmp_path: Path) -> None:
    """Deduplication is per canary: the same command for another canary runs alongside."""
    starts = tmp_path / "starts"
    cmd = f"echo $$ >> {starts}; sleep 1"
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        for name in ("podinfo", "frontend"):
            assert (await http.post(base + "/", json=payload(cmd, name=name))).status_code == 202
        await wait_until(lambda: starts.exists() and len(starts.read_text().split()) == 2, what="two starts")
        got = await _metrics(http, base)
    assert _count(got, "serinus_loadtester_tasks_started_total") == 2
    assert _count(got, "serinus_loadtester_tasks_skipped_total") == 0


async def test_cmd_timeout_kills_the_whole_process_group(
    start_loadtester: StartLoadtester, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cmd task past --timeout is killed with its children, counted failed and logged with its signal."""
    caplog.set_level(logging.INFO, logger="serinus.loadtester")
    child = tmp_path / "child"
    base = await start_loadtester(timeout=1.0)
    began = time.monotonic()
    async with httpx2.AsyncClient() as http:
        answer = await http.post(base + "/", json=payload(f"sleep 60 & echo $! > {child}; wait"))
        assert answer.status_code == 202
        await wait_until(lambda: "command failed" in caplog.text, what="the timeout")
        got = await _metrics(http, base)
    assert time.monotonic() - began < 10
    await wait_until(lambda: pid_gone(int(child.read_text())), what="the background sleep to die")
    assert _count(got, "serinus_loadtester_tasks_failed_total") == 1
    failed = next(m for m in caplog.messages if m.startswith("command failed"))
    assert 'exit_status="signal: killed" interrupted=timeout' in failed


async def test_log_cmd_output_logs_the_whole_output(
    start_loadtester: StartLoadtester, caplog: pytest.LogCaptureFixture
) -> None:
    """With logCmdOutput "true" the command's whole output is logged, on one line."""
    caplog.set_level(logging.INFO, logger="serinus.loadtester")
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        answer = await http.post(base + "/", json=payload("printf 'a\\nb\\n'", logCmdOutput="true"))
        assert answer.status_code == 202
        await wait_until(lambda: "command output" in caplog.text, what="the output line")
    assert 'command output type=cmd canary=podinfo.test output="a\\nb\\n"' in caplog.messages


async def test_stopping_the_server_kills_running_commands(tmp_path: Path) -> None:
    """Shutting the app down kills a running cmd task and its children instead of leaving them behind."""
    child = tmp_path / "child"
    port = free_port()
    runner = web.AppRunner(make_app(Settings()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with httpx2.AsyncClient() as http:
            answer = await http.post(f"http://127.0.0.1:{port}/", json=payload(f"sleep 60 & echo $! > {child}; wait"))
            assert answer.status_code == 202
            await wait_until(lambda: child.exists() and child.read_text().strip() != "", what="the child pid")
    finally:
        began = time.monotonic()
        await runner.cleanup()
    assert time.monotonic() - began < 5
    await wait_until(lambda: pid_gone(int(child.read_text())), what="the sleep to die")
