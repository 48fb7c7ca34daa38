"""The metadata watch against a scripted API server on 127.0.0.1, for the answers a real one gives only by chance:
an expired resourceVersion (410, as a status and as a watch ERROR event), a stream the server ends, bookmarks, and
a stream that ends at once. (tests/cluster/kube/test_metawatch.py runs it on the real API server.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx2
import pytest
from aiohttp import web

from serinus.kube.metawatch import METADATA_LIST, METADATA_WATCH, Change, MetadataWatch
from tests.integration.receivers import free_port, serving

PATH = "/api/v1/namespaces/apps/configmaps"


def _meta(name: str, version: str) -> dict[str, object]:
    return {
        "kind": "PartialObjectMetadata",
        "metadata": {"name": name, "namespace": "apps", "resourceVersion": version},
    }


@dataclass
class Script:
    """What the server answers: the collection's version for a list, and per watch resourceVersion a status and
    the event lines to send (then the stream ends, or stays open when `hold`)."""

    current: str = "10"
    watches: dict[str, tuple[int, list[dict[str, object]], bool]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, resourceVersion, Accept)


@pytest.fixture
async def api() -> AsyncIterator[tuple[Script, Callable[..., MetadataWatch]]]:
    """A scripted API server and a factory of watches on it."""
    script = Script()
    port = free_port()
    closing = asyncio.Event()  # held streams end when the test does (or the server's shutdown waits for them)

    async def handle(request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        if request.query.get("watch") != "true":
            script.requests.append(("list", request.query.get("limit", ""), accept))
            return web.json_response(
                {"kind": "PartialObjectMetadataList", "metadata": {"resourceVersion": script.current}}
            )
        version = request.query["resourceVersion"]
        script.requests.append(("watch", version, accept))
        status, events, hold = script.watches.get(version, (200, [], True))
        if status != 200:
            return web.json_response({"kind": "Status", "code": status}, status=status)
        response = web.StreamResponse()
        await response.prepare(request)
        for event in events:
            await response.write(json.dumps(event).encode() + b"\n")
        if hold:
            await closing.wait()
        return response

    clients: list[httpx2.AsyncClient] = []

    def make(**kwargs: object) -> MetadataWatch:
        client = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}")
        clients.append(client)
        return MetadataWatch(client, PATH, **kwargs)  # type: ignore[arg-type]

    async with serving(handle, port):
        yield script, make
        closing.set()
        for client in clients:
            await client.aclose()


async def _collect(watch: MetadataWatch, count: int, since: str | None = None, within: float = 5.0) -> list[Change]:
    seen: list[Change] = []

    async def run() -> None:
        async for change in watch.changes(since=since):
            seen.append(change)
            if len(seen) == count:
                return

    task = asyncio.ensure_future(run())
    try:
        await asyncio.wait_for(asyncio.shield(task), within)
    except TimeoutError:
        pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return seen


@pytest.mark.parametrize("as_event", [True, False], ids=["error-event", "http-410"])
async def test_an_expired_version_restarts_from_now(
    api: tuple[Script, Callable[..., MetadataWatch]], caplog: pytest.LogCaptureFixture, as_event: bool
) -> None:
    """A 410 (a watch ERROR event, or the watch request's own status) makes the watch ask for the current version
    (a metadata list of one) and go on from there, with the next change reported and the restart logged."""
    script, make = api
    gone: tuple[int, list[dict[str, object]], bool] = (
        (200, [{"type": "ERROR", "object": {"kind": "Status", "code": 410}}], False) if as_event else (410, [], False)
    )
    script.watches["5"] = gone
    script.watches["10"] = (200, [{"type": "MODIFIED", "object": _meta("cfg", "11")}], True)
    caplog.set_level(logging.INFO, logger="serinus.kube.metawatch")
    assert await _collect(make(), 1, since="5") == [Change("MODIFIED", "apps", "cfg")]
    assert script.requests == [
        ("watch", "5", METADATA_WATCH),
        ("list", "1", METADATA_LIST),
        ("watch", "10", METADATA_WATCH),
    ]
    assert f"watch of {PATH} expired; resuming from now" in caplog.text


async def test_an_ended_stream_resumes_after_the_last_event_or_bookmark(
    api: tuple[Script, Callable[..., MetadataWatch]],
) -> None:
    """When the server ends a watch (its timeoutSeconds), the next one starts from the last version seen, a
    bookmark's included: nothing is reported twice or missed, and bookmarks are not reported."""
    script, make = api
    script.watches["10"] = (
        200,
        [{"type": "ADDED", "object": _meta("a", "11")}, {"type": "BOOKMARK", "object": _meta("", "15")}],
        False,
    )
    script.watches["15"] = (200, [{"type": "DELETED", "object": _meta("a", "16")}], True)
    assert await _collect(make(), 2) == [Change("ADDED", "apps", "a"), Change("DELETED", "apps", "a")]
    assert [r[:2] for r in script.requests] == [("list", "1"), ("watch", "10"), ("watch", "15")]


async def test_a_stream_that_ends_at_once_is_retried_with_a_backoff(
    api: tuple[Script, Callable[..., MetadataWatch]], caplog: pytest.LogCaptureFixture
) -> None:
    """A server that accepts the watch and closes it at once with nothing said is not hammered: each retry waits
    the backoff, and the warning says what happened."""
    script, make = api
    script.watches["10"] = (200, [], False)
    caplog.set_level(logging.WARNING, logger="serinus.kube.metawatch")
    assert await _collect(make(backoffs_s=(0.5,)), 1, within=1.2) == []
    watches = [r for r in script.requests if r[0] == "watch"]
    assert 2 <= len(watches) <= 3  # at 0 s, 0.5 s and perhaps 1.0 s; without the backoff, hundreds
    assert "the watch ended at once" in caplog.text
