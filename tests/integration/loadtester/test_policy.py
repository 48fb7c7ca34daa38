"""--namespace-regexp, --allow-command and --disable-bash refuse over HTTP with 403 and a clear reason."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest

from tests.integration.loadtester.conftest import StartLoadtester, Target, payload, samples, wait_until

pytestmark = pytest.mark.integration


async def test_namespace_regexp_forbids_other_namespaces(start_loadtester: StartLoadtester, tmp_path: Path) -> None:
    """A namespace outside --namespace-regexp gets 403 `Forbidden` on tasks and gates, and changes nothing."""
    ran = tmp_path / "ran"
    base = await start_loadtester(namespace_regexp=re.compile("^(test|staging)$"))
    prod = {"name": "podinfo", "namespace": "prod"}
    async with httpx2.AsyncClient() as http:
        task = await http.post(base + "/", json=payload(f"touch {ran}", type="bash", namespace="prod"))
        assert (task.status_code, task.text) == (403, "Forbidden")
        for path in (
            "/gate/open",
            "/gate/check",
            "/gate/close",
            "/rollback/open",
            "/rollback/check",
            "/rollback/close",
        ):
            answer = await http.post(base + path, json=prod)
            assert (answer.status_code, answer.text) == (403, "Forbidden"), path
        assert not ran.exists()

        # Inside the pattern everything works.
        allowed = await http.post(base + "/", json=payload(f"touch {ran}", type="bash", namespace="staging"))
        assert allowed.status_code == 200
        assert ran.exists()
        assert (await http.post(base + "/gate/open", json={"name": "podinfo", "namespace": "test"})).status_code == 202
        check = await http.post(base + "/gate/check", json={"name": "podinfo", "namespace": "test"})
        assert (check.status_code, check.text) == (200, "Approved")


async def test_allow_list_refuses_a_command_that_does_not_match(
    start_loadtester: StartLoadtester, target: Target, hey_bin: str, tmp_path: Path
) -> None:
    """With --allow-command only fully matching commands run; any other gets 403 naming the refusal, and never runs."""
    marker = tmp_path / "pwned"
    hey_only = re.compile(r"hey -n \d+ -c \d+ http://127\.0\.0\.1:\d+/")
    base = await start_loadtester(allow_commands=(hey_only,))
    async with httpx2.AsyncClient() as http:
        for body in (
            payload(f"touch {marker}"),
            payload(f"hey -n 2 -c 1 {target.url}; touch {marker}"),
            payload(f"touch {marker}", type="bash"),
        ):
            answer = await http.post(base + "/", json=body)
            assert answer.status_code == 403
            assert answer.text == (
                f'command refused: "{body["metadata"]["cmd"]}" matches none of the --allow-command patterns of this '
                "load tester"
            )
        ok = await http.post(base + "/", json=payload(f"hey -n 4 -c 2 {target.url}"))
        assert ok.status_code == 202
        await wait_until(lambda: len(target.hits) == 4, what="the allowed hey run")
        got = samples((await http.get(base + "/metrics")).text)
    assert not marker.exists()
    assert got[("serinus_loadtester_tasks_refused_total", (("reason", "not-allowed"), ("type", "cmd")))] == 2
    assert got[("serinus_loadtester_tasks_refused_total", (("reason", "not-allowed"), ("type", "bash")))] == 1
    assert got[("serinus_loadtester_tasks_started_total", (("type", "cmd"),))] == 1


async def test_disable_bash_refuses_bash_tasks(start_loadtester: StartLoadtester, tmp_path: Path) -> None:
    """With --disable-bash a bash task gets 403 saying so and does not run, while cmd tasks still run."""
    marker = tmp_path / "ran"
    base = await start_loadtester(disable_bash=True)
    async with httpx2.AsyncClient() as http:
        bash = await http.post(base + "/", json=payload(f"touch {marker}", type="bash"))
        assert (bash.status_code, bash.text) == (403, "bash tasks are disabled on this load tester (--disable-bash)")
        assert not marker.exists()
        cmd = await http.post(base + "/", json=payload(f"touch {marker}"))
        assert cmd.status_code == 202
        await wait_until(marker.exists, what="the cmd task")
        got = samples((await http.get(base + "/metrics")).text)
    assert got[("serinus_loadtester_tasks_refused_total", (("reason", "bash-disabled"), ("type", "bash")))] == 1
