"""What one analysis step works with: the Canary, its world, the operator's services, and small helpers that
turn port failures into Flagger's events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from serinus.api import Canary, CanaryAnalysis, CanaryPhase, CanaryStatus
from serinus.api.judge import JudgeStatus
from serinus.engine.actions import Action
from serinus.engine.changes import canary_checksum, compute_hash
from serinus.engine.ledger import Record
from serinus.engine.notices import notice
from serinus.engine.payloads import hook_payload
from serinus.engine.ports import (
    FLAGGER_REASON,
    Actions,
    Clock,
    EventType,
    Hooks,
    Ledger,
    Next,
    NoActions,
    NoLedger,
    NoTelemetry,
    Notifier,
    PortError,
    Readiness,
    Recorder,
    Store,
    Telemetry,
    World,
)
from serinus.engine.status import (
    synced,
    with_failed_checks,
    with_iterations,
    with_judge,
    with_phase,
    with_weight,
)

log = logging.getLogger("serinus.engine")


@dataclass
class Services:
    """The operator-wide ports: where Canaries are stored, events and alerts go, webhooks are called."""

    store: Store
    recorder: Recorder
    notifier: Notifier
    hooks: Hooks
    clock: Clock
    telemetry: Telemetry = field(default_factory=NoTelemetry)
    ledger: Ledger = field(default_factory=NoLedger)
    actions: Actions = field(default_factory=NoActions)


@dataclass
class Context:
    """One step of one Canary. `canary` is the object read at the start of the step (Flagger's in-memory copy:
    status writes go to the store and do not change it, except where Flagger updates it too)."""

    canary: Canary
    services: Services
    cluster_name: str
    provider: str
    #: when the next step is due; set where a step waits on the cluster only
    next: Next = Next.INTERVAL
    #: whether this step already counted a failed check (an exception later in the step must not count another)
    failed_check_counted: bool = False
    #: the step's World once Engine._open has built it; read it as `world`
    _world: World | None = field(default=None, repr=False)
    #: what this step saw and did, for the run ledger (Engine.advance hands them to the Ledger port at the end)
    records: list[Record] = field(default_factory=list)
    #: the target's spec hash and tracked configs as this step last read them (None: not read)
    seen_hash: str | None = None
    seen_configs: dict[str, str] | None = None
    seen_configs_read: bool = False
    #: the Canary as this step last wrote it (None: no status write)
    written: Canary | None = None
    #: the oldest pending CanaryAction that can apply now (engine/intake.py), and whether the analysis is paused
    action: Action | None = None
    paused: bool = False

    def keep(self, record: Record) -> None:
        """Keep one record of this step for the run ledger."""
        self.records.append(record)

    @property
    def world(self) -> World:
        """The step's adapters; only the code after Engine._open reaches them (fault() never does)."""
        if self._world is None:
            raise RuntimeError(f"{self.subject}: the step's world is not open yet")
        return self._world

    @world.setter
    def world(self, world: World) -> None:
        self._world = world

    @property
    def namespace(self) -> str:
        """The Canary's namespace."""
        return self.canary.metadata.namespace or "default"

    @property
    def name(self) -> str:
        """The Canary's name."""
        return self.canary.metadata.name or ""

    @property
    def subject(self) -> str:
        """`<canary>.<namespace>`, as Flagger's texts name a Canary."""
        return f"{self.name}.{self.namespace}"

    @property
    def analysis(self) -> CanaryAnalysis:
        """The analysis in effect for this step."""
        return self.canary.analysis_or_default()

    # ----- events and alerts -----

    async def info(self, message: str, on: Canary | None = None, reason: str = FLAGGER_REASON) -> None:
        """A Normal event; events only Serinus records pass their own `reason`."""
        self.keep(Record("event", type=EventType.NORMAL.value, message=message))
        await self.services.recorder.event(on or self.canary, EventType.NORMAL, message, reason)

    async def warn(self, message: str, on: Canary | None = None, reason: str = FLAGGER_REASON) -> None:
        """A Warning event (Flagger's recordEventWarningf and recordEventErrorf both record Warnings); events only
        Serinus records pass their own `reason`."""
        self.keep(Record("event", type=EventType.WARNING.value, message=message))
        await self.services.recorder.event(on or self.canary, EventType.WARNING, message, reason)

    async def alert(self, message: str, severity: str, *, metadata: bool = False, on: Canary | None = None) -> None:
        """An alert to the Canary's providers."""
        canary = on or self.canary
        await self.services.notifier.alert(
            canary, notice(canary, message, severity, metadata=metadata, cluster_name=self.cluster_name)
        )

    # ----- ports that may fail -----

    async def attempt(self, work: Awaitable[Any]) -> bool:
        """Await a port call; a PortError becomes a Warning event with its message and False."""
        try:
            await work
        except PortError as err:
            await self.warn(str(err))
            return False
        return True

    async def readiness(self, check: Awaitable[Readiness]) -> Readiness | None:
        """A readiness check; a failure to even check is reported and gives None."""
        try:
            return await check
        except PortError as err:
            await self.warn(str(err))
            return None

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> bool:
        """Route traffic; a router error is reported and gives False."""
        done = await self.attempt(self.world.router.set_routes(primary, canary, mirrored))
        if done:
            self.keep(Record("weight", primary=primary, canary=canary, mirrored=mirrored))
        return done

    async def spec_hash(self) -> str:
        """The hash of the target's spec as it is now."""
        self.seen_hash = compute_hash(await self.world.target.spec_for_hash())
        return self.seen_hash

    async def tracked_configs(self) -> dict[str, str] | None:
        """The target's tracked configs as they are now (kept for the run ledger)."""
        self.seen_configs = await self.world.target.tracked_configs()
        self.seen_configs_read = True
        return self.seen_configs

    # ----- status -----

    async def _write(self, change: Any, report: bool) -> Canary | None:
        try:
            written = await self.services.store.update_status(self.name, self.namespace, change)
        except PortError as err:
            if report:
                await self.warn(str(err))
            else:
                log.error("%s: %s", self.subject, err)
            return None
        before = (self.written or self.canary).status.phase
        if written.status.phase != before:
            self.keep(Record("phase", phase=str(written.status.phase)))
        self.written = written
        return written

    async def sync(
        self, phase: CanaryPhase, *, weight: int = 0, failed_checks: int = 0, iterations: int = 0, report: bool = True
    ) -> Canary | None:
        """SyncStatus: the phase and counters, with lastAppliedSpec and trackedConfigs from the target now."""
        try:
            spec_hash = await self.spec_hash()
            tracked = await self.tracked_configs()
        except PortError as err:
            if report:
                await self.warn(str(err))
            return None
        now = self.services.clock.now()

        def change(stored: Canary) -> CanaryStatus:
            return synced(
                stored,
                phase=phase,
                spec_hash=spec_hash,
                tracked=tracked,
                now=now,
                canary_weight=weight,
                failed_checks=failed_checks,
                iterations=iterations,
            )

        return await self._write(change, report)

    async def set_phase(self, phase: CanaryPhase, report: bool = True) -> bool:
        """SetStatusPhase."""
        now = self.services.clock.now()
        return await self._write(lambda stored: with_phase(stored, phase, now), report) is not None

    async def set_weight(self, weight: int) -> bool:
        """SetStatusWeight."""
        now = self.services.clock.now()
        return await self._write(lambda stored: with_weight(stored, weight, now), True) is not None

    async def set_iterations(self, iterations: int) -> bool:
        """SetStatusIterations."""
        now = self.services.clock.now()
        return await self._write(lambda stored: with_iterations(stored, iterations, now), True) is not None

    async def set_failed_checks(self, value: int) -> bool:
        """SetStatusFailedChecks: failedChecks set to `value` (the judge's rollback sets the threshold)."""
        now = self.services.clock.now()
        written = await self._write(lambda stored: with_failed_checks(stored, value, now), True) is not None
        if written:
            self.canary.status.failed_checks = value
            self.failed_check_counted = True
        return written

    async def set_judge(self, judge: JudgeStatus | None) -> bool:
        """status.judge: the statistical judge's state and ledger (None drops a finished run's)."""
        written = await self._write(lambda stored: with_judge(stored, judge), True) is not None
        if written:
            self.canary.status.judge = judge
        return written

    async def count_failed_check(self) -> None:
        """failedChecks + 1 (never reset by a passing check; only a new run, a restart or a rollback resets it)."""
        now = self.services.clock.now()
        value = self.canary.status.failed_checks + 1
        if await self._write(lambda stored: with_failed_checks(stored, value, now), True) is not None:
            self.failed_check_counted = True

    # ----- webhooks -----

    def payload(self, phase: str, metadata: dict[str, str] | None) -> dict[str, Any]:
        """A webhook body (CanaryWebhookPayload): `metadata` left out when empty."""
        return hook_payload(self.name, self.namespace, phase, canary_checksum(self.canary.status), metadata)
