"""What `serinus get canaries` and `serinus status` show, built from plain objects (a Canary, its newest CanaryRun,
its Events): the fleet table, the one-screen status and the one-line-per-change forms. No I/O here, so each form
is tested on its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from serinus.api import CanaryPhase
from serinus.engine.changes import compute_hash
from serinus.engine.ledger import Run, check_text, rule_text
from serinus.targets.primary import SCALE_TO_ZERO_SELECTOR

#: phases in which a release is over; `status -w` stops at them
END_PHASES = frozenset({CanaryPhase.SUCCEEDED, CanaryPhase.FAILED})
#: events shown on the status screen
RECENT_EVENTS = 5


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


def target_hash(kind: str, target: dict[str, Any]) -> str:
    """The hash the operator compares with status.lastAppliedSpec for an apps/v1 target: its pod template, a
    DaemonSet's without the scale-to-zero node selector (as targets/controller.py `template_for_hash`)."""
    template = dict((target.get("spec") or {}).get("template") or {})
    if kind == "DaemonSet":
        spec = dict(template.get("spec") or {})
        selector = dict(spec.get("nodeSelector") or {})
        selector.pop(SCALE_TO_ZERO_SELECTOR, None)
        spec["nodeSelector"] = selector
        template["spec"] = spec
    return compute_hash(template)


#: the phases in which the operator waits for a change; a changed target there is a run not yet started
IDLE_PHASES = frozenset({CanaryPhase.INITIALIZED, CanaryPhase.SUCCEEDED, CanaryPhase.FAILED})


def is_pending(status: dict[str, Any], spec_hash: str | None) -> bool:
    """Whether the target changed and the operator has not started that revision's run yet (Flagger's
    hasSpecChanged on an idle Canary): until it does, the phase still tells of the previous release. (Held at a
    confirm-rollout gate, Waiting, the hash differs too, but the run has started.)"""
    applied = status.get("lastAppliedSpec") or ""
    if spec_hash is None or not applied or status.get("phase") not in IDLE_PHASES:
        return False
    return spec_hash not in (applied, status.get("lastPromotedSpec") or "")


@dataclass(frozen=True)
class Snapshot:
    """One Canary as `status` and `get` show it: its status, the current run's latest tick and recent events."""

    namespace: str
    name: str
    phase: str
    weight: int
    failed_checks: int
    threshold: int | None
    iterations: int
    last_transition: str
    pending: bool = False
    run: str = ""
    revision: str = ""
    decision: str = ""
    reason: str = ""
    tick_at: str = ""
    checks: tuple[dict[str, Any], ...] = ()
    webhooks: tuple[dict[str, Any], ...] = ()
    events: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        """Whether the release is over: an end phase that is not the previous release's."""
        return self.phase in END_PHASES and not self.pending

    def to_json(self) -> dict[str, Any]:
        """The JSON form (`-o json`, and each `-o jsonl` line)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "phase": self.phase,
            "canaryWeight": self.weight,
            "failedChecks": self.failed_checks,
            "threshold": self.threshold,
            "iterations": self.iterations,
            "lastTransitionTime": self.last_transition,
            "pending": self.pending,
            "run": self.run or None,
            "revision": self.revision or None,
            "decision": self.decision or None,
            "reason": self.reason or None,
            "tick": self.tick_at or None,
            "checks": list(self.checks),
            "webhooks": list(self.webhooks),
            "events": list(self.events),
        }


def _events(events: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The newest RECENT_EVENTS events, oldest first, as {time, type, message, count}."""

    def when(event: dict[str, Any]) -> str:
        meta = event.get("metadata") or {}
        return str(event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or "")

    ordered = sorted(events, key=lambda e: (when(e), str((e.get("metadata") or {}).get("name", ""))))
    return tuple(
        {
            "time": when(e),
            "type": str(e.get("type") or ""),
            "message": str(e.get("message") or ""),
            "count": int(e.get("count") or 1),
        }
        for e in ordered[-RECENT_EVENTS:]
    )


def tick_reason(tick: dict[str, Any]) -> str:
    """A tick's reason in a few words: its first failing check or refused webhook, else its last event."""
    records = tick.get("records") or []
    for record in records:
        if record.get("kind") == "check" and record.get("verdict") not in ("pass", "ADVANCE", "PROMOTE"):
            return "check " + check_text(record)
        if record.get("kind") == "webhook" and record.get("verdict") == "refused":
            text = f"webhook {record.get('name')} ({record.get('type')}) refused"
            return f"{text}: {record['message']}" if record.get("message") else text
    events = [r for r in records if r.get("kind") == "event"]
    return str(events[-1].get("message") or "") if events else ""


def snapshot(
    canary: dict[str, Any], run: Run | None, events: list[dict[str, Any]] | None = None, pending: bool = False
) -> Snapshot:
    """The Snapshot of a Canary object, its newest run (None when it has none) and its events."""
    meta = canary.get("metadata") or {}
    spec = canary.get("spec") or {}
    status = canary.get("status") or {}
    threshold = (spec.get("analysis") or {}).get("threshold")
    # a run of an earlier Canary of the same name (not yet garbage-collected) is not this one's
    uid = str(meta.get("uid") or "")
    if run is not None and run.canary_uid and uid and run.canary_uid != uid:
        run = None
    tick = run.ticks[-1] if run is not None and run.ticks else {}
    records = tick.get("records") or []
    return Snapshot(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        phase=str(status.get("phase") or ""),
        weight=int(status.get("canaryWeight") or 0),
        failed_checks=int(status.get("failedChecks") or 0),
        threshold=int(threshold) if isinstance(threshold, int) else None,
        iterations=int(status.get("iterations") or 0),
        last_transition=str(status.get("lastTransitionTime") or ""),
        pending=pending,
        run=run.name if run is not None else "",
        revision=run.revision if run is not None else "",
        decision=str(tick.get("decision") or ""),
        reason=(run.reason or tick_reason(tick)) if run is not None else "",
        tick_at=str(tick.get("last") or tick.get("at") or ""),
        checks=tuple(r for r in records if r.get("kind") == "check"),
        webhooks=tuple(r for r in records if r.get("kind") == "webhook"),
        events=_events(events or []),
    )


# ----- the fleet table -----


def _cut(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: max(0, width - 3)] + "..."


def fleet_head(all_namespaces: bool) -> list[str]:
    """The fleet table's column titles."""
    head = ["NAME", "PHASE", "WEIGHT", "FAILED", "LAST TRANSITION", "RUN", "DECISION", "REASON"]
    return ["NAMESPACE", *head] if all_namespaces else head


def fleet_row(snap: Snapshot, all_namespaces: bool, reason_width: int | None = None) -> list[str]:
    """One Canary's row of the fleet table."""
    phase = f"{snap.phase or 'Unknown'} (new revision pending)" if snap.pending else snap.phase or "Unknown"
    failed = f"{snap.failed_checks}/{snap.threshold}" if snap.threshold is not None else str(snap.failed_checks)
    row = [
        snap.name,
        phase,
        f"{snap.weight}%",
        failed,
        snap.last_transition or "-",
        snap.run or "-",
        snap.decision or "-",
        _cut(snap.reason, reason_width) or "-",
    ]
    return [snap.namespace, *row] if all_namespaces else row


def table(rows: list[list[str]]) -> str:
    """Rows as columns padded to their widest cell, three spaces apart, as `serinus history` prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def fleet_table(snaps: list[Snapshot], all_namespaces: bool, reason_width: int | None = None) -> str:
    """The fleet table: a head line and one row per Canary, by namespace and name."""
    ordered = sorted(snaps, key=lambda s: (s.namespace, s.name))
    rows = [fleet_row(s, all_namespaces, reason_width) for s in ordered]
    return table([fleet_head(all_namespaces), *rows])


# ----- one Canary -----


def check_row(check: dict[str, Any]) -> list[str]:
    """A check's row: name, value, rule, requests (when known) and verdict."""
    samples = check.get("samples")
    return [
        str(check.get("name") or "?"),
        _fmt(check.get("value")),
        rule_text(check),
        _fmt(samples) if samples is not None else "-",
        str(check.get("verdict") or "?"),
    ]


def screen(snap: Snapshot) -> str:
    """The one-screen status: phase, weight, failed checks, the current run's latest tick with each check's value
    against its bound, and the recent events."""
    lines = [f"Canary {snap.name}.{snap.namespace}"]
    lines.append(
        f"Phase:    {snap.phase or 'Unknown'}" + (f" since {snap.last_transition}" if snap.last_transition else "")
    )
    if snap.pending:
        lines.append("          a new revision is pending: the operator has not started its run yet")
    lines.append(f"Weight:   canary {snap.weight}%")
    failed = (
        f"{snap.failed_checks} of threshold {snap.threshold}" if snap.threshold is not None else str(snap.failed_checks)
    )
    lines.append(f"Failed:   {failed}" + (f", iteration {snap.iterations}" if snap.iterations else ""))
    if snap.run:
        lines.append(f"Run:      {snap.run}, revision {snap.revision}")
        lines.append(f"Decision: {snap.decision or '-'}" + (f" at {snap.tick_at}" if snap.tick_at else ""))
        if snap.reason:
            lines.append(f"Reason:   {snap.reason}")
    else:
        lines.append("Run:      none recorded")
    if snap.checks:
        lines.append("")
        lines.append(
            "\n".join(
                "  " + line
                for line in table(
                    [["CHECK", "VALUE", "BOUND", "REQUESTS", "VERDICT"], *[check_row(c) for c in snap.checks]]
                ).splitlines()
            )
        )
    for hook in snap.webhooks:
        text = f"  webhook {hook.get('name')} ({hook.get('type')}) {hook.get('verdict')}"
        lines.append(f"{text}: {hook['message']}" if hook.get("message") else text)
    if snap.events:
        lines.append("")
        lines.append("Events:")
        for event in snap.events:
            count = f" (x{event['count']})" if event["count"] > 1 else ""
            lines.append(f"  {event['time']}  {event['type']:<7}  {event['message']}{count}")
    return "\n".join(lines)


def line(snap: Snapshot, at: str) -> str:
    """One change on one line, for logs: time, Canary, phase, weight, failed checks, decision and reason."""
    parts = [at, f"{snap.name}.{snap.namespace}", snap.phase or "Unknown"]
    if snap.pending:
        parts.append("(new revision pending)")
    parts.append(f"canary {snap.weight}%")
    failed = f"{snap.failed_checks}/{snap.threshold}" if snap.threshold is not None else str(snap.failed_checks)
    parts.append(f"failed {failed}")
    if snap.run:
        parts.append(f"{snap.run} {snap.decision or '-'}")
    text = " ".join(parts)
    reason = snap.reason or (snap.events[-1]["message"] if snap.events else "")
    return f"{text}: {reason}" if reason else text


def json_line(snap: Snapshot, at: str) -> str:
    """One change as one JSON object on one line (`-o jsonl`), with the time it was seen."""
    return json.dumps({"time": at, **snap.to_json()}, separators=(",", ":"))
