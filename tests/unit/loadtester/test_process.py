"""How a command's end is worded (Go's os/exec texts) and how much of its output is kept and logged."""

from __future__ import annotations

from serinus.loadtester.process import _Output, go_exit_error, go_start_error
from serinus.loadtester.runner import output_tail


def test_exit_statuses_are_worded_as_go() -> None:
    """Non-zero exits, signals and interrupted clean exits read as Go's exec errors; a clean exit is no error."""
    assert go_exit_error(0) is None
    assert go_exit_error(3) == "exit status 3"
    assert go_exit_error(-9) == "signal: killed"
    assert go_exit_error(-15) == "signal: terminated"
    assert go_exit_error(-11) == "signal: segmentation fault"
    assert go_exit_error(-40) == "signal: signal 40"
    assert go_exit_error(0, "timeout") == "context deadline exceeded"
    assert go_exit_error(0, "shutdown") == "context canceled"


def test_start_failures_are_worded_as_go() -> None:
    """A program missing from $PATH, or not executable, reads as Go's exec/fork errors."""
    assert go_start_error("helm", FileNotFoundError(2, "No such file or directory")) == (
        'exec: "helm": executable file not found in $PATH'
    )
    assert go_start_error("/opt/x", PermissionError(13, "Permission denied")) == "fork/exec /opt/x: permission denied"


def test_output_keeps_the_end_and_says_what_it_dropped() -> None:
    """Past the limit the oldest bytes go, and the kept text says how many."""
    out = _Output(limit=10)
    out.add(b"0123456789")
    assert out.text() == "0123456789"
    out.add(b"abcdef")
    assert out.text() == "[6 bytes of earlier output dropped]\n6789abcdef"


def test_output_with_invalid_utf8_still_decodes() -> None:
    """Bytes that are not UTF-8 become replacement characters rather than an error."""
    out = _Output()
    out.add(b"ok \xff\n")
    assert out.text() == "ok \ufffd\n"


def test_output_tail_is_the_last_lines() -> None:
    """The log quotes the last lines (and at most a number of characters) of the output."""
    text = "".join(f"line {i}\n" for i in range(30))
    assert output_tail(text, lines=3) == "line 27\nline 28\nline 29"
    assert output_tail(text, lines=3, chars=9) == "8\nline 29"
    assert output_tail("") == ""
