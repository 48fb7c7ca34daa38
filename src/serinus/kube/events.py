"""Kubernetes Events about Canaries, written the way Flagger's (client-go's) recorder writes them.

Each event is a core/v1 Event on the Canary with reason `Synced` and source component `flagger`, so that
dashboards and alert rules built on Flagger's events keep working. A repeat of the same event (same object,
type, reason and message) within the aggregation window is not a new object: its `count` goes up and its
`lastTimestamp` moves, as client-go's event correlator does.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

log = logging.getLogger(__name__)

REASON = "Synced"
COMPONENT = "flagger"


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


@dataclass
class _Seen:
    name: str
    count: int
    at: float


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
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.window_s = window_s
        self.cache_size = cache_size
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()

    async def record(self, obj: InvolvedObject, event_type: str, message: str, reason: str = REASON) -> None:
        """Record one event (`Normal` or `Warning`), aggregating exact repeats into one object's count."""
        key = (obj.namespace, obj.kind, obj.name, obj.uid or "", event_type, reason, message)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        seen = self._seen.get(key)
        try:
            if seen is not None and time.monotonic() - seen.at < self.window_s:
                seen.count += 1
                seen.at = time.monotonic()
                await self.client.patch(
                    Event,
                    seen.name,
                    {"count": seen.count, "lastTimestamp": _ts(now)},
                    namespace=obj.namespace,
                    patch_type=PatchType.MERGE,
                )
                self._seen.move_to_end(key)
                return
            name = f"{obj.name}.{time.time_ns():x}"
            await self.client.create(
                Event(
                    metadata=ObjectMeta(name=name, namespace=obj.namespace),
                    involvedObject=obj.reference(),
                    reason=reason,
                    message=message,
                    type=event_type,
                    source=EventSource(component=self.component, host=self.host),
                    firstTimestamp=now,
                    lastTimestamp=now,
                    count=1,
                    reportingComponent=self.component,
                    reportingInstance=self.host or "",
                )
            )
            self._seen[key] = _Seen(name, 1, time.monotonic())
            while len(self._seen) > self.cache_size:
                self._seen.popitem(last=False)
        except ApiError as err:
            if seen is not None and err.status.code == 404:
                # The aggregated event expired or was deleted: start a fresh one.
                del self._seen[key]
                await self.record(obj, event_type, message, reason)
                return
            log.warning("could not record event on %s/%s: %s", obj.namespace, obj.name, err)
        except OSError as err:
            log.warning("could not record event on %s/%s: %s", obj.namespace, obj.name, err)


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
