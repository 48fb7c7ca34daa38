"""Pure parsers behind the load tester's flags read values the way Flagger's Go code does."""

from __future__ import annotations

import pytest

from serinus.loadtester.config import parse_go_bool, parse_go_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h", 3600.0),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("300ms", 0.3),
        ("2us", 2e-6),
        ("2µs", 2e-6),
        ("10ns", 1e-8),
        ("0", 0.0),
        ("-1m", -60.0),
    ],
)
def test_go_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    """Every unit and compound form of Go's time.ParseDuration gives the same number of seconds."""
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1d", "1 h", "h", "1h-2m", "s1", "1.2.3s"])
def test_invalid_go_durations_are_refused(text: str) -> None:
    """A bare number, an unknown unit or stray characters are refused with a hint, as Go refuses them."""
    with pytest.raises(ValueError, match="Go duration"):
        parse_go_duration(text)


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_true_spellings(text: str) -> None:
    """The six spellings strconv.ParseBool reads as true turn returnCmdOutput/logCmdOutput on."""
    assert parse_go_bool(text)


@pytest.mark.parametrize("text", [None, "", "0", "false", "yes", "on", "tRUE", " true"])
def test_other_spellings_are_false(text: str | None) -> None:
    """Anything else, including absent and unparsable values, is false (Flagger ignores the parse error)."""
    assert not parse_go_bool(text)
