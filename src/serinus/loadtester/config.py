"""The load tester's settings and the pure parsers behind its flags (Go durations, Go booleans)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from serinus.api.duration import DurationError, parse_duration

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (`1h`, `30s`, `1m30s`, `1.5s`, `300ms`), read as Go's time.ParseDuration does."""
    try:
        return parse_duration(text) / 1e9
    except DurationError as err:
        raise ValueError(f"invalid duration {text!r}: use a Go duration such as 30s, 5m or 1h30m") from err


def parse_go_bool(text: str | None) -> bool:
    """True for the spellings Go's strconv.ParseBool reads as true; anything else (even unparsable) is false."""
    return text in _GO_TRUE


@dataclass(frozen=True)
class Settings:
    """What the operator of the load tester chose on its command line."""

    timeout: float = 3600.0
    """Upper bound, in seconds, of one command's run time; the whole process group is killed after it."""
    namespace_regexp: re.Pattern[str] | None = None
    """Only payloads whose namespace this matches (anywhere, as Go's MatchString) are served."""
    allow_commands: tuple[re.Pattern[str], ...] = ()
    """When not empty, a command line must fully match one of these to run."""
    disable_bash: bool = False
    """Refuse `bash` tasks."""
