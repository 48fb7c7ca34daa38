"""What an alert is, and which alert providers want it."""

from __future__ import annotations

from dataclasses import dataclass, field

INFO, WARN, ERROR = "info", "warn", "error"


@dataclass(frozen=True)
class Field:
    """One name/value line shown under an alert's message."""

    name: str
    value: str


@dataclass(frozen=True)
class Alert:
    """One notification about a Canary: `<workload>.<namespace>` is the header, as in Flagger."""

    workload: str
    namespace: str
    message: str
    severity: str = INFO
    fields: tuple[Field, ...] = field(default_factory=tuple)
    phase: str = ""

    @property
    def subject(self) -> str:
        """`<workload>.<namespace>`."""
        return f"{self.workload}.{self.namespace}"


def wants(provider_severity: str | None, alert_severity: str) -> bool:
    """Flagger's filter: a provider at `info` gets everything, `warn` gets warn and error, `error` only errors.

    An empty severity counts as `info`, the default the CRD documents (Flagger's code matches nothing there).
    """
    level = provider_severity or INFO
    return level in (INFO, alert_severity) or (level == WARN and alert_severity == ERROR)
