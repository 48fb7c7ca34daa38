"""A virtual clock: time moves only when the simulation says so."""

from __future__ import annotations

import datetime as dt

#: simulations start at a fixed instant so their output is reproducible
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class VirtualClock:
    """The engine's Clock port, driven by the simulator."""

    def __init__(self, start: dt.datetime = EPOCH) -> None:
        self.start = start
        self.elapsed = 0.0

    def now(self) -> dt.datetime:
        """The simulated wall-clock time."""
        return self.start + dt.timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        """Simulated seconds since the start."""
        return self.elapsed

    def set(self, seconds: float) -> None:
        """Move to `seconds` after the start (never backwards)."""
        self.elapsed = max(self.elapsed, seconds)
