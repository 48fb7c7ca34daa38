"""Migration safety: a Canary another controller (Flagger) is driving is left alone.

The signal is the Canary's own `metadata.managedFields`. Every write names its field manager, and the API server
stamps each manager's entry with the time its fields last changed; Flagger writes a Canary's status as manager
`flagger` (client-go's default, from its binary's name) at every step of an analysis and at every phase change.
A status entry of any manager but Serinus's own, changed within `--foreign-status-window`, means another
controller is acting on the Canary now, so Serinus only records a Warning event and does nothing else.

Why this signal and not Flagger's leader Lease: the Lease exists only when Flagger runs with leader election
(its chart's default is off), lives in a namespace Serinus cannot know, and reading it would need RBAC on Leases
everywhere; managedFields come with the Canary Serinus already reads. The limit: a Flagger idle on a Canary that
has not changed phase for longer than the window writes nothing and is not seen, hence the switch-over order in
docs/migration.md (stop Flagger first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: reason of the Warning event recorded on a Canary Serinus leaves to another controller
REASON = "DrivenByAnotherController"


@dataclass(frozen=True)
class ForeignWriter:
    """Another field manager that wrote the Canary's status recently."""

    manager: str
    age_s: float

    def message(self, name: str, namespace: str) -> str:
        """The Warning event's message: who, and what to do (stable, so repeated events aggregate)."""
        return (
            f"Canary {name}.{namespace} is driven by another controller: its status was written by field manager "
            f'"{self.manager}"; Serinus leaves it alone until that stops (stop the other controller to switch '
            f"over, see docs/migration.md)"
        )


def _time(text: object) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _writes_status(entry: Mapping[str, Any]) -> bool:
    fields = entry.get("fieldsV1")
    return entry.get("subresource") == "status" or (isinstance(fields, Mapping) and "f:status" in fields)


def foreign_writer(raw: Mapping[str, Any], ours: str, now: dt.datetime, window_s: float) -> ForeignWriter | None:
    """The most recent manager other than `ours` that changed the Canary's status within `window_s` seconds of
    `now`, or None (also when `window_s` is 0: the check is off)."""
    if window_s <= 0:
        return None
    meta = raw.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    found: ForeignWriter | None = None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or not _writes_status(entry):
            continue
        manager, moment = entry.get("manager"), _time(entry.get("time"))
        if not isinstance(manager, str) or manager == ours or moment is None:
            continue
        age = max(0.0, (now - moment).total_seconds())
        if age <= window_s and (found is None or age < found.age_s):
            found = ForeignWriter(manager, age)
    return found
