"""Leader election against a fake Lease store that fails the way a real control plane does: every error a
lightkube call can raise is ridden out until the renew deadline, and an outage past it makes the leader step
down (its work cancelled) with LeadershipLost naming the last error."""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx2
import msgspec
import pytest
from lightkube import ApiError
from lightkube.resources.coordination_v1 import Lease

from serinus.kube.leader import LeaderElector, LeadershipLost
from serinus.kube.transient import is_transient
from serinus.net import API_ERRORS
from tests.fields import meta, present

URL = "https://127.0.0.1:6443/apis/coordination.k8s.io/v1/namespaces/default/leases/l"
RETRY, DEADLINE, DURATION = 0.03, 0.3, 1.0


def _request() -> httpx2.Request:
    return httpx2.Request("PUT", URL)


def api_error(code: int, message: str = "boom") -> ApiError:
    """An ApiError exactly as lightkube builds it from the API server's JSON Status answer."""
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}
    return ApiError(request=_request(), response=httpx2.Response(code, json=body, request=_request()))


def page_error(code: int) -> httpx2.HTTPStatusError:
    """What lightkube raises for an error page that is not JSON (a proxy's 502)."""
    response = httpx2.Response(code, text="<html>bad gateway</html>", request=_request())
    return httpx2.HTTPStatusError("bad gateway", request=_request(), response=response)


def _decode_error() -> Exception:
    try:
        msgspec.json.decode(b'{"kind": "Lea')
    except msgspec.DecodeError as err:
        return err
    raise AssertionError("unreachable")


def _json_error() -> Exception:
    try:
        json.loads("<html>")
    except json.JSONDecodeError as err:
        return err
    raise AssertionError("unreachable")


#: (what happened, what the client raised): every failure class of a call through lightkube's AsyncClient
BLIPS: list[tuple[str, Callable[[], Exception]]] = [
    ("apiserver down: connection refused", lambda: httpx2.ConnectError("[Errno 111] Connection refused")),
    ("connect timeout", lambda: httpx2.ConnectTimeout("timed out")),
    ("read timeout", lambda: httpx2.ReadTimeout("timed out")),
    ("write timeout", lambda: httpx2.WriteTimeout("timed out")),
    ("pool timeout", lambda: httpx2.PoolTimeout("no connection")),
    ("connection reset mid-answer", lambda: httpx2.ReadError("[Errno 104] Connection reset by peer")),
    ("write error", lambda: httpx2.WriteError("[Errno 32] Broken pipe")),
    ("server went away", lambda: httpx2.RemoteProtocolError("Server disconnected without sending a response.")),
    ("local protocol error", lambda: httpx2.LocalProtocolError("illegal header")),
    ("proxy error", lambda: httpx2.ProxyError("proxy refused")),
    ("close error", lambda: httpx2.CloseError("close failed")),
    ("garbled gzip", lambda: httpx2.DecodingError("incorrect header check")),
    ("TLS handshake cut", lambda: ssl.SSLError(1, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF")),
    ("TLS certificate rejected", lambda: ssl.SSLCertVerificationError(1, "certificate verify failed")),
    ("socket reset", lambda: ConnectionResetError(104, "Connection reset by peer")),
    ("etcd away: 500", lambda: api_error(500, "etcdserver: leader changed")),
    ("apiserver not ready: 503", lambda: api_error(503, "the server is currently unable to handle the request")),
    ("etcd timeout: 504", lambda: api_error(504, "Timeout: request did not complete within 34s")),
    ("throttled: 429", lambda: api_error(429, "too many requests")),
    ("proxy page: 502", lambda: page_error(502)),
    ("RBAC lost: 403", lambda: api_error(403, "leases is forbidden")),
    ("token expired: 401", lambda: api_error(401, "Unauthorized")),
    ("truncated body", _decode_error),
    ("HTML body", _json_error),
]


class FakeLeases:
    """A Lease store with resourceVersion checks, like the API server's; `fail` makes every call raise, `hang`
    makes every call wait forever, until cleared."""

    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], Lease] = {}
        self.fail: Callable[[], Exception] | None = None
        self.hang = False
        self.calls = 0
        self.failed_calls = 0
        self.replaced = 0
        #: called inside each successful replace (renewal), before it answers
        self.on_replace: Callable[[], None] = lambda: None

    async def _gate(self) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        if self.hang:
            await asyncio.Event().wait()
        if self.fail is not None:
            self.failed_calls += 1
            raise self.fail()

    async def get(self, _: Any, name: str, *, namespace: str) -> Lease:
        """GET: the stored Lease or a 404 ApiError."""
        await self._gate()
        lease = self.leases.get((namespace, name))
        if lease is None:
            raise api_error(404, "not found")
        return copy.deepcopy(lease)

    async def create(self, lease: Lease) -> Lease:
        """POST: 409 if it exists."""
        await self._gate()
        key = (meta(lease).namespace or "", meta(lease).name or "")
        if key in self.leases:
            raise api_error(409, "already exists")
        stored = copy.deepcopy(lease)
        meta(stored).resourceVersion = "1"
        self.leases[key] = stored
        return copy.deepcopy(stored)

    async def replace(self, lease: Lease) -> Lease:
        """PUT: 409 unless the resourceVersion is the stored one."""
        await self._gate()
        key = (meta(lease).namespace or "", meta(lease).name or "")
        stored = self.leases.get(key)
        if stored is None or meta(stored).resourceVersion != meta(lease).resourceVersion:
            raise api_error(409, "the object has been modified")
        new = copy.deepcopy(lease)
        meta(new).resourceVersion = str(int(meta(stored).resourceVersion or "0") + 1)
        self.leases[key] = new
        self.replaced += 1
        self.on_replace()
        return copy.deepcopy(new)

    def holder(self) -> str | None:
        """Who holds the Lease now."""
        lease = self.leases.get(("default", "l"))
        return lease.spec.holderIdentity if lease and lease.spec else None

    def renewed(self) -> datetime.datetime:
        """When the Lease was last renewed."""
        return present(present(self.leases[("default", "l")].spec).renewTime)


def elector(store: FakeLeases, identity: str = "a") -> LeaderElector:
    """An elector with short timings on the fake store."""
    return LeaderElector(
        store,  # type: ignore[arg-type]
        namespace="default",
        name="l",
        identity=identity,
        lease_duration=DURATION,
        renew_deadline=DEADLINE,
        retry_period=RETRY,
    )


class Work:
    """The leader's work: records that it started and whether it was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def __call__(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


@pytest.mark.parametrize(("what", "error"), BLIPS, ids=[b[0] for b in BLIPS])
def test_every_error_class_is_an_api_error(what: str, error: Callable[[], Exception]) -> None:
    """Each failure a lightkube call can raise is one the elector catches (none escapes as a traceback)."""
    assert isinstance(error(), API_ERRORS), what


@pytest.mark.parametrize(("what", "error"), BLIPS, ids=[b[0] for b in BLIPS])
async def test_a_blip_shorter_than_the_renew_deadline_keeps_the_leader_leading(
    what: str, error: Callable[[], Exception]
) -> None:
    """Every call fails for 60 % of the renew deadline, then the API answers again: the leader never stops its
    work, still holds the Lease and renews it after the blip."""
    store = FakeLeases()
    work = Work()
    e = elector(store)
    task = asyncio.ensure_future(e.run(work))
    await asyncio.wait_for(work.started.wait(), 2)
    renewed_before = store.renewed()
    store.fail = error
    await asyncio.sleep(DEADLINE * 0.6)
    assert store.failed_calls >= 1, f"{what}: the blip was not exercised"
    store.fail = None
    await asyncio.sleep(DEADLINE)
    assert not task.done(), f"{what}: the elector stopped: {task.exception() if task.done() else ''}"
    assert not work.cancelled
    assert e.is_leader
    assert store.holder() == "a"
    assert store.renewed() > renewed_before
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


#: one failure of each kind for the step-down test (whether each class is caught at all is proven above)
OUTAGES = [
    b for b in BLIPS if b[0].startswith(("apiserver down", "read timeout", "TLS handshake", "etcd away", "RBAC"))
]


@pytest.mark.parametrize(("what", "error"), OUTAGES, ids=[b[0] for b in OUTAGES])
async def test_an_outage_past_the_renew_deadline_steps_down(what: str, error: Callable[[], Exception]) -> None:
    """Every call keeps failing: within the renew deadline (plus one retry) the leader cancels its work and
    raises LeadershipLost naming the last error, before the Lease could expire for the others."""
    store = FakeLeases()
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.wait_for(work.started.wait(), 2)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    store.fail = error
    with pytest.raises(LeadershipLost, match=r"within 0\.3s") as lost:
        await asyncio.wait_for(task, DURATION)
    took = loop.time() - t0
    assert work.cancelled, what
    assert took < DEADLINE + RETRY + 0.3, f"{what}: stepped down after {took:.2f}s"
    assert took < DURATION, "the Lease could have expired while this replica was still working"
    assert "last error" in str(lost.value)


async def test_a_hanging_api_server_cannot_keep_a_leader_past_its_deadline() -> None:
    """Requests that never answer (a stopped process still holding its socket) are cut at the renew deadline."""
    store = FakeLeases()
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.wait_for(work.started.wait(), 2)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    store.hang = True
    with pytest.raises(LeadershipLost, match="TimeoutError"):
        await asyncio.wait_for(task, DURATION)
    assert loop.time() - t0 < DEADLINE + RETRY + 0.3
    assert work.cancelled


@pytest.mark.parametrize(("what", "error"), BLIPS, ids=[b[0] for b in BLIPS])
async def test_a_campaign_waits_through_errors_and_then_leads(what: str, error: Callable[[], Exception]) -> None:
    """A replica started while the API fails keeps campaigning instead of exiting, and leads once it answers."""
    store = FakeLeases()
    store.fail = error
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.sleep(5 * RETRY)
    assert not task.done(), f"{what}: the campaign gave up: {task.exception() if task.done() else ''}"
    assert not work.started.is_set()
    store.fail = None
    await asyncio.wait_for(work.started.wait(), 2)
    assert store.holder() == "a"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_lease_taken_by_another_replica_is_lost_at_once() -> None:
    """An answered renewal that finds another holder ends leadership at the next attempt, not at the deadline."""
    store = FakeLeases()
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.wait_for(work.started.wait(), 2)
    lease = store.leases[("default", "l")]
    present(lease.spec).holderIdentity = "b"
    meta(lease).resourceVersion = "99"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(LeadershipLost, match="held by another replica"):
        await asyncio.wait_for(task, DURATION)
    assert loop.time() - t0 < DEADLINE / 2
    assert work.cancelled
    assert store.holder() == "b"


async def test_a_bug_is_not_mistaken_for_a_blip() -> None:
    """An exception that is no API failure (a programming error) is not retried: it ends the run at once."""
    store = FakeLeases()
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.wait_for(work.started.wait(), 2)
    store.fail = lambda: TypeError("a bug")
    with pytest.raises(TypeError):
        await asyncio.wait_for(task, DEADLINE)
    assert work.cancelled


async def test_a_stop_that_arrives_as_a_renewal_completes_stops_the_renewals() -> None:
    """Stopping the elector at the instant a renewal answers still stops it (Python 3.11's asyncio.wait_for
    swallowed that cancellation, and the renewer went on renewing the Lease after the operator had stopped)."""
    store = FakeLeases()
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.wait_for(work.started.wait(), 2)

    def stop() -> None:  # the next renewal's answer and the stop arrive together
        store.on_replace = lambda: None
        task.cancel()

    store.on_replace = stop
    done, _ = await asyncio.wait({task}, timeout=DEADLINE)
    assert task in done, "the elector did not stop"
    assert task.cancelled()
    renewals = store.replaced
    await asyncio.sleep(5 * RETRY)
    assert store.replaced == renewals, "the Lease was renewed after the elector stopped"
    assert store.holder() is None, "the Lease was not released"


async def test_release_on_shutdown_is_bounded_when_the_api_server_hangs() -> None:
    """Stopping a leader while the API server hangs gives up releasing the Lease after the renew deadline."""
    store = FakeLeases()
    work = Work()
    task = asyncio.ensure_future(elector(store).run(work))
    await asyncio.wait_for(work.started.wait(), 2)
    store.hang = True
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loop.time() - t0 < DEADLINE + 0.2


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (httpx2.ConnectError("refused"), True),
        (httpx2.ReadTimeout("slow"), True),
        (httpx2.RemoteProtocolError("gone"), True),
        (ssl.SSLError(1, "eof"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (api_error(500), True),
        (api_error(503), True),
        (api_error(504), True),
        (api_error(429), True),
        (page_error(502), True),
        (api_error(403), False),
        (api_error(401), False),
        (api_error(404), False),
        (api_error(409), False),
        (api_error(422), False),
        (ValueError("a bug"), False),
        (KeyError("a bug"), False),
    ],
    ids=repr,
)
def test_transient_errors_are_told_from_definite_answers(error: Exception, transient: bool) -> None:
    """No answer, 429 and 5xx may succeed on retry; 4xx answers and programming errors will not."""
    assert is_transient(error) is transient
