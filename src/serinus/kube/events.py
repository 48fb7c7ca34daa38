"""Kubernetes Events about Canaries, written the way Flagger's (client-go's) recorder writes them.

Each event is a core/v1 Event on the Canary with reason `Synced` and source component `flagger`, so that
dashboards and alert rules built on Flagger's events keep working. The recorder mirrors client-go's
EventCorrelator (tools/record/events_cache.go) step by step, so that the Events on the API server (their
messages, counts, timestamps, and which object is created and which patched) are those Flagger leaves:

- the EventAggregator: events of one source, involved object, type, reason and reporting controller/instance
  with 10 distinct messages within a sliding 10 minutes are combined: from the 10th distinct message on, one
  Event keyed by that group (not by the message) carries "(combined from similar events): " + the latest
  message and is patched at each later one;
- the eventLogger: a repeat of an event (same key) patches the first one's `count`, `lastTimestamp` and
  `message`, with no time limit (only the LRU cache forgets);
- the spam filter: a token bucket per source, object and type (burst 25, one more every 5 minutes) drops
  events beyond it, after the count was taken (so the next written one jumps).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

log = logging.getLogger(__name__)

REASON = "Synced"
COMPONENT = "flagger"
#: client-go's EventAggregatorByReasonMessageFunc
COMBINED = "(combined from similar events): "
#: client-go's defaultAggregateMaxEvents: the number of distinct messages in a group that starts combining
AGGREGATE_MAX_EVENTS = 10
#: client-go's defaultSpamBurst and defaultSpamQPS
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0

_NS = 1_000_000_000
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class InvolvedObject:
    """The object an event is about (a Canary, usually)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str | None = None

    def reference(self) -> ObjectReference:
        """The core/v1 ObjectReference of this object."""
        return ObjectReference(
            apiVersion=self.api_version, kind=self.kind, namespace=self.namespace, name=self.name, uid=self.uid
        )


class _Lru(Generic[K, V]):
    """k8s.io/utils/lru: a read or a write makes an entry the newest; the oldest goes past the size."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The entry, made the newest, or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def add(self, key: K, value: V) -> None:
        """Store the entry as the newest, dropping the oldest beyond the size."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


@dataclass
class _Aggregate:
    """client-go's aggregateRecord: the distinct messages of a group (in the order first seen) and when the group
    last had an event."""

    messages: dict[str, None] = field(default_factory=dict)
    last_ns: int = 0


@dataclass
class _Log:
    """client-go's eventLog: the Event that a repeat patches."""

    name: str
    count: int
    first: dt.datetime


@dataclass
class _TokenBucket:
    """golang.org/x/time/rate's Limiter as client-go's spam filter uses it (full at first)."""

    tokens: float
    last_ns: int

    def try_accept(self, now_ns: int, qps: float, burst: int) -> bool:
        """Take one token if there is one, after refilling for the time since the last call."""
        elapsed = max(0, now_ns - self.last_ns) / _NS
        self.tokens = min(float(burst), self.tokens + elapsed * qps)
        self.last_ns = max(self.last_ns, now_ns)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class EventRecorder:
    """Writes Events through one client; never raises, because an event must not stop an analysis."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        component: str = COMPONENT,
        host: str | None = None,
        window_s: float = 600.0,
        cache_size: int = 4096,
        max_events: int = AGGREGATE_MAX_EVENTS,
        spam_burst: int = SPAM_BURST,
        spam_qps: float = SPAM_QPS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.window_s = window_s
        self.cache_size = cache_size
        self.max_events = max_events
        self.spam_burst = spam_burst
        self.spam_qps = spam_qps
        #: nanoseconds since the epoch (client-go's clock.PassiveClock); names, timestamps and the windows
        self.clock = clock
        self._aggregates: _Lru[tuple[str, ...], _Aggregate] = _Lru(cache_size)
        self._logs: _Lru[tuple[str, ...], _Log] = _Lru(cache_size)
        self._spam: _Lru[tuple[str, ...], _TokenBucket] = _Lru(cache_size)

    async def record(self, obj: InvolvedObject, event_type: str, message: str, reason: str = REASON) -> None:
        """Record one event (`Normal` or `Warning`) as client-go's EventCorrelator then recordToSink would."""
        now_ns = self.clock()
        now = dt.datetime.fromtimestamp(now_ns // _NS, dt.UTC)
        host = self.host or ""
        namespace = obj.namespace or "default"
        involved = (obj.kind, obj.namespace, obj.name, obj.uid or "", obj.api_version)
        # EventAggregatorByReasonFunc: ReportingController/Instance are the source's in client-go's makeEvent
        group = (self.component, host, *involved, event_type, reason, self.component, host)
        combined = self._aggregate(group, message, now_ns)
        if combined:
            key: tuple[str, ...] = ("aggregate", *group)
            message = COMBINED + message
        else:
            # getEventKey (the empty string is the ObjectReference's fieldPath, which Serinus never sets)
            key = ("event", self.component, host, *involved[:3], "", *involved[3:], event_type, reason, message)
        last = self._logs.get(key)
        seen = _Log(f"{obj.name}.{now_ns:x}", 1, now) if last is None else _Log(last.name, last.count + 1, last.first)
        # eventObserve counts before the spam filter decides, so an event it drops still adds to the next count
        self._logs.add(key, seen)
        spam_key = (self.component, host, *involved, event_type)
        bucket = self._spam.get(spam_key) or _TokenBucket(float(self.spam_burst), now_ns)
        accepted = bucket.try_accept(now_ns, self.spam_qps, self.spam_burst)
        self._spam.add(spam_key, bucket)
        if not accepted:
            log.debug("event on %s/%s dropped by the spam filter: %s", namespace, obj.name, message)
            return
        event = Event(
            metadata=ObjectMeta(name=seen.name, namespace=namespace),
            involvedObject=obj.reference(),
            reason=reason,
            message=message,
            type=event_type,
            source=EventSource(component=self.component, host=self.host),
            firstTimestamp=seen.first,
            lastTimestamp=now,
            count=seen.count,
            # the combined Event is built anew (client-go's eventCopy), without ReportingController/Instance
            reportingComponent="" if combined else self.component,
            reportingInstance="" if combined else host,
        )
        try:
            if seen.count > 1:
                try:
                    await self.client.patch(
                        Event,
                        seen.name,
                        {"count": seen.count, "lastTimestamp": _ts(now), "message": message},
                        namespace=namespace,
                        patch_type=PatchType.MERGE,
                    )
                    return
                except ApiError as err:
                    if err.status.code != 404:
                        raise
                    # The Event expired or was deleted: recordEvent creates it again, name and count as patched.
            await self.client.create(event)
        except ApiError as err:
            log.warning("could not record event on %s/%s: %s", namespace, obj.name, err)
        except OSError as err:
            log.warning("could not record event on %s/%s: %s", namespace, obj.name, err)

    def _aggregate(self, group: tuple[str, ...], message: str, now_ns: int) -> bool:
        """client-go's EventAggregate: whether this event goes into its group's combined Event."""
        record = self._aggregates.get(group)
        if record is None or now_ns - record.last_ns > self.window_s * _NS:
            record = _Aggregate()
        record.messages[message] = None
        record.last_ns = now_ns
        self._aggregates.add(group, record)
        if len(record.messages) < self.max_events:
            return False
        # client-go pops an arbitrary message (a Go map's random order) to keep the set below the maximum; the
        # oldest is the choice that agrees with client-go's likeliest outcome for a repeat of a recent message.
        del record.messages[next(iter(record.messages))]
        return True


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
