"""Pure parsers behind the load tester's flags read values the way Flagger's Go code does."""

from __future__ import annotations

import re

import pytest

from serinus.loadtester.config import go_regexp, parse_go_bool, parse_go_duration


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


@pytest.mark.parametrize(
    ("pattern", "namespace", "matches"),
    [
        # Go's `$` (without (?m)) is the end of the text: a trailing newline is not skipped as Python's `$` does.
        ("^test$", "test", True),
        ("^test$", "test\n", False),
        ("^test$", "xtest", False),
        ("^test$", "testx", False),
        ("^(test|staging)$", "staging\n", False),
        ("test$", "my-test\n", False),
        # MatchString searches: an unanchored pattern matches anywhere.
        ("test", "mytests", True),
        ("test", "prod", False),
        # Go's \z is the end of the text too.
        (r"^test\z", "test", True),
        (r"^test\z", "test\n", False),
        # In multi-line mode Go's `$` matches before every newline, as Python's does.
        ("(?m)^test$", "test\n", True),
        ("(?m)^test$", "x\ntest\ny", True),
        ("(?m:^test$)", "test\n", True),
        ("(?m)(?-m:^test$)", "test\n", False),
        # A `$` that is a character (escaped, in a class) stays one.
        (r"^te\$st$", "te$st", True),
        ("^te[$]st$", "te$st", True),
        ("^te[$]st$", "te$st\n", False),
        ("^[]$]$", "]", True),
        # \d, \w and \s are ASCII in Go.
        (r"^test\d$", "test1", True),
        (r"^test\d$", "test\u0661", False),
        (r"^\w+$", "t\u00e9st", False),
    ],
)
def test_namespace_patterns_match_as_go_matchstring(pattern: str, namespace: str, matches: bool) -> None:
    """go_regexp(p).search(s) answers as Go's regexp.MustCompile(p).MatchString(s), which Flagger's load tester uses."""
    assert (go_regexp(pattern).search(namespace) is not None) is matches


@pytest.mark.parametrize("pattern", ["(", "[a-", "a{2,1}"])
def test_broken_patterns_raise(pattern: str) -> None:
    """A pattern that does not compile raises re.error, which the flag turns into a usage error."""
    with pytest.raises(re.error):
        go_regexp(pattern)
