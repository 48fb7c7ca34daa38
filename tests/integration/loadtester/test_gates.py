"""Manual gates hold a canary until opened and hold it again once closed; /healthz and the fixed gates answer."""

from __future__ import annotations

import httpx2
import pytest

from tests.integration.loadtester.conftest import StartLoadtester, payload

pytestmark = pytest.mark.integration

PODINFO = {"name": "podinfo", "namespace": "test"}
OTHER = {"name": "frontend", "namespace": "test"}


async def _check(http: httpx2.AsyncClient, url: str, canary: dict[str, str]) -> tuple[int, str]:
    # Flagger's confirm-promotion hook sends the whole webhook payload, not just name and namespace.
    answer = await http.post(url, json=payload(None, **canary, type="confirm-promotion"))
    return answer.status_code, answer.text


async def test_health_and_fixed_gates(start_loadtester: StartLoadtester) -> None:
    """/healthz and /gate/approve answer 200 `OK` and /gate/halt 403 `Forbidden`, whatever the method and body."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        for method in ("GET", "POST"):
            for path, expected in (("/healthz", (200, "OK")), ("/gate/approve", (200, "OK"))):
                answer = await http.request(method, base + path, content=b"not json")
                assert (answer.status_code, answer.text) == expected
            halt = await http.request(method, base + "/gate/halt", content=b"not json")
            assert (halt.status_code, halt.text) == (403, "Forbidden")


@pytest.mark.parametrize("gate", ["gate", "rollback"])
async def test_gate_is_closed_until_opened_and_closes_again(start_loadtester: StartLoadtester, gate: str) -> None:
    """check answers 403 `Forbidden` until open (202), then 200 `Approved`, then 403 again after close (202)."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        assert await _check(http, f"{base}/{gate}/check", PODINFO) == (403, "Forbidden")
        opened = await http.post(f"{base}/{gate}/open", json=PODINFO)
        assert (opened.status_code, opened.text) == (202, "")
        assert await _check(http, f"{base}/{gate}/check", PODINFO) == (200, "Approved")
        assert await _check(http, f"{base}/{gate}/check", PODINFO) == (200, "Approved")
        closed = await http.post(f"{base}/{gate}/close", json=PODINFO)
        assert (closed.status_code, closed.text) == (202, "")
        assert await _check(http, f"{base}/{gate}/check", PODINFO) == (403, "Forbidden")


async def test_gates_are_per_canary_and_per_kind(start_loadtester: StartLoadtester) -> None:
    """Opening podinfo's promotion gate opens neither another canary's gate nor podinfo's rollback gate."""
    base = await start_loadtester()
    async with httpx2.AsyncClient() as http:
        assert (await http.post(f"{base}/gate/open", json=PODINFO)).status_code == 202
        assert await _check(http, f"{base}/gate/check", PODINFO) == (200, "Approved")
        assert await _check(http, f"{base}/gate/check", OTHER) == (403, "Forbidden")
        assert await _check(http, f"{base}/gate/check", {"name": "podinfo", "namespace": "prod"}) == (403, "Forbidden")
        assert await _check(http, f"{base}/rollback/check", PODINFO) == (403, "Forbidden")

        assert (await http.post(f"{base}/rollback/open", json=OTHER)).status_code == 202
        assert await _check(http, f"{base}/rollback/check", OTHER) == (200, "Approved")
        assert await _check(http, f"{base}/gate/check", OTHER) == (403, "Forbidden")


async def test_gates_are_kept_per_server(start_loadtester: StartLoadtester) -> None:
    """Gates live in the memory of one load tester: a second (or restarted) one starts with every gate closed."""
    first, second = await start_loadtester(), await start_loadtester()
    async with httpx2.AsyncClient() as http:
        assert (await http.post(f"{first}/gate/open", json=PODINFO)).status_code == 202
        assert await _check(http, f"{first}/gate/check", PODINFO) == (200, "Approved")
        assert await _check(http, f"{second}/gate/check", PODINFO) == (403, "Forbidden")
