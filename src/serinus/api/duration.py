"""Go `time.Duration` strings: parse like `time.ParseDuration`, print like `Duration.String()`.

Flagger reads every interval and timeout with Go's parser, so `1m30s`, `1.5h`, `500ms` and `-2s` mean what Go
says they mean, and printing a duration must give Go's canonical text (`1m0s`, `1h0m0s`, `1.5s`, `0s`).
Durations are whole nanoseconds held in a signed 64-bit range, as in Go.
"""

from __future__ import annotations

from serinus.errors import InvalidSpecError

NANOSECOND = 1
MICROSECOND = 1_000 * NANOSECOND
MILLISECOND = 1_000 * MICROSECOND
SECOND = 1_000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

MIN_DURATION = -(1 << 63)
MAX_DURATION = (1 << 63) - 1

# Go accepts both the micro sign (U+00B5) and the Greek mu (U+03BC) and prints the micro sign.
_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,
    "\u03bcs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_LIMIT = 1 << 63


class DurationError(InvalidSpecError):
    """A string is not a Go duration; the message is Go's own (`time: invalid duration "x"`)."""


def _quote(text: str) -> str:
    return '"' + text + '"'


def _leading_int(s: str) -> tuple[int, str] | None:
    """Consume leading digits; None on overflow past 2**63 (Go's errLeadingInt)."""
    x = 0
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        if x > _LIMIT // 10:
            return None
        x = x * 10 + ord(s[i]) - ord("0")
        if x > _LIMIT:
            return None
        i += 1
    return x, s[i:]


def _leading_fraction(s: str) -> tuple[int, float, str]:
    """Consume fraction digits; digits past int64 precision are dropped, as Go does."""
    x = 0
    scale = 1.0
    overflow = False
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        if not overflow:
            if x > (_LIMIT - 1) // 10:
                overflow = True
            else:
                y = x * 10 + ord(s[i]) - ord("0")
                if y > _LIMIT:
                    overflow = True
                else:
                    x = y
                    scale *= 10
        i += 1
    return x, scale, s[i:]


def parse_duration(text: str) -> int:
    """Parse a Go duration string into nanoseconds, exactly as `time.ParseDuration` does."""
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError("time: invalid duration " + _quote(orig))
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise DurationError("time: invalid duration " + _quote(orig))
        before = len(s)
        leading = _leading_int(s)
        if leading is None:
            raise DurationError("time: invalid duration " + _quote(orig))
        value, s = leading
        pre = before != len(s)
        frac, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            before = len(s)
            frac, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:
            raise DurationError("time: invalid duration " + _quote(orig))
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise DurationError("time: missing unit in duration " + _quote(orig))
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise DurationError("time: unknown unit " + _quote(unit_text) + " in duration " + _quote(orig))
        if value > _LIMIT // unit:
            raise DurationError("time: invalid duration " + _quote(orig))
        value *= unit
        if frac > 0:
            # Go computes the fraction in float64 (nanosecond-exact up to hours); int() truncates like Go's uint64().
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                raise DurationError("time: invalid duration " + _quote(orig))
        total += value
        if total > _LIMIT:
            raise DurationError("time: invalid duration " + _quote(orig))
    if neg:
        return -total
    if total > MAX_DURATION:
        raise DurationError("time: invalid duration " + _quote(orig))
    return total


def _frac(value: int, precision: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of value / 10**precision without trailing zeros, and the integer part."""
    digits = ""
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def format_duration(nanoseconds: int) -> str:
    """Print nanoseconds the way Go's `Duration.String()` does (`1h2m3.5s`, `1.5ms`, `0s`)."""
    if not MIN_DURATION <= nanoseconds <= MAX_DURATION:
        raise ValueError(f"{nanoseconds} ns is outside Go's time.Duration range")
    neg = nanoseconds < 0
    u = -nanoseconds if neg else nanoseconds
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            unit, precision = "ns", 0
        elif u < MILLISECOND:
            unit, precision = "\u00b5s", 3
        else:
            unit, precision = "ms", 6
        frac, whole = _frac(u, precision)
        text = f"{whole}{frac}{unit}"
    else:
        frac, whole = _frac(u, 9)
        text = f"{whole % 60}{frac}s"
        minutes = whole // 60
        if minutes > 0:
            text = f"{minutes % 60}m" + text
            hours = minutes // 60
            if hours > 0:
                text = f"{hours}h" + text
    return "-" + text if neg else text


def duration_seconds(text: str) -> float:
    """Parse a Go duration string into (float) seconds."""
    return parse_duration(text) / SECOND


def positive_seconds(text: str) -> float:
    """Seconds of a Go duration that must be above zero (timeouts, periods); DurationError otherwise."""
    seconds = duration_seconds(text)
    if seconds <= 0:
        raise DurationError(f"{text!r} is not a positive duration")
    return seconds


def is_duration(text: str) -> bool:
    """True when Go's parser accepts the text."""
    try:
        parse_duration(text)
    except DurationError:
        return False
    return True
