"""The run ledger: what each analysis step of a release decided and why, kept as one CanaryRun per run.

A run is one revision's release: it opens at the first step that works on a new revision (its spec hash and
tracked configs, the `checksum` webhooks are sent) and ends when the Canary reaches Succeeded or Failed, or when
a newer revision replaces it (Superseded). Each step of a run adds one tick: the step's decision, and the records
of what it saw and did (every check's value, bound, sample size where known and verdict, each webhook's answer,
weight and phase changes, and the events it recorded). A tick identical to the one before it (same phase, weight,
decision and records) is folded into it with a count, and a run keeps at most MAX_TICKS ticks (the first one and
the latest), so the object stays small however long a release halts.

Everything here is pure data: the operator stores the result as a CanaryRun object, the simulator keeps it in
memory, and both fold ticks with the same `fold`, so `serinus simulate --ledger` writes the very ledger the
operator would.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from serinus.api import CanaryPhase

API_VERSION = "serinus.io/v1alpha1"
KIND = "CanaryRun"
#: the label naming the Canary a CanaryRun belongs to, and the one holding the run's number
CANARY_LABEL = "serinus.io/canary"
INDEX_LABEL = "serinus.io/run"
#: ticks kept per run: the first and the latest; the ones in between are counted in `droppedTicks`
MAX_TICKS = 200
#: runs kept per Canary when the operator is not told otherwise (--ledger-runs)
DEFAULT_RUNS = 10
#: the phases in which a run is under way
RUNNING = frozenset(
    {
        CanaryPhase.PROGRESSING,
        CanaryPhase.WAITING,
        CanaryPhase.WAITING_PROMOTION,
        CanaryPhase.PROMOTING,
        CanaryPhase.FINALISING,
    }
)
ENDED = frozenset({CanaryPhase.SUCCEEDED, CanaryPhase.FAILED})
SUPERSEDED = "Superseded"
#: how the event of a revision change during the analysis begins (engine/step.py)
RESTARTING = "New revision detected! Restarting analysis"
#: check verdicts that stopped a step (Flagger's rule: fail and error; the judge: ROLLBACK, HOLD, FREEZE)
FAILING = frozenset({"fail", "error", "ROLLBACK"})


@dataclass(frozen=True)
class Record:
    """One thing a step saw or did. `kind` says which fields apply:

    - `check`: a metric; `name`, `value`, `min` / `max` (the bound), `samples` (requests, when known), `verdict`
      (pass, fail or error under Flagger's rule; the judge's ADVANCE, HOLD, ROLLBACK, ... under the judge),
      `test` (the judge's test), `message` (why, when it did not pass);
    - `webhook`: `name`, `type` (confirm-rollout, rollout, ...), `verdict` (accepted or refused), `message`;
    - `weight`: the routes set, `primary` and `canary` (and `mirrored`);
    - `phase`: the phase written, `phase`;
    - `event`: an event recorded, `type` (Normal or Warning) and `message`.
    """

    kind: str
    name: str = ""
    type: str = ""
    verdict: str = ""
    value: float | None = None
    min: float | None = None
    max: float | None = None
    samples: int | None = None
    test: str = ""
    primary: int | None = None
    canary: int | None = None
    mirrored: bool = False
    phase: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON form: only the fields that are set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == "" or value is False:
                continue
            out[f.name] = _number(value) if isinstance(value, float) else value
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        """Read back what to_json wrote (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


def _number(value: float) -> float | int | str:
    """A JSON-safe number: whole floats as ints, infinite and NaN as strings."""
    if not math.isfinite(value):
        return str(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass(frozen=True)
class LedgerTick:
    """What one step hands the ledger: which Canary and revision, its records, and how the Canary ended up."""

    canary: str
    namespace: str
    uid: str
    #: the spec hash of the revision under analysis (status.lastAppliedSpec once the run started)
    revision: str
    #: the revision's spec hash and tracked configs together: the `checksum` of webhook payloads
    checksum: str
    at: dt.datetime
    phase: str
    weight: int
    records: tuple[Record, ...]
    #: Succeeded or Failed when this step ended the run, with the reason in words
    ended: str = ""
    reason: str = ""
    #: the step started inside a run on the same revision: it joins the open run whatever its checksum (while a
    #: confirm-rollout gate holds, status.lastAppliedSpec still names the previous revision)
    continues: bool = False


@dataclass(frozen=True)
class Run:
    """One CanaryRun: one revision's release of one Canary, with its ticks as JSON documents."""

    name: str
    namespace: str
    canary: str
    canary_uid: str
    index: int
    revision: str
    checksum: str
    started: str
    phase: str = ""
    weight: int = 0
    ended: str = ""
    result: str = ""
    reason: str = ""
    ticks: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    dropped: int = 0

    def to_object(self) -> dict[str, Any]:
        """The CanaryRun object, owned by its Canary when the Canary's uid is known."""
        metadata: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {CANARY_LABEL: self.canary, INDEX_LABEL: str(self.index)},
        }
        if self.canary_uid:
            metadata["ownerReferences"] = [
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "name": self.canary,
                    "uid": self.canary_uid,
                    "controller": False,
                    "blockOwnerDeletion": False,
                }
            ]
        status: dict[str, Any] = {"phase": self.phase, "canaryWeight": self.weight, "ticks": list(self.ticks)}
        for key, value in (("endedAt", self.ended), ("result", self.result), ("reason", self.reason)):
            if value:
                status[key] = value
        if self.dropped:
            status["droppedTicks"] = self.dropped
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": metadata,
            "spec": {
                "canaryRef": {"name": self.canary},
                "revision": self.revision,
                "checksum": self.checksum,
                "startedAt": self.started,
            },
            "status": status,
        }

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Run:
        """Read a CanaryRun object (as stored, or as to_object wrote it)."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Canary"]
        labels = meta.get("labels") or {}
        try:
            index = int(labels.get(INDEX_LABEL, "0"))
        except ValueError:
            index = 0
        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            canary=str((spec.get("canaryRef") or {}).get("name", labels.get(CANARY_LABEL, ""))),
            canary_uid=str(owners[0].get("uid", "")) if owners else "",
            index=index,
            revision=str(spec.get("revision", "")),
            checksum=str(spec.get("checksum", "")),
            started=str(spec.get("startedAt", "")),
            phase=str(status.get("phase", "")),
            weight=int(status.get("canaryWeight", 0) or 0),
            ended=str(status.get("endedAt", "")),
            result=str(status.get("result", "")),
            reason=str(status.get("reason", "")),
            ticks=tuple(status.get("ticks") or ()),
            dropped=int(status.get("droppedTicks", 0) or 0),
        )


def timestamp(at: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z, as Kubernetes writes times."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_name(canary: str, index: int) -> str:
    """`<canary>-<index>`, cut so the whole fits a Kubernetes object name."""
    suffix = f"-{index}"
    return canary[: 253 - len(suffix)] + suffix


def decide(records: tuple[Record, ...], phase: str, ended: str) -> str:
    """The step's decision in one word, from what it did (the order matters: the strongest act wins)."""
    if ended == CanaryPhase.FAILED:
        return "rollback"
    if ended == CanaryPhase.SUCCEEDED:
        return "promoted"
    if any(r.kind == "event" and r.message.startswith(RESTARTING) for r in records):
        return "restart"
    phases = [r.phase for r in records if r.kind == "phase"]
    if CanaryPhase.PROMOTING in phases:
        return "promote"
    if CanaryPhase.FINALISING in phases:
        return "finalise"
    if any(r.kind == "weight" for r in records) or any(
        r.kind == "event" and r.message.startswith("Advance ") for r in records
    ):
        return "advance"
    if any(r.kind == "check" and r.verdict in FAILING for r in records):
        return "halt"
    if any(r.kind == "check" and r.verdict in ("HOLD", "FREEZE") for r in records):
        return "hold"
    if any(r.kind == "webhook" and r.verdict == "refused" for r in records):
        return "wait" if phase in (CanaryPhase.WAITING, CanaryPhase.WAITING_PROMOTION) else "halt"
    if CanaryPhase.PROGRESSING in phases:
        return "start"
    if any(r.kind == "event" and r.type == "Warning" for r in records):
        return "halt"
    return "wait"


def _tick_doc(tick: LedgerTick) -> dict[str, Any]:
    at = timestamp(tick.at)
    return {
        "at": at,
        "last": at,
        "count": 1,
        "phase": tick.phase,
        "canaryWeight": tick.weight,
        "decision": decide(tick.records, tick.phase, tick.ended),
        "records": [r.to_json() for r in tick.records],
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("phase", "canaryWeight", "decision", "records")
    return all(a.get(k) == b.get(k) for k in keys)


def append(run: Run, tick: LedgerTick) -> Run:
    """`run` with `tick` added: folded into the last tick when identical to it, the oldest but the first dropped
    beyond MAX_TICKS, and the run ended when the tick ended it."""
    doc = _tick_doc(tick)
    ticks = list(run.ticks)
    dropped = run.dropped
    if ticks and _same(ticks[-1], doc):
        last = dict(ticks[-1])
        last["count"] = int(last.get("count", 1)) + 1
        last["last"] = doc["at"]
        ticks[-1] = last
    else:
        ticks.append(doc)
    while len(ticks) > MAX_TICKS:
        dropped += int(ticks.pop(1).get("count", 1))
    ended = tick.ended if tick.ended in ENDED else ""
    return replace(
        run,
        phase=tick.phase,
        weight=tick.weight,
        ticks=tuple(ticks),
        dropped=dropped,
        ended=timestamp(tick.at) if ended else run.ended,
        result=ended or run.result,
        reason=tick.reason if ended else run.reason,
    )


def fold(current: Run | None, tick: LedgerTick, next_index: int) -> tuple[Run | None, Run]:
    """Where `tick` goes: (the open run it supersedes, ended, or None; the run it joined, with it added).

    `current` is the Canary's newest run; `next_index` the number a new run gets. A tick joins `current` when
    that run is still open and on the same revision; otherwise a new run starts, and an open `current` on
    another revision ends as Superseded.
    """
    if current is not None and not current.result and (tick.continues or current.checksum == tick.checksum):
        return None, append(current, tick)
    superseded = None
    if current is not None and not current.result:
        superseded = replace(
            current,
            ended=timestamp(tick.at),
            result=SUPERSEDED,
            reason=f"New revision {tick.revision} detected before the run ended",
        )
    run = Run(
        name=run_name(tick.canary, next_index),
        namespace=tick.namespace,
        canary=tick.canary,
        canary_uid=tick.uid,
        index=next_index,
        revision=tick.revision,
        checksum=tick.checksum,
        started=timestamp(tick.at),
    )
    return superseded, append(run, tick)


def to_prune(indices: list[int], keep: int) -> list[int]:
    """The run numbers to delete so that only the `keep` newest remain."""
    ordered = sorted(indices)
    return ordered[: max(0, len(ordered) - max(1, keep))]


# ----- reading a run back: the decisive check, in words -----


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def rule_text(check: dict[str, Any]) -> str:
    """A check's rule in words: `between 0 and 500`, `at least 99`, `at most 500`, or the judge's test."""
    low, high = check.get("min"), check.get("max")
    if check.get("test"):
        bound = (
            f" (Flagger's bound {rule_text({'min': low, 'max': high})})" if low is not None or high is not None else ""
        )
        return f"the statistical judge's {check['test']} test{bound}"
    if low is not None and high is not None:
        return f"between {_fmt(low)} and {_fmt(high)}"
    if low is not None:
        return f"at least {_fmt(low)}"
    if high is not None:
        return f"at most {_fmt(high)}"
    return "no bound"


def check_text(check: dict[str, Any]) -> str:
    """One check in words: its name, value, rule, sample size and verdict."""
    value = check.get("value")
    if check.get("test") and value is not None:  # the judge's value is its estimate of canary / primary
        value = f"{_fmt(value)} (canary/primary estimate)"
    parts = [
        f"{check.get('name', '?')} = {_fmt(value)}" if value is not None else f"{check.get('name', '?')}: no value"
    ]
    parts.append(f"rule {rule_text(check)}")
    if check.get("samples") is not None:
        parts.append(f"{check['samples']} requests")
    parts.append(f"verdict {check.get('verdict', '?')}")
    text = ", ".join(parts)
    return f"{text}: {check['message']}" if check.get("message") else text


@dataclass(frozen=True)
class Explanation:
    """Why a run ended (or where it stands): the decisive record, where it was seen, and the sentence."""

    run: str
    result: str
    reason: str
    decisive: dict[str, Any] | None
    at: str
    times: int
    text: str


def _records(run: Run) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(tick, rec) for tick in run.ticks for rec in tick.get("records") or []]


def _decisive(run: Run) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The record that decided the run: the last failing check or refusing webhook before a rollback, the
    accepted rollback webhook when one asked for it; for a promotion or a run under way, the last check."""
    pairs = _records(run)
    failing = [
        (t, r)
        for t, r in pairs
        if (r.get("kind") == "check" and r.get("verdict") in FAILING)
        or (r.get("kind") == "webhook" and r.get("type") == "rollback" and r.get("verdict") == "accepted")
        or (
            r.get("kind") == "webhook" and r.get("type") in ("rollout", "pre-rollout") and r.get("verdict") == "refused"
        )
    ]
    if run.result == CanaryPhase.FAILED and failing:
        return failing[-1]
    checks = [(t, r) for t, r in pairs if r.get("kind") == "check"]
    if run.result != CanaryPhase.FAILED and checks:
        return checks[-1]
    return failing[-1] if failing else None


def explain(run: Run) -> Explanation:
    """The run's outcome and the decisive check with its values and rule, in words."""
    state = run.result or f"under way ({run.phase}, canary weight {run.weight}%)"
    head = f"Run {run.name} of canary {run.canary}.{run.namespace}, revision {run.revision}: {state}"
    lines = [head + (f" at {run.ended}" if run.ended else "") + "."]
    if run.reason:
        lines.append(f"Reason: {run.reason}")
    found = _decisive(run)
    if found is None:
        lines.append("No check or webhook decided it: " + ("see the reason." if run.reason else "no analysis yet."))
        return Explanation(run.name, run.result, run.reason, None, "", 0, "\n".join(lines))
    tick, record = found
    same = sum(int(t.get("count", 1)) for t, r in _records(run) if r == record)
    if record.get("kind") == "webhook":
        answer = record.get("verdict")
        words = f"webhook {record.get('name')} ({record.get('type')}) {answer}"
        words += f": {record['message']}" if record.get("message") else ""
    else:
        words = check_text(record)
    label = "Decisive check" if run.result == CanaryPhase.FAILED else "Last check"
    when = tick.get("last") or tick.get("at", "")
    lines.append(f"{label}: {words}.")
    lines.append(
        f"Seen {same} time{'s' if same != 1 else ''} in this run, last at {when} "
        f"(canary weight {tick.get('canaryWeight', 0)}%, phase {tick.get('phase', '')})."
    )
    return Explanation(run.name, run.result, run.reason, record, str(when), same, "\n".join(lines))
