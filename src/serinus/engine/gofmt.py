"""Numbers and durations printed the way Go's fmt prints them, so event texts match Flagger's byte for byte."""

from __future__ import annotations

import math
from decimal import Decimal

from serinus.api.duration import MAX_DURATION, MIN_DURATION, format_duration

_MS = 1_000_000


def go_value(x: float) -> str:
    """Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e+06 (`1e+06`, `99.5`, `95`)."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(float(x))).normalize().as_tuple()
    assert isinstance(exponent, int)
    ds = "".join(map(str, digits))
    point = len(ds) + exponent  # position of the decimal point relative to the digits
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return f"{prefix}{ds}{'0' * (point - len(ds))}"
    return f"{prefix}{ds[:point]}.{ds[point:]}"


def fits_ms(milliseconds: float) -> bool:
    """Whether whole milliseconds fit Go's time.Duration (about ±292 years): what go_ms can print."""
    return math.isfinite(milliseconds) and MIN_DURATION <= int(milliseconds) * _MS <= MAX_DURATION


def go_ms(milliseconds: float) -> str:
    """Go's `%v` of `time.Duration(ms) * time.Millisecond` (the float truncated to whole milliseconds)."""
    return format_duration(int(milliseconds) * _MS)
