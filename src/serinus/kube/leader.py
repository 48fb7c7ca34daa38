"""Lease-based leader election (coordination.k8s.io/v1), with client-go's semantics.

Only the replica holding the Lease runs the operator. The holder renews the Lease every `retry_period`; if it
cannot renew within `renew_deadline` it stops its work and raises LeadershipLost (the process should exit, as
Flagger's does). A follower takes the Lease over once `lease_duration` has passed since the last renewal. Writes
carry the Lease's resourceVersion, so two replicas racing for an expired Lease cannot both win.

As in client-go, a failed attempt is just a failed attempt: whatever the API call raised (a refused connection
while kube-apiserver restarts, a 5xx while etcd is away, a TLS or read error, a timeout, a 403), the elector
tries again every `retry_period`, and only the renew deadline decides that leadership is lost. Each attempt is
cut at the time left before that deadline, so a hanging request cannot keep a replica leading past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lightkube import ApiError, AsyncClient
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from serinus.errors import SerinusError
from serinus.kube.transient import is_transient, status_code
from serinus.net import API_ERRORS

log = logging.getLogger(__name__)


class LeadershipLost(SerinusError):
    """This replica could not renew its Lease in time; another replica may be leading now."""


class Step(enum.Enum):
    """What an elector does with the Lease it just read."""

    CREATE = "create"
    TAKE_OVER = "take-over"
    RENEW = "renew"
    WAIT = "wait"


@dataclass(frozen=True)
class LeaseState:
    """The fields of a Lease that election decisions depend on."""

    holder: str | None
    duration_s: int
    renew_time: dt.datetime | None
    transitions: int


def decide(state: LeaseState | None, identity: str, now: dt.datetime) -> Step:
    """Pure election rule: create a missing Lease, renew our own, take over an expired or released one, else wait."""
    if state is None:
        return Step.CREATE
    if state.holder == identity:
        return Step.RENEW
    if not state.holder or state.renew_time is None:
        return Step.TAKE_OVER
    if now >= state.renew_time + dt.timedelta(seconds=state.duration_s):
        return Step.TAKE_OVER
    return Step.WAIT


def default_identity() -> str:
    """`<hostname>_<uuid>`, the identity format Flagger's replicas use."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def _now() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    # Lease times are MicroTime: the apiserver rejects a timestamp without a fraction, and Python drops the
    # fraction when microseconds are zero.
    return now if now.microsecond else now.replace(microsecond=1)


def _state(lease: Lease) -> LeaseState:
    spec = lease.spec or LeaseSpec()
    return LeaseState(spec.holderIdentity, spec.leaseDurationSeconds or 0, spec.renewTime, spec.leaseTransitions or 0)


class LeaderElector:
    """Campaigns for one Lease and runs a coroutine only while holding it."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        namespace: str,
        name: str,
        identity: str | None = None,
        lease_duration: float = 60.0,
        renew_deadline: float = 15.0,
        retry_period: float = 5.0,
        release_on_cancel: bool = True,
    ) -> None:
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.is_leader = False

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Wait for the Lease, then run `lead()` while renewing; raise LeadershipLost if renewal fails."""
        await self._campaign()
        self.is_leader = True
        log.info("became leader", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity})
        work = asyncio.ensure_future(lead())
        renewer = asyncio.ensure_future(self._keep_renewing())
        try:
            done, _ = await asyncio.wait({work, renewer}, return_when=asyncio.FIRST_COMPLETED)
            if renewer in done:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                renewer.result()  # raises LeadershipLost
            else:
                work.result()
        finally:
            for task in (work, renewer):
                task.cancel()
            await asyncio.gather(work, renewer, return_exceptions=True)
            if self.is_leader and self.release_on_cancel:
                await asyncio.shield(self._release())
            self.is_leader = False

    async def _campaign(self) -> None:
        """Try for the Lease every `retry_period` until it is ours; API failures only mean "not yet"."""
        while True:  # polling the apiserver is the protocol: there is nothing to wait on locally
            try:
                async with asyncio.timeout(self.renew_deadline):
                    acquired = await self._try_acquire_or_renew()
                if acquired:
                    return
            except API_ERRORS as err:
                self._failed("acquire", err)
            await asyncio.sleep(self.retry_period)

    async def _keep_renewing(self) -> None:
        loop = asyncio.get_running_loop()
        last_renewal = loop.time()
        last_error = ""
        while True:
            await asyncio.sleep(self.retry_period)
            left = last_renewal + self.renew_deadline - loop.time()
            renewed, failed = False, False
            if left > 0:
                try:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that arrives
                    # as the attempt completes, and the renewer then outlives the elector's shutdown forever
                    async with asyncio.timeout(left):
                        renewed = await self._try_acquire_or_renew()
                except API_ERRORS as err:  # includes the TimeoutError of an attempt cut at the deadline
                    last_error, failed = self._failed("renew", err), True
            if renewed:
                if last_error:
                    log.info("lease %s/%s renewed again", self.namespace, self.name)
                last_renewal, last_error = loop.time(), ""
                continue
            if loop.time() - last_renewal >= self.renew_deadline:
                self.is_leader = False
                raise LeadershipLost(
                    f"failed to renew lease {self.namespace}/{self.name} as {self.identity} within "
                    f"{self.renew_deadline:g}s" + (f" (last error: {last_error})" if last_error else "")
                )
            if not failed and not await self._still_ours():  # the attempt was answered: somebody else holds it
                self.is_leader = False
                raise LeadershipLost(f"lease {self.namespace}/{self.name} is held by another replica now")

    def _failed(self, attempt: str, err: Exception) -> str:
        """Log one failed attempt (a warning when a retry may succeed, an error when the API said no) and return
        its description."""
        code = status_code(err)
        what = f"HTTP {code}: {err}" if code else f"{type(err).__name__}: {err}".rstrip(": ")
        lease = f"{self.namespace}/{self.name}"
        if is_transient(err):
            log.warning("failed to %s lease %s, retrying: %s", attempt, lease, what)
        else:
            log.error("failed to %s lease %s (check the Role for leases), retrying: %s", attempt, lease, what)
        return what

    async def _still_ours(self) -> bool:
        try:
            async with asyncio.timeout(self.retry_period):
                lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        except API_ERRORS:
            return True  # unknown: keep trying until the renew deadline
        return _state(lease).holder == self.identity

    async def _try_acquire_or_renew(self) -> bool:
        now = _now()
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        except ApiError as err:
            if err.status.code != 404:
                raise
            lease = None
        step = decide(_state(lease) if lease else None, self.identity, now)
        duration = max(1, round(self.lease_duration))
        try:
            if step is Step.CREATE:
                await self.client.create(
                    Lease(
                        metadata=ObjectMeta(name=self.name, namespace=self.namespace),
                        spec=LeaseSpec(
                            holderIdentity=self.identity,
                            leaseDurationSeconds=duration,
                            acquireTime=now,
                            renewTime=now,
                            leaseTransitions=0,
                        ),
                    )
                )
                return True
            if step is Step.WAIT or lease is None:
                return False
            spec = lease.spec or LeaseSpec()
            if step is Step.TAKE_OVER:
                spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
                spec.acquireTime = now
            spec.holderIdentity = self.identity
            spec.leaseDurationSeconds = duration
            spec.renewTime = now
            lease.spec = spec
            await self.client.replace(lease)
            return True
        except ApiError as err:
            if err.status.code in (409, 422):  # somebody else wrote first
                return False
            raise

    async def _release(self) -> None:
        """Give the Lease up at once (client-go's ReleaseOnCancel), so a follower need not wait for expiry; bounded
        by the renew deadline, so an unreachable API server cannot hold a shutdown."""
        try:
            async with asyncio.timeout(self.renew_deadline):
                await self._give_up()
        except API_ERRORS as err:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, err)

    async def _give_up(self) -> None:
        """Clear the holder of our Lease, if it is still ours."""
        lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        if _state(lease).holder != self.identity or lease.spec is None:
            return
        now = _now()
        lease.spec.holderIdentity = None
        lease.spec.leaseDurationSeconds = 1
        lease.spec.renewTime = now
        lease.spec.acquireTime = now
        await self.client.replace(lease)
