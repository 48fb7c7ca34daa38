"""The `serinus-loadtester` command: flags (also from SERINUS_LOADTESTER_* variables), logging, serving."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import click
from aiohttp import web

from serinus import __version__
from serinus.api.duration import DurationError, positive_seconds
from serinus.loadtester.config import DEFAULT_MAX_CONCURRENT_COMMANDS, Settings, go_regexp, parse_go_duration
from serinus.loadtester.server import make_app

log = logging.getLogger("serinus.loadtester")
F = TypeVar("F", bound=Callable[..., Any])
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

_ENV = "SERINUS_LOADTESTER_"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class OneLineFormatter(logging.Formatter):
    """Escapes line breaks, so every event is one line even when a caller's command or name contains them.

    An exception logged with its traceback (by aiohttp, say) is shown as `<type>: <message>` only, unless
    `tracebacks` is set (--log-level=debug), in which case the traceback is kept, escaped on the same line."""

    def __init__(self, fmt: str, *, tracebacks: bool = False) -> None:
        super().__init__(fmt)
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """The usual text, with CR and LF written as `\\r` and `\\n`."""
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")

    def formatException(self, ei: _ExcInfo) -> str:
        """The traceback with --log-level=debug, else the exception's type and message."""
        if self._tracebacks or ei[0] is None:
            return super().formatException(ei)
        return f"{ei[0].__name__}: {ei[1]}"

    def formatStack(self, stack_info: str) -> str:
        """The stack with --log-level=debug, else nothing."""
        return super().formatStack(stack_info) if self._tracebacks else ""


class _Lines(click.types.StringParamType):
    """Strings that, read from an environment variable, are one per line (a pattern may contain spaces)."""

    envvar_list_splitter = "\n"


def _regexp(value: str, param: click.Parameter) -> str:
    try:
        go_regexp(value)
    except re.error as exc:
        raise click.BadParameter(f"{value!r} is not a regular expression: {exc}", param=param) from None
    return value


def _namespace_regexp(_: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Kept as text (compiled in main) so that the start-up line shows the pattern as the user wrote it.
    return _regexp(value, param) if value else None


def _allow_commands(_: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_regexp(value, param) for value in values if value)


def _duration(_: click.Context, param: click.Parameter, value: str) -> float:
    try:
        parse_go_duration(value)  # for its message on malformed input
        return positive_seconds(value)
    except (ValueError, DurationError) as exc:
        raise click.BadParameter(str(exc), param=param) from None


def _option(*names: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option read also from SERINUS_LOADTESTER_<NAME>, shown in --help."""
    variable = _ENV + names[0].removeprefix("--").replace("-", "_").upper()
    return click.option(*names, envvar=variable, show_envvar=True, **kwargs)


# Flagger's single-dash spellings (`-port=8080`, `-timeout=1h`) are accepted too, so its manifests' args work.
@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="serinus-loadtester")
@_option("--host", default="0.0.0.0", help="Address to listen on.")
@_option("--port", "-port", type=click.IntRange(1, 65535), default=8080, help="Port to listen on.")
@_option(
    "--timeout",
    "-timeout",
    default="1h",
    callback=_duration,
    metavar="DURATION",
    help="Longest run of one command (Go duration); then its whole process group is killed.",
)
@_option(
    "--namespace-regexp",
    "-namespace-regexp",
    callback=_namespace_regexp,
    metavar="REGEX",
    help="Serve only payloads whose namespace matches, as Go's MatchString (anywhere; anchor with ^...$); "
    "others get 403.",
)
@_option(
    "--log-level",
    "-log-level",
    type=click.Choice(sorted(_LEVELS), case_sensitive=False),
    default="info",
    help="Lowest level logged.",
)
@_option(
    "--allow-command",
    type=_Lines(),
    multiple=True,
    callback=_allow_commands,
    metavar="REGEX",
    help="Run only commands that fully match one of these patterns (repeatable; one per line in the variable).",
)
@_option("--disable-bash", is_flag=True, help="Refuse `bash` tasks.")
@_option(
    "--max-concurrent-commands",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONCURRENT_COMMANDS,
    metavar="N",
    help="Commands (background and blocking together) that may run at once; past it a task is answered 429.",
)
def main(
    host: str,
    port: int,
    timeout: float,
    namespace_regexp: str | None,
    log_level: str,
    allow_command: tuple[str, ...],
    disable_bash: bool,
    max_concurrent_commands: int,
) -> None:
    """Serve the load tester: the webhook target that runs load tests, gates and commands for Canary analyses."""
    level = _LEVELS[log_level.lower()]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", tracebacks=level <= logging.DEBUG)
    )
    logging.basicConfig(level=level, handlers=[handler])
    settings = Settings(
        timeout=timeout,
        namespace_regexp=go_regexp(namespace_regexp) if namespace_regexp else None,
        allow_commands=tuple(go_regexp(pattern) for pattern in allow_command),
        disable_bash=disable_bash,
        max_concurrent_commands=max_concurrent_commands,
    )
    log.info(
        "starting serinus-loadtester %s on %s:%d timeout=%gs namespace_regexp=%s allow_command=%s disable_bash=%s "
        "max_concurrent_commands=%d",
        __version__,
        host,
        port,
        timeout,
        namespace_regexp or "(any)",
        list(allow_command) or "(any)",
        str(disable_bash).lower(),
        max_concurrent_commands,
    )
    # run_app turns SIGTERM/SIGINT into a graceful stop, whose on_shutdown kills every running command.
    web.run_app(make_app(settings), host=host, port=port, access_log=None, print=None)
    log.info("serinus-loadtester stopped")
