"""The load tester's log lines: one line per event, and no traceback unless --log-level=debug asks for it."""

from __future__ import annotations

import logging
import sys

from serinus.loadtester.cli import OneLineFormatter


def _record_with_exception() -> logging.LogRecord:
    try:
        raise ValueError("bad\ninput")
    except ValueError:
        exc_info = sys.exc_info()
    return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling %s", ("x\ny",), exc_info)


def test_an_exception_is_one_line_naming_it() -> None:
    """A record carrying an exception (as aiohttp logs them) prints as one line with the type and message only."""
    line = OneLineFormatter("%(levelname)s %(name)s %(message)s").format(_record_with_exception())
    assert line == "ERROR aiohttp.server Error handling x\\ny\\nValueError: bad\\ninput"


def test_debug_keeps_the_traceback_on_the_same_line() -> None:
    """With tracebacks on (--log-level=debug) the traceback is kept, its line breaks escaped."""
    line = OneLineFormatter("%(message)s", tracebacks=True).format(_record_with_exception())
    assert "\n" not in line
    assert line.startswith("Error handling x\\ny\\nTraceback (most recent call last):\\n")
    assert line.endswith("ValueError: bad\\ninput")
