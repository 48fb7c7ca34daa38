"""Go durations: parsed like time.ParseDuration and printed like Duration.String(), checked against real Go.

data/go_durations.json was written by a 40-line Go program (go1.26.8) that ran time.ParseDuration on each
`parse[].in` and time.Duration(ns).String() on each `format[].ns` (the fixed cases plus 150 seeded random ones).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serinus.api.duration import (
    HOUR,
    MAX_DURATION,
    MILLISECOND,
    MIN_DURATION,
    MINUTE,
    SECOND,
    DurationError,
    duration_seconds,
    format_duration,
    is_duration,
    parse_duration,
)

GO = json.loads((Path(__file__).parent / "data" / "go_durations.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", GO["parse"], ids=lambda c: repr(c["in"]))
def test_parse_matches_go(case: dict[str, Any]) -> None:
    """Each input parses to Go's nanoseconds, or fails with Go's exact error text."""
    if "err" in case:
        with pytest.raises(DurationError) as err:
            parse_duration(case["in"])
        assert str(err.value) == case["err"]
    else:
        assert parse_duration(case["in"]) == case["ns"]


@pytest.mark.parametrize("case", GO["format"], ids=lambda c: str(c["ns"]))
def test_format_matches_go(case: dict[str, Any]) -> None:
    """Each duration prints exactly as Go's Duration.String() printed it."""
    assert format_duration(case["ns"]) == case["out"]


def test_go_vectors_cover_errors_and_extremes() -> None:
    """The Go vectors include failures, the int64 bounds and the micro sign, so the tests above bite."""
    assert sum("err" in c for c in GO["parse"]) >= 15
    assert {MIN_DURATION, MAX_DURATION} <= {c["ns"] for c in GO["format"]}
    assert any("\u00b5" in c["out"] for c in GO["format"])


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1m30s", 90 * SECOND),
        ("500ms", 500 * MILLISECOND),
        ("1h", HOUR),
        ("1.5h", 90 * MINUTE),
        ("-2s", -2 * SECOND),
    ],
)
def test_common_forms(text: str, ns: int) -> None:
    """The forms people write in Canaries parse to the expected nanoseconds."""
    assert parse_duration(text) == ns


@pytest.mark.parametrize(("ns", "text"), [(MINUTE, "1m0s"), (HOUR, "1h0m0s"), (0, "0s"), (1_500 * MILLISECOND, "1.5s")])
def test_canonical_printing(ns: int, text: str) -> None:
    """Whole minutes and hours print with their zero parts, zero prints as 0s."""
    assert format_duration(ns) == text


# No deadline: the machine is shared with control-plane tests, and a slow example is not a wrong one.
@settings(deadline=None)
@given(st.integers(min_value=MIN_DURATION, max_value=MAX_DURATION))
def test_format_then_parse_is_identity(ns: int) -> None:
    """Every int64 duration printed and parsed back is the same number of nanoseconds."""
    assert parse_duration(format_duration(ns)) == ns


_UNIT = st.sampled_from(["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"])
_PART = st.tuples(st.integers(0, 10_000), st.one_of(st.just(""), st.integers(0, 999_999).map(lambda f: f".{f}")), _UNIT)
_TEXT = st.tuples(st.sampled_from(["", "-", "+"]), st.lists(_PART, min_size=1, max_size=4)).map(
    lambda t: t[0] + "".join(f"{whole}{frac}{unit}" for whole, frac, unit in t[1])
)


@settings(deadline=None)
@given(_TEXT)
def test_parse_then_format_is_canonical(text: str) -> None:
    """Any valid duration text, printed after parsing, is a fixed point: it parses to the same value."""
    ns = parse_duration(text)
    canonical = format_duration(ns)
    assert parse_duration(canonical) == ns
    assert format_duration(parse_duration(canonical)) == canonical


def test_seconds_and_predicate() -> None:
    """duration_seconds gives float seconds; is_duration says whether Go would accept the text."""
    assert duration_seconds("1m30s") == 90.0
    assert is_duration("10s")
    assert not is_duration("10")
    assert not is_duration("1d")


def test_format_refuses_values_outside_int64() -> None:
    """Nanosecond counts outside Go's int64 range are a programming error, not a duration."""
    with pytest.raises(ValueError, match="outside"):
        format_duration(MAX_DURATION + 1)
