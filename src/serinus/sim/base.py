"""What every part of a scenario shares: its error, ScenarioError, and its times (a Go duration or seconds)."""

from __future__ import annotations

import math

from serinus.api.duration import DurationError, duration_seconds
from serinus.api.problems import yaml_number
from serinus.errors import InvalidSpecError


class ScenarioError(InvalidSpecError):
    """The scenario cannot be used: the message names the field and what is wrong."""


def time_seconds(value: object) -> float:
    """A Go duration (`90s`, `1m30s`) or a number of seconds; anything else raises ValueError saying why."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time (use a duration such as 90s or 2m)")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{yaml_number(value)} is not a time (use a duration such as 90s or 2m)")
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        return float(value)
    if isinstance(value, str):
        try:
            seconds = duration_seconds(value.strip())
        except DurationError:
            raise ValueError(f"{value!r} is not a time (use a duration such as 90s or 2m)") from None
        if seconds < 0:
            raise ValueError(f"{value!r} is negative")
        return seconds
    raise ValueError(f"{value!r} is not a time (use a duration such as 90s or 2m)")


def parse_time(value: object, where: str) -> float:
    """A Go duration (`90s`, `1m30s`) or a number of seconds; a mistake raises ScenarioError naming `where`."""
    try:
        return time_seconds(value)
    except ValueError as err:
        raise ScenarioError(f"{where}: {err}") from None
