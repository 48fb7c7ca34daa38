"""The recorder leaves the Events client-go's EventCorrelator (Flagger's recorder) leaves: exact repeats counted,
the 10th and later distinct messages of one group within 10 minutes combined into one patched Event, and a
source's burst beyond 25 events about one object dropped."""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import Event

from serinus.kube.events import COMBINED, EventRecorder, InvolvedObject
from serinus.kube.memory import MemoryCluster

CANARY = InvolvedObject("flagger.app/v1beta1", "Canary", "test", "podinfo", uid="0b6e7d2c")
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


class Writes(MemoryCluster):
    """The in-memory API, noting which Event each write created or patched."""

    def __init__(self) -> None:
        super().__init__(namespace="test")
        self.writes: list[tuple[str, str]] = []

    async def create(self, obj: Any, *, namespace: str | None = None, **kw: Any) -> Any:
        """Note the create, then store."""
        self.writes.append(("create", obj.metadata.name))
        return await super().create(obj, namespace=namespace, **kw)

    async def patch(self, res: Any, name: str, patch: Any, *, namespace: str | None = None, **kw: Any) -> Any:
        """Note the patch, then apply it."""
        self.writes.append(("patch", name))
        return await super().patch(res, name, patch, namespace=namespace, **kw)


class Clock:
    """A settable clock in nanoseconds since the epoch that moves on 1 ns at each reading, as a real one does."""

    def __init__(self) -> None:
        self.s = T0
        self.readings = 0

    def __call__(self) -> int:
        self.readings += 1
        return self.s * 1_000_000_000 + self.readings


def _ts(s: int) -> str:
    return f"2026-01-01T{(s - T0) // 3600:02d}:{(s - T0) // 60 % 60:02d}:{(s - T0) % 60:02d}Z"


async def _events(api: MemoryCluster) -> list[tuple[str, int, str, str]]:
    """(message, count, firstTimestamp, lastTimestamp) of each stored Event, in the order created."""
    out = []
    async for event in api.list(Event, namespace="test"):
        out.append((event.message or "", event.count or 0, _iso(event.firstTimestamp), _iso(event.lastTimestamp)))
    return out


def _name(k: int) -> str:
    """client-go's name of the Event first written at the k-th event, 5 s apart: the object's name and the time."""
    return f"podinfo.{(T0 + 5 * k) * 1_000_000_000 + k:x}"


def _iso(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


async def test_fourteen_distinct_messages_and_repeats_leave_client_gos_events() -> None:
    """Nine messages stay as they are; the 10th distinct one opens one combined Event that each later new (or
    forgotten) message patches with its count, last time and message; repeats of remembered messages count
    on their own Event, exactly as client-go's aggregator and logger do."""
    api, clock = Writes(), Clock()
    recorder = EventRecorder(api, clock=clock)  # type: ignore[arg-type]

    async def say(message: str) -> None:
        clock.s += 5
        await recorder.record(CANARY, "Normal", message)

    for i in range(1, 10):
        await say(f"Advance podinfo.test canary weight {5 * i}")  # t0+5 .. t0+45
    await say("Advance podinfo.test canary weight 15")  # t0+50: a repeat of the 3rd, counted on its Event
    await say("Advance podinfo.test canary weight 50")  # t0+55: the 10th distinct message: combined
    await say("Advance podinfo.test canary weight 50")  # t0+60: still remembered, so not combined: its own Event
    for i in range(11, 15):
        await say(f"Advance podinfo.test canary weight {5 * i}")  # t0+65 .. t0+80: combined, patched
    await say("Advance podinfo.test canary weight 5")  # t0+85: forgotten when the 10th came: combined
    await say("Advance podinfo.test canary weight 40")  # t0+90: still remembered: counted on its own Event
    events = await _events(api)
    plain = [(f"Advance podinfo.test canary weight {5 * i}", 1, _ts(T0 + 5 * i), _ts(T0 + 5 * i)) for i in range(1, 10)]
    plain[2] = ("Advance podinfo.test canary weight 15", 2, _ts(T0 + 15), _ts(T0 + 50))
    plain[7] = ("Advance podinfo.test canary weight 40", 2, _ts(T0 + 40), _ts(T0 + 90))
    assert events == [
        *plain,
        (COMBINED + "Advance podinfo.test canary weight 5", 6, _ts(T0 + 55), _ts(T0 + 85)),
        ("Advance podinfo.test canary weight 50", 1, _ts(T0 + 60), _ts(T0 + 60)),
    ]
    combined = _name(11)
    assert api.writes[9:] == [
        ("patch", _name(3)),
        ("create", combined),
        ("create", _name(12)),
        *[("patch", combined)] * 5,
        ("patch", _name(8)),
    ]
    stored = await api.get(Event, combined, namespace="test")
    assert (stored.reason, stored.type, stored.source.component) == ("Synced", "Normal", "flagger")
    assert (stored.reportingComponent, stored.reportingInstance) == ("", "")


async def test_each_reason_and_type_is_its_own_group() -> None:
    """Serinus-only events with their own reason, and Warnings, do not count towards the Synced Normal group."""
    api, clock = Writes(), Clock()
    recorder = EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    for i in range(9):
        clock.s += 1
        await recorder.record(CANARY, "Normal", f"Advance podinfo.test canary weight {i}")
        await recorder.record(CANARY, "Normal", f"foreign writer {i}", reason="ForeignStatusWriter")
        await recorder.record(CANARY, "Warning", f"Halt advancement {i}")
    assert not any(message.startswith(COMBINED) for message, *_ in await _events(api))
    await recorder.record(CANARY, "Normal", "foreign writer 9", reason="ForeignStatusWriter")
    assert [m for m, *_ in await _events(api) if m.startswith(COMBINED)] == [COMBINED + "foreign writer 9"]


async def test_the_group_starts_afresh_after_ten_quiet_minutes() -> None:
    """A new message more than 600 s after the group's last event is written as is; within 600 s it is combined;
    an exact repeat is counted on its old Event however late it comes."""
    api, clock = Writes(), Clock()
    recorder = EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    for i in range(9):
        clock.s += 590  # each within 600 s of the one before: the window slides
        await recorder.record(CANARY, "Normal", f"message {i}")
    clock.s += 599
    await recorder.record(CANARY, "Normal", "message 9")
    clock.s += 601
    await recorder.record(CANARY, "Normal", "message 10")
    await recorder.record(CANARY, "Normal", "message 0")
    events = {message: count for message, count, *_ in await _events(api)}
    assert events[COMBINED + "message 9"] == 1
    assert events["message 10"] == 1
    assert events["message 0"] == 2


async def test_spam_filter_drops_past_the_burst_and_counts_what_it_dropped() -> None:
    """The 26th event about one object within moments is not written; the next one, 300 s later, patches the
    combined Event with a count that includes the dropped one, as client-go's correlator does."""
    api, clock = Writes(), Clock()
    recorder = EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    for i in range(26):
        await recorder.record(CANARY, "Normal", f"message {i}")
    assert len(api.writes) == 25
    events = {message: count for message, count, *_ in await _events(api)}
    assert events[COMBINED + "message 24"] == 16
    clock.s += 300
    await recorder.record(CANARY, "Normal", "message 26")
    events = {message: count for message, count, *_ in await _events(api)}
    assert events[COMBINED + "message 26"] == 18
    await recorder.record(CANARY, "Warning", "another type has its own bucket")
    assert len(api.writes) == 27


async def test_a_deleted_combined_event_is_created_again_with_its_count() -> None:
    """When the patched Event is gone (expired), it is created again under its name with the next count."""
    api, clock = Writes(), Clock()
    recorder = EventRecorder(api, clock=clock)  # type: ignore[arg-type]
    for i in range(11):
        clock.s += 1
        await recorder.record(CANARY, "Normal", f"message {i}")
    name = api.writes[-1][1]
    await api.delete(Event, name, namespace="test")
    clock.s += 1
    await recorder.record(CANARY, "Normal", "message 11")
    assert api.writes[-2:] == [("patch", name), ("create", name)]
    stored = await api.get(Event, name, namespace="test")
    assert (stored.message, stored.count) == (COMBINED + "message 11", 3)
    assert _iso(stored.firstTimestamp) == _ts(T0 + 10)
