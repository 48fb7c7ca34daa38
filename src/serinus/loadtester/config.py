"""The load tester's settings and the pure parsers behind its flags (Go durations, Go booleans)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
_UNIT = "|".join(sorted(map(re.escape, _UNIT_SECONDS), key=len, reverse=True))
_DURATION = re.compile(rf"[-+]?(?:{_NUMBER}(?:{_UNIT}))+")
_PART = re.compile(rf"({_NUMBER})({_UNIT})")

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (`1h`, `30s`, `1m30s`, `1.5s`, `300ms`), read as Go's time.ParseDuration does."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _DURATION.fullmatch(text):
        raise ValueError(f"invalid duration {text!r}: use a Go duration such as 30s, 5m or 1h30m")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    return -seconds if text.startswith("-") else seconds


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
