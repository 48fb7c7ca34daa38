"""Reading a provider's answer without trusting its shape: every parser returns a finite float or raises one of
serinus.errors' MetricsError kinds, never anything else.

The rule each provider follows, after Go's json.Unmarshal in Flagger: a key that is missing or null is "no values
found" (where Flagger's zero value means that too); a value of the wrong JSON type, a string that is not a number,
and an infinite number are MalformedAnswer, so the check fails and says what came back. NaN stays what it was
before: "no values found" (Prometheus' answer for a success rate without traffic, as in Flagger).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from serinus.errors import MetricsError

#: builds the provider's MalformedAnswer for a description of what is wrong
Fail = Callable[[str], MetricsError]


def kind_of(value: Any) -> str:
    """The JSON type of a parsed value, as a person would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(value: Any, limit: int = 60) -> str:
    """A value for a message: ±Inf and NaN as Prometheus writes them, strings quoted and cut at `limit`."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def obj(value: Any, what: str, fail: Fail) -> dict[str, Any]:
    """`value` as a JSON object; null is an empty one (a missing key), any other type is malformed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(f"{what} is {kind_of(value)}, not an object")
    return value


def items(value: Any, what: str, fail: Fail) -> list[Any]:
    """`value` as a JSON list; null is an empty one (a missing key), any other type is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(f"{what} is {kind_of(value)}, not a list")
    return value


def number(value: Any, what: str, fail: Fail, *, strings: bool = True) -> float | None:
    """A JSON number (or, with `strings`, a numeric string such as Prometheus' "0.25") as a float: None for null,
    NaN as NaN (the caller's no-data rule applies), and MalformedAnswer for ±Inf, booleans, lists, objects and
    strings that are not numbers."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str) or (isinstance(value, str) and not strings):
        raise fail(f"{what} is {kind_of(value)}, not a number")
    if isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise fail(f"{what} {shown(value)} is not a number") from None
    else:
        try:
            out = float(value)
        except OverflowError:  # an integer beyond a double
            raise fail(f"{what} {shown(value)} is out of range") from None
    if math.isinf(out):
        raise fail(f"{what} is {shown(out)}, not a finite number")
    return out


def finite(value: float, what: str, fail: Fail) -> float:
    """`value` itself when it is a finite number; MalformedAnswer otherwise (NaN included)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"{what} is {shown(value)}, not a finite number")
    return float(value)
