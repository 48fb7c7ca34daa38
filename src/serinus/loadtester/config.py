"""The load tester's settings and the pure parsers behind its flags (Go durations, Go booleans, Go patterns)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from serinus.api.duration import DurationError, parse_duration

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})

#: Commands (background and blocking) that may run at once unless --max-concurrent-commands says otherwise.
DEFAULT_MAX_CONCURRENT_COMMANDS = 20

# `(?flags)` or `(?flags:` in Python's spelling, which covers Go's i, m and s (Go's U has no Python equivalent and is
# left for re.compile to refuse).
_FLAG_GROUP = re.compile(r"\(\?([aiLmsux]*)(?:-([imsx]*))?([:)])")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (`1h`, `30s`, `1m30s`, `1.5s`, `300ms`), read as Go's time.ParseDuration does."""
    try:
        return parse_duration(text) / 1e9
    except DurationError as err:
        raise ValueError(f"invalid duration {text!r}: use a Go duration such as 30s, 5m or 1h30m") from err


def parse_go_bool(text: str | None) -> bool:
    """True for the spellings Go's strconv.ParseBool reads as true; anything else (even unparsable) is false."""
    return text in _GO_TRUE


def go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile a pattern so that searching it answers as Go's regexp.MatchString does (Flagger's flags use Go).

    Python's `$` also matches before a newline that ends the text, so `^test$` would let `"test\\n"` through where
    Go refuses it: outside multi-line mode each `$` becomes `\\Z` (Go's end of text), and Go's `\\z` is spelt `\\Z`.
    `\\d`, `\\w`, `\\s` and `\\b` are ASCII-only, as in Go. Raises re.error for what Python cannot compile.
    """
    return re.compile(_go_anchors(pattern), re.ASCII)


def _go_anchors(pattern: str) -> str:
    """The pattern with Go's meaning of `$` and `\\z` spelt for Python; everything else is copied as it is."""
    out: list[str] = []
    # (multi-line, verbose) for the group being read, and for each enclosing group: flags end with their group.
    flags = (False, False)
    outer: list[tuple[bool, bool]] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            escape = pattern[i : i + 2]
            out.append("\\Z" if escape == "\\z" else escape)
            i += 2
        elif char == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
        elif char == "(" and pattern.startswith("(?#", i):
            end = _comment_end(pattern, i + 3)
            out.append(pattern[i:end])
            i = end
        elif char == "(":
            group = _FLAG_GROUP.match(pattern, i)
            changed = flags if group is None else _set_flags(flags, group.group(1), group.group(2) or "")
            if group is not None and group.group(3) == ")":
                flags = changed  # `(?m)`: for the rest of the enclosing group
                out.append(group.group(0))
                i = group.end()
            else:
                outer.append(flags)
                flags = changed
                out.append(char)
                i += 1
        elif char == ")":
            flags = outer.pop() if outer else flags
            out.append(char)
            i += 1
        elif char == "$":
            out.append("$" if flags[0] else "\\Z")
            i += 1
        elif char == "#" and flags[1]:
            # A verbose-mode comment runs to the end of the line; a `$` or `[` in it means nothing.
            end = pattern.find("\n", i)
            end = n if end < 0 else end
            out.append(pattern[i:end])
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _set_flags(flags: tuple[bool, bool], on: str, off: str) -> tuple[bool, bool]:
    """(multi-line, verbose) after a flag group turning `on` on and `off` off."""
    multiline, verbose = flags
    return (multiline or "m" in on) and "m" not in off, (verbose or "x" in on) and "x" not in off


def _comment_end(pattern: str, start: int) -> int:
    """Just past the `)` closing a `(?#...)` comment whose text begins at `start` (an escaped `)` does not close it)."""
    i = start
    while i < len(pattern):
        if pattern[i] == ")":
            return i + 1
        i += 2 if pattern[i] == "\\" else 1
    return len(pattern)


def _class_end(pattern: str, start: int) -> int:
    """Where the character class opened at `start` ends, read as Python reads it (a leading `]` is a member)."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    members = 0
    while i < len(pattern):
        if pattern[i] == "]" and members:
            return i + 1
        i += 2 if pattern[i] == "\\" else 1
        members += 1
    return len(pattern)


@dataclass(frozen=True)
class Settings:
    """What the operator of the load tester chose on its command line."""

    timeout: float = 3600.0
    """Upper bound, in seconds, of one command's run time; the whole process group is killed after it."""
    namespace_regexp: re.Pattern[str] | None = None
    """Only payloads whose namespace this matches (searched, as Go's MatchString; compile it with go_regexp)."""
    allow_commands: tuple[re.Pattern[str], ...] = ()
    """When not empty, a command line must fully match one of these to run."""
    disable_bash: bool = False
    """Refuse `bash` tasks."""
    max_concurrent_commands: int = DEFAULT_MAX_CONCURRENT_COMMANDS
    """Commands (background and blocking together) that may run at once; more are answered 429."""
