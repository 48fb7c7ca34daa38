"""Bad and oversized requests get a short 4xx and one log line, and no more commands run at once than the cap."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import httpx2
import pytest

from serinus.loadtester import server
from serinus.loadtester.config import go_regexp
from serinus.loadtester.payload import MAX_JSON_DEPTH
from serinus.loadtester.server import MAX_BODY_BYTES
from tests.integration.loadtester.conftest import (
    StartLoadtester,
    StartScript,
    children,
    payload,
    samples,
    wait_until,
)

pytestmark = pytest.mark.integration

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+ ")


def _assert_clean_log(lines: list[str]) -> None:
    """Every line is one event in the load tester's format, and no traceback was written."""
    for line in lines:
        assert LOG_LINE.match(line), line
        assert "Traceback" not in line, line


async def test_malformed_and_too_deep_bodies_get_400_and_one_log_line(start_script: StartScript) -> None:
    """Bodies that are not JSON, not UTF-8, nested past the limit (even 100,000 levels, which made Python's decoder
    raise and the server answer 500 with a traceback) get 400 with a short reason on tasks and gates, one WARNING
    line each, and the server keeps serving."""
    tester = await start_script()
    deep = {
        "deep array": b"[" * 100_000,
        "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "one level too deep": b'{"x": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
    }
    malformed = {"truncated": b'{"name": "podinfo"', "not UTF-8": b'{"name": "\xff"}', "a list": b"[1]"}
    paths = ["/", "/gate/check", "/rollback/open"]
    async with httpx2.AsyncClient(timeout=30) as http:
        for bodies, reason in ((deep, f"deeper than {MAX_JSON_DEPTH} levels"), (malformed, "")):
            for what, body in bodies.items():
                for path in paths:
                    answer = await http.post(tester.base + path, content=body)
                    assert answer.status_code == 400, (what, path, answer.text)
                    assert answer.text.startswith("decoding the request body failed: "), (what, path)
                    assert reason in answer.text, (what, path)
                    assert len(answer.text) < 200, answer.text
        assert (await http.get(tester.base + "/healthz")).text == "OK"
    lines = tester.log_lines()
    _assert_clean_log(lines)
    refused = [line for line in lines if "request refused" in line]
    assert len(refused) == (len(deep) + len(malformed)) * len(paths)
    assert all(" WARNING " in line for line in refused)


async def test_odd_characters_in_commands_do_not_break_the_server(start_script: StartScript) -> None:
    """A lone surrogate escape runs as U+FFFD (as Go decodes it) and a NUL in a command fails it as Go's exec does
    (`fork/exec bash: invalid argument`); both used to raise inside the server."""
    tester = await start_script()
    async with httpx2.AsyncClient(timeout=30) as http:
        surrogate = b'{"name": "p\\ud800", "namespace": "test", "metadata": {"type": "bash", "cmd": "echo \\udc00", '
        surrogate += b'"returnCmdOutput": "true"}}'
        answer = await http.post(tester.base + "/", content=surrogate)
        assert (answer.status_code, answer.text) == (200, "\ufffd\n")
        nul = await http.post(tester.base + "/", json=payload("echo a\x00b", type="bash"))
        assert (nul.status_code, nul.text) == (500, "command echo a\x00b failed: : fork/exec bash: invalid argument")
        background = await http.post(tester.base + "/", json=payload("echo a\x00b"))
        assert background.status_code == 202
        await wait_until(lambda: any("command failed type=cmd" in line for line in tester.log_lines()))
    _assert_clean_log(tester.log_lines())


async def test_request_bodies_are_capped_at_1_mib(start_script: StartScript) -> None:
    """A body of exactly 1 MiB is read; one byte more, with a Content-Length or chunked, gets 413 with a short
    reason and one log line."""
    tester = await start_script()
    head = b'{"name": "podinfo", "namespace": "test", "pad": "'
    exact = head + b"x" * (MAX_BODY_BYTES - len(head) - 2) + b'"}'
    assert len(exact) == MAX_BODY_BYTES
    over = exact[:-2] + b'x"}'

    async def chunked() -> object:
        for start in range(0, len(over), 65536):
            yield over[start : start + 65536]

    async with httpx2.AsyncClient(timeout=30) as http:
        read = await http.post(tester.base + "/gate/check", content=exact)
        assert (read.status_code, read.text) == (403, "Forbidden")  # decoded: the gate is closed
        for body in (over, chunked()):
            answer = await http.post(tester.base + "/gate/check", content=body)  # type: ignore[arg-type]
            assert (answer.status_code, answer.text) == (413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        assert (await http.get(tester.base + "/healthz")).text == "OK"
    lines = tester.log_lines()
    _assert_clean_log(lines)
    assert sum(f"the body is larger than {MAX_BODY_BYTES} bytes" in line for line in lines) == 2


async def test_a_body_that_never_arrives_gets_408(
    start_loadtester: StartLoadtester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that announces a body and stops sending it is answered 408 once BODY_TIMEOUT has passed, instead
    of holding the request forever."""
    monkeypatch.setattr(server, "BODY_TIMEOUT", 0.5)
    base = await start_loadtester()
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b'POST /gate/check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"name":')
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.endswith(b"the request body did not arrive within 0.5s")


def _waiting(release: Path, name: str) -> str:
    """A command that runs until `release` exists (named so that each is a different command); it gives up after
    60 s on its own, so a failed test leaves no process polling the disk behind it."""
    return f"i=0; while [ ! -e {release} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done # {name}"


async def test_commands_past_the_cap_get_429(start_loadtester: StartLoadtester, tmp_path: Path) -> None:
    """With --max-concurrent-commands 2, a third command (background or blocking) is answered 429 saying why and is
    not run; a skipped duplicate still answers 202; once the commands end, new ones run again."""
    release = tmp_path / "release"
    ran = tmp_path / "ran"
    base = await start_loadtester(max_concurrent_commands=2)
    async with httpx2.AsyncClient(timeout=30) as http:
        for name in ("one", "two"):
            assert (await http.post(base + "/", json=payload(_waiting(release, name)))).status_code == 202
        busy = "too many commands running: 2 of --max-concurrent-commands=2; try again when one has ended"
        third = await http.post(base + "/", json=payload(f"touch {ran}"))
        assert (third.status_code, third.text) == (429, busy)
        blocking = await http.post(base + "/", json=payload(f"touch {ran}", type="bash"))
        assert (blocking.status_code, blocking.text) == (429, busy)
        duplicate = await http.post(base + "/", json=payload(_waiting(release, "one")))
        assert duplicate.status_code == 202  # already running: skipped, as in Flagger, not refused
        got = samples((await http.get(base + "/metrics")).text)
        assert got[("serinus_loadtester_tasks_running", (("type", "cmd"),))] == 2
        assert got[("serinus_loadtester_tasks_refused_total", (("reason", "too-many"), ("type", "cmd")))] == 1
        assert got[("serinus_loadtester_tasks_refused_total", (("reason", "too-many"), ("type", "bash")))] == 1

        release.touch()
        for _ in range(200):
            got = samples((await http.get(base + "/metrics")).text)
            if got[("serinus_loadtester_tasks_running", (("type", "cmd"),))] == 0:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the two commands did not end within 10s of their release")
        again = await http.post(base + "/", json=payload(f"touch {ran}", type="bash"))
        assert again.status_code == 200
    assert ran.exists()


async def test_a_burst_of_requests_never_runs_more_processes_than_the_cap(
    start_script: StartScript, tmp_path: Path
) -> None:
    """80 concurrent requests (40 background, 40 blocking, all different) at a load tester started with
    --max-concurrent-commands 5: while they arrive, /proc never shows more than 5 child processes of the server;
    exactly 5 run, 75 get 429, and after the commands end no child is left and a new command runs."""
    release = tmp_path / "release"
    tester = await start_script("--max-concurrent-commands", "5")
    pid = tester.proc.pid
    most = 0
    sampling = True

    def sample() -> None:
        nonlocal most
        while sampling:
            most = max(most, len(children(pid)))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    limits = httpx2.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as http:

        async def post(i: int) -> int:
            kind = "cmd" if i % 2 else "bash"
            return (await http.post(tester.base + "/", json=payload(_waiting(release, str(i)), type=kind))).status_code

        answers = [asyncio.create_task(post(i)) for i in range(80)]
        await wait_until(lambda: sum(a.done() for a in answers) >= 75, within=60, what="the 429 answers")
        await asyncio.sleep(0.5)  # let any request that slipped through start its process
        running = len(children(pid))
        release.touch()
        statuses = await asyncio.gather(*answers)
        await wait_until(lambda: not children(pid), within=20, what="the commands to end")
        sampling = False
        sampler.join()
        again = await http.post(tester.base + "/", json=payload("true", type="bash"))
    assert running == 5
    assert most <= 5
    assert statuses.count(429) == 75
    assert len([s for s in statuses if s in (200, 202)]) == 5
    assert again.status_code == 200
    lines = tester.log_lines()
    _assert_clean_log(lines)
    assert sum("too many commands running: 5 of --max-concurrent-commands=5" in line for line in lines) == 75


async def test_namespace_regexp_flag_is_matched_as_go_does(start_script: StartScript) -> None:
    """Started with `--namespace-regexp '^test$'`, the load tester refuses the namespace "test\\n" (which Python's `$`
    accepts) on tasks and gates, and serves "test"."""
    tester = await start_script("--namespace-regexp", "^test$")
    assert go_regexp("^test$").search("test\n") is None
    async with httpx2.AsyncClient(timeout=30) as http:
        for namespace, expected in (("test\n", 403), ("xtest", 403), ("testx", 403), ("test", 200)):
            answer = await http.post(tester.base + "/", json=payload("true", type="bash", namespace=namespace))
            assert answer.status_code == expected, repr(namespace)
            gate = await http.post(tester.base + "/gate/open", json={"name": "p", "namespace": namespace})
            assert gate.status_code == (403 if expected == 403 else 202), repr(namespace)
