"""CanaryActions in the engine (engine/actions.py, engine/intake.py), on the simulator: abort rolls back, retry runs
a Failed revision again without a spec change, a stale or expired action is settled and never applied, pause holds
the analysis until resume, promote skips the rest of it, actions apply one per step in order and exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from typing import Any

from serinus.api import Canary, CanaryPhase
from serinus.engine.actions import Action, Outcome, Verb, next_action, parse_action, paused
from serinus.engine.ports import FLAGGER_REASON, SerinusReason
from serinus.engine.step import Engine
from serinus.sim.clock import EPOCH
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import Cluster, SimLedger
from tests.unit.engine.simkit import canary

NS = "podinfo.test"


class MemoryActions:
    """The Actions port in memory, settling as the cluster adapter does: once, and never over a settled one."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        #: names another writer settles first (a second operator): settle() loses the race for them
        self.raced: set[str] = set()

    async def of(self, canary: Canary) -> list[Action]:
        """Every action of the Canary."""
        return [a for a in self.actions if a.canary == canary.metadata.name]

    async def settle(self, action: Action, outcome: str, message: str) -> bool:
        """Settle unless settled already (or raced)."""
        i = next(i for i, a in enumerate(self.actions) if a.name == action.name)
        if self.actions[i].outcome or action.name in self.raced:
            return False
        self.actions[i] = replace(self.actions[i], outcome=outcome, message=message)
        return True

    def add(self, verb: Verb, revision: str, *, at: float, **kw: object) -> Action:
        """A new pending action of podinfo, created at `at` seconds."""
        created = EPOCH + dt.timedelta(seconds=at)
        fields: dict[str, object] = {
            "name": f"podinfo-{verb}-{len(self.actions)}",
            "namespace": "test",
            "canary": "podinfo",
            "verb": verb,
            "revision": revision,
            "requested_by": "alice",
            "reason": "latency looks wrong",
            "created": created,
            "expires": created + dt.timedelta(minutes=15),
        }
        fields.update(kw)
        action = Action(**fields)  # type: ignore[arg-type]
        self.actions.append(action)
        return action

    def get(self, name: str) -> Action:
        """One action as it is now."""
        return next(a for a in self.actions if a.name == name)


class Release:
    """A release on the simulator, stepped by hand a minute at a time, with an action queue."""

    def __init__(self, analysis: dict[str, object] | None = None) -> None:
        c = canary(analysis or {"interval": "1m", "stepWeight": 10, "maxWeight": 50}, provider="istio")
        self.engine: Engine
        self.engine, self.cluster = build(c, parse_scenario({}, c))
        self.actions = MemoryActions()
        self.engine.services.actions = self.actions
        self.t = 0.0
        self.cluster.canary.status = self.cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})

    def phase(self) -> CanaryPhase:
        """The stored phase."""
        return self.cluster.canary.status.phase

    @property
    def revision(self) -> str:
        """The stored status.lastAppliedSpec."""
        return self.cluster.canary.status.last_applied_spec or ""

    def step(self, n: int = 1) -> None:
        """`n` analysis steps, a minute apart (the first initializes on revision 0, then revision 1 is released)."""
        for _ in range(n):
            self.cluster.revision = 0 if self.t == 0 else 1
            self.cluster.clock.set(self.t)
            asyncio.run(self.engine.advance("podinfo", "test"))
            self.t += 60

    def until(self, *phases: CanaryPhase, limit: int = 40) -> None:
        """Step until the phase is one of `phases`."""
        for _ in range(limit):
            if self.phase() in phases:
                return
            self.step()
        raise AssertionError(f"never reached {phases}: {self.phase()}")

    def now(self) -> float:
        """The virtual time of the next step, as an action's creation offset (the clock's epoch is EPOCH)."""
        return (self.cluster.clock.now() - EPOCH).total_seconds()


def _progressing() -> Release:
    r = Release()
    r.step(4)
    assert r.phase() is CanaryPhase.PROGRESSING
    assert r.cluster.routes.canary > 0
    return r


def _events(cluster: Cluster, reason: str) -> list[str]:
    return [e.message for e in cluster.events if e.reason == reason]


def test_abort_rolls_a_progressing_release_back_and_says_who_and_why() -> None:
    """abort: all traffic to the primary, the canary scaled down, phase Failed; the action is Applied, an Event with
    reason ActionApplied names who and why, the alert says so, and the run's ledger records it."""
    r = _progressing()
    action = r.actions.add(Verb.ABORT, r.revision, at=r.now())
    r.step()
    assert r.phase() is CanaryPhase.FAILED
    assert r.cluster.routes.primary == 100
    assert r.cluster.routes.canary == 0
    assert r.cluster.canary_replicas == 0
    settled = r.actions.get(action.name)
    assert settled.outcome == Outcome.APPLIED
    assert settled.message.startswith(f"applied to revision {r.revision} in phase Progressing")
    assert _events(r.cluster, SerinusReason.ACTION_APPLIED) == [f"abort by alice: latency looks wrong ({NS})"]
    assert f"Canary failed! Scaling down {NS}" in _events(r.cluster, FLAGGER_REASON)
    assert any(a.message == "Rolling back: abort by alice: latency looks wrong" for a in r.cluster.alerts)
    ledger = r.engine.services.ledger
    assert isinstance(ledger, SimLedger)
    run = ledger.objects()[-1]
    assert run["status"]["result"] == "Failed"
    records = [rec for tick in run["status"]["ticks"] for rec in tick["records"] if rec["kind"] == "action"]
    assert records == [
        {
            "kind": "action",
            "name": "abort",
            "type": "alice",
            "verdict": "Applied",
            "message": "latency looks wrong",
        }
    ]


def test_retry_runs_a_failed_revision_again_without_a_spec_change() -> None:
    """After an abort, retry on the same revision starts a new run of it (Progressing again, traffic shifted
    anew) and it is promoted; the target's spec never changed."""
    r = _progressing()
    r.actions.add(Verb.ABORT, r.revision, at=r.now())
    r.step()
    assert r.phase() is CanaryPhase.FAILED
    r.step(2)
    assert r.phase() is CanaryPhase.FAILED  # nothing changed: Failed stays Failed
    failed_at = r.revision
    retry = r.actions.add(Verb.RETRY, failed_at, at=r.now())
    r.step()
    assert r.phase() is CanaryPhase.PROGRESSING
    assert r.actions.get(retry.name).outcome == Outcome.APPLIED
    assert "New revision detected! Scaling up podinfo.test" in _events(r.cluster, FLAGGER_REASON)
    r.until(CanaryPhase.SUCCEEDED, CanaryPhase.FAILED)
    assert r.phase() is CanaryPhase.SUCCEEDED
    assert r.revision == failed_at
    assert r.cluster.primary_revision == 1
    ledger = r.engine.services.ledger
    assert isinstance(ledger, SimLedger)
    results = [run["status"].get("result") for run in ledger.objects()]
    assert results == ["Failed", "Succeeded"]
    assert {run["spec"]["revision"] for run in ledger.objects()} == {failed_at}


def test_an_action_for_another_revision_is_rejected_not_applied() -> None:
    """A stale abort (the revision the user saw is not the Canary's) is Rejected with both revisions named and a
    Warning with reason ActionRejected; the release goes on."""
    r = _progressing()
    weight = r.cluster.routes.canary
    stale = r.actions.add(Verb.ABORT, "5d8f9c7b6", at=r.now())
    r.step()
    assert r.phase() is CanaryPhase.PROGRESSING
    assert r.cluster.routes.canary > weight
    settled = r.actions.get(stale.name)
    assert settled.outcome == Outcome.REJECTED
    assert settled.message == (f"stale: requested for revision 5d8f9c7b6, the canary is at revision {r.revision}")
    assert _events(r.cluster, SerinusReason.ACTION_REJECTED) == [f"abort by alice rejected: {settled.message}"]
    assert _events(r.cluster, SerinusReason.ACTION_APPLIED) == []


def test_an_expired_action_is_never_applied() -> None:
    """An abort whose expiry passed before the operator read it is Expired; the release goes on."""
    r = _progressing()
    created = r.now() - 3600
    old = r.actions.add(Verb.ABORT, r.revision, at=created, expires=EPOCH + dt.timedelta(seconds=created + 60))
    r.step()
    assert r.phase() is CanaryPhase.PROGRESSING
    assert r.actions.get(old.name).outcome == Outcome.EXPIRED
    assert r.actions.get(old.name).message.startswith("expired at ")


def test_actions_apply_one_per_step_in_order() -> None:
    """pause then resume, created together: the pause applies at one step (no traffic step), the resume at the
    next, in creation order; the analysis then goes on."""
    r = _progressing()
    weight = r.cluster.routes.canary
    first = r.actions.add(Verb.PAUSE, r.revision, at=r.now())
    second = r.actions.add(Verb.RESUME, r.revision, at=r.now())
    r.step()
    assert r.actions.get(first.name).outcome == Outcome.APPLIED
    assert r.actions.get(second.name).outcome == ""
    assert r.cluster.routes.canary == weight
    r.step()
    assert r.actions.get(second.name).outcome == Outcome.APPLIED
    r.step()
    assert r.cluster.routes.canary > weight


def test_pause_holds_the_analysis_until_resume() -> None:
    """While paused, steps pass without checks or traffic steps; after resume, the release is promoted."""
    r = _progressing()
    weight, iterations = r.cluster.routes.canary, len(r.cluster.weights)
    r.actions.add(Verb.PAUSE, r.revision, at=r.now())
    r.step(5)
    assert r.phase() is CanaryPhase.PROGRESSING
    assert r.cluster.routes.canary == weight
    assert len(r.cluster.weights) == iterations
    again = r.actions.add(Verb.PAUSE, r.revision, at=r.now())
    r.step()
    assert r.actions.get(again.name).outcome == Outcome.REJECTED
    assert r.actions.get(again.name).message == "the analysis is already paused"
    r.actions.add(Verb.RESUME, r.revision, at=r.now())
    r.until(CanaryPhase.SUCCEEDED, CanaryPhase.FAILED)
    assert r.phase() is CanaryPhase.SUCCEEDED


def test_promote_skips_the_rest_of_the_analysis() -> None:
    """promote at 10%: the canary is copied to the primary at once (no further traffic step) and promoted."""
    r = Release()
    r.step(3)
    assert r.phase() is CanaryPhase.PROGRESSING
    weights = [w.canary for w in r.cluster.weights]
    r.actions.add(Verb.PROMOTE, r.revision, at=r.now())
    r.step()
    assert r.phase() is CanaryPhase.PROMOTING
    assert f"Copying {NS} template spec to podinfo-primary.test" in _events(r.cluster, FLAGGER_REASON)
    r.until(CanaryPhase.SUCCEEDED, CanaryPhase.FAILED)
    assert r.phase() is CanaryPhase.SUCCEEDED
    assert max(w.canary for w in r.cluster.weights) == max(weights)


def test_an_action_settled_by_another_writer_is_not_applied() -> None:
    """Exactly once: when another operator settles the action first, this one does not apply it."""
    r = _progressing()
    action = r.actions.add(Verb.ABORT, r.revision, at=r.now())
    r.actions.raced.add(action.name)
    r.step()
    assert r.phase() is CanaryPhase.PROGRESSING
    assert _events(r.cluster, SerinusReason.ACTION_APPLIED) == []


def test_verbs_apply_only_in_their_phases() -> None:
    """retry on a progressing release and abort on a failed one are Rejected with the phases they need; approve is
    Rejected as not supported yet."""
    r = _progressing()
    retry = r.actions.add(Verb.RETRY, r.revision, at=r.now())
    approve = r.actions.add(Verb.APPROVE, r.revision, at=r.now())
    r.step()
    assert r.actions.get(retry.name).message == "cannot retry a canary in phase Progressing (only Failed)"
    assert r.actions.get(approve.name).message == "approve is not supported by this operator yet"
    assert r.phase() is CanaryPhase.PROGRESSING


def test_pure_rules() -> None:
    """paused() follows the last applied pause/resume of the revision; next_action() skips settled ones; a
    CanaryAction object parses with its times, and an unknown verb is left alone."""
    base = Action("a", "test", "podinfo", Verb.PAUSE, "r1", "alice", "", EPOCH, outcome="Applied")
    later = replace(base, name="b", verb=Verb.RESUME, created=EPOCH + dt.timedelta(seconds=1))
    assert paused([base], "r1")
    assert not paused([base, later], "r1")
    assert not paused([base], "r2")
    c = canary({"interval": "1m"})
    c.status.phase = CanaryPhase.PROGRESSING
    c.status.last_applied_spec = "r1"
    settles, head = next_action([base, replace(later, outcome="")], c, EPOCH)
    assert settles == []
    assert head is not None
    assert head.name == "b"
    doc: dict[str, Any] = {
        "metadata": {"name": "x", "namespace": "test", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "canaryRef": {"name": "podinfo"},
            "action": "promote",
            "revision": "r1",
            "requestedBy": "alice",
            "groups": ["release-managers", "system:authenticated"],
            "expiresAt": "2026-01-01T00:15:00Z",
            "full": True,
        },
        "status": {"phase": "Applied", "message": "ok"},
    }
    parsed = parse_action(doc)
    assert parsed is not None
    assert (parsed.verb, parsed.full, parsed.created, parsed.outcome) == (Verb.PROMOTE, True, EPOCH, "Applied")
    assert parsed.expires == EPOCH + dt.timedelta(minutes=15)
    assert parsed.groups == ("release-managers", "system:authenticated")
    assert parse_action({**doc, "spec": {**doc["spec"], "action": "delete"}}) is None
