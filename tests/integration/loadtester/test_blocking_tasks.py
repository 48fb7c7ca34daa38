"""Blocking task types (bash, helm, kubectl) answer when the command ends, with Flagger's codes and texts."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.integration.loadtester.conftest import StartLoadtester, payload, pid_gone, wait_until

pytestmark = pytest.mark.integration


async def test_bash_success_answers_200(start_loadtester: StartLoadtester) -> None:
    """A bash task that exits 0 answers 200 with an empty body unless returnCmdOutput is true."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        quiet = await http.post(base + "/", json=payload("echo token | grep -q token", type="bash"))
        loud = await http.post(
            base + "/", json=payload("echo hello; echo err >&2", type="bash", returnCmdOutput="true")
        )
    assert (quiet.status_code, quiet.text) == (200, "")
    assert (loud.status_code, loud.text) == (200, "hello\nerr\n")


async def test_bash_failure_answers_500_with_output_and_status(
    start_loadtester: StartLoadtester, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing bash task answers 500 `command <cmd> failed: <output>: exit status <n>` and logs the status."""
    caplog.set_level(logging.INFO, logger="serinus.loadtester")
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        answer = await http.post(base + "/", json=payload("echo not ready; exit 3", type="bash"))
    assert (answer.status_code, answer.text) == (
        500,
        "command echo not ready; exit 3 failed: not ready\n: exit status 3",
    )
    failed = next(m for m in caplog.messages if m.startswith("command failed"))
    assert failed.startswith('command failed type=bash canary=podinfo.test command="echo not ready; exit 3"')
    assert 'exit_status="exit status 3" interrupted=no' in failed
    assert failed.endswith('output_tail="not ready"')


async def test_bash_timeout_kills_it_and_answers_500(start_loadtester: StartLoadtester, tmp_path: Path) -> None:
    """A bash task past --timeout is killed with its children and answers 500 `...: signal: killed`."""
    child = tmp_path / "child"
    cmd = f"sleep 60 & echo $! > {child}; echo waiting; wait"
    base = await start_loadtester(timeout=1.0)
    began = time.monotonic()
    async with httpx2.AsyncClient(timeout=30) as http:
        answer = await http.post(base + "/", json=payload(cmd, type="bash"))
    assert 0.9 < time.monotonic() - began < 10
    assert (answer.status_code, answer.text) == (500, f"command {cmd} failed: waiting\n: signal: killed")
    await wait_until(lambda: pid_gone(int(child.read_text())), what="the background sleep to die")


async def test_helm_missing_answers_go_exec_error(
    start_loadtester: StartLoadtester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helm task on a host without helm answers 500 with Go's `executable file not found in $PATH`."""
    monkeypatch.setenv("PATH", str(tmp_path))
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        for kind in ("helm", "helmv3"):
            answer = await http.post(base + "/", json=payload("test podinfo -n test", type=kind))
            assert (answer.status_code, answer.text) == (
                500,
                'command test podinfo -n test failed: : exec: "helm": executable file not found in $PATH',
            )


async def test_kubectl_and_helm_run_their_program_with_split_arguments(
    start_loadtester: StartLoadtester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubectl and helm tasks exec the program from $PATH with cmd split on whitespace, no shell in between."""
    for program in ("kubectl", "helm"):
        script = tmp_path / program
        script.write_text(f'#!/bin/sh\necho "{program} got $# args: $*"\n[ "$1" != fail ] || exit 1\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        kubectl = await http.post(
            base + "/", json=payload("get  pods -n test;echo", type="kubectl", returnCmdOutput="true")
        )
        helm = await http.post(base + "/", json=payload("test podinfo", type="helmv3", returnCmdOutput="1"))
        failed = await http.post(base + "/", json=payload("fail now", type="kubectl"))
    assert (kubectl.status_code, kubectl.text) == (200, "kubectl got 4 args: get pods -n test;echo\n")
    assert (helm.status_code, helm.text) == (200, "helm got 2 args: test podinfo\n")
    assert (failed.status_code, failed.text) == (
        500,
        "command fail now failed: kubectl got 2 args: fail now\n: exit status 1",
    )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"name": "podinfo", "namespace": "test"}, "metadata not found in payload"),
        (payload(None, type="cmd"), "cmd not found in metadata"),
        (payload("true", type="locust"), "unknown task type locust"),
        (
            payload(None, type="concord", server="http://concord"),
            "task type concord is not supported by serinus-loadtester",
        ),
        (payload(None, type="ngrinder", clone="1"), "task type ngrinder is not supported by serinus-loadtester"),
    ],
)
async def test_requests_that_cannot_run_answer_400(
    start_loadtester: StartLoadtester, body: dict[str, Any], text: str
) -> None:
    """Missing metadata or cmd, and unknown or unsupported task types answer 400 with the reason (no panic)."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        answer = await http.post(base + "/", json=body)
    assert (answer.status_code, answer.text) == (400, text)


async def test_malformed_bodies_answer_400(start_loadtester: StartLoadtester) -> None:
    """A body that is not a webhook payload answers 400 on / and on the gate endpoints."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        for path in ("/", "/gate/check", "/gate/open", "/rollback/check", "/rollback/close"):
            for body in (b"", b"{", b"[]", b'{"metadata": {"cmd": 1}}'):
                answer = await http.post(base + path, content=body)
                assert answer.status_code == 400, (path, body)
                assert answer.text.startswith("decoding the request body failed: ")


async def test_every_other_path_runs_tasks(start_loadtester: StartLoadtester) -> None:
    """Like Flagger's `/` pattern, any path that is not an endpoint runs the task, whatever the method."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        answer = await http.request(
            "PUT", base + "/run/it", json=payload("echo any path", type="bash", returnCmdOutput="true")
        )
    assert (answer.status_code, answer.text) == (200, "any path\n")
