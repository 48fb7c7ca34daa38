"""Running one command: its own process group, combined output, killed as a whole on timeout or shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

#: Output kept per command; beyond it the oldest bytes are dropped (the end is what explains a failure).
OUTPUT_LIMIT = 1 << 20
#: How long to wait for the output pipe to close once the process group is killed.
KILL_GRACE = 2.0

# Go's names for the signals a command usually dies of (syscall.Signal.String on Linux).
_GO_SIGNALS = {
    1: "hangup",
    2: "interrupt",
    3: "quit",
    4: "illegal instruction",
    5: "trace/breakpoint trap",
    6: "aborted",
    7: "bus error",
    8: "floating point exception",
    9: "killed",
    10: "user defined signal 1",
    11: "segmentation fault",
    12: "user defined signal 2",
    13: "broken pipe",
    14: "alarm clock",
    15: "terminated",
}


@dataclass(frozen=True)
class CommandResult:
    """How a command ended."""

    output: str
    """stdout and stderr, interleaved as written."""
    error: str | None
    """None on success, else the error as Go's os/exec words it (`exit status 3`, `signal: killed`)."""
    returncode: int | None
    interrupted: str | None = None
    """`timeout` or `shutdown` when the load tester killed the command."""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the command exited with status 0 on its own."""
        return self.error is None


def go_exit_error(returncode: int, interrupted: str | None = None) -> str | None:
    """Go's exec error text for a finished process (None for a clean exit that was not interrupted)."""
    if returncode > 0:
        return f"exit status {returncode}"
    if returncode < 0:
        return f"signal: {_GO_SIGNALS.get(-returncode, f'signal {-returncode}')}"
    if interrupted == "timeout":
        return "context deadline exceeded"
    if interrupted is not None:
        return "context canceled"
    return None


def go_start_error(program: str, exc: OSError) -> str:
    """Go's exec error text for a program that could not be started."""
    if isinstance(exc, FileNotFoundError) and "/" not in program:
        return f'exec: "{program}": executable file not found in $PATH'
    return f"fork/exec {program}: {(exc.strerror or str(exc)).lower()}"


class _Output:
    """The last OUTPUT_LIMIT bytes a command wrote, and how many were dropped before them."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self._data = bytearray()
        self._limit = limit
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        excess = len(self._data) - self._limit
        if excess > 0:
            del self._data[:excess]
            self.dropped += excess

    def text(self) -> str:
        text = self._data.decode("utf-8", "replace")
        return f"[{self.dropped} bytes of earlier output dropped]\n{text}" if self.dropped else text


async def _collect(proc: asyncio.subprocess.Process, out: _Output) -> None:
    assert proc.stdout is not None
    while chunk := await proc.stdout.read(65536):
        out.add(chunk)
    await proc.wait()


async def _kill_group(proc: asyncio.subprocess.Process, finished: asyncio.Future[Any]) -> None:
    # The command runs in a session of its own, so its pid is its group id: this reaches `hey` under `sh -c` too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        # A descendant that left the group may still hold the pipe; its output is then given up.
        await asyncio.wait_for(finished, KILL_GRACE)
    if proc.returncode is None:
        await proc.wait()


async def run_command(argv: tuple[str, ...], *, time_limit: float, stop: asyncio.Event) -> CommandResult:
    """Run argv to its end, for at most `time_limit` seconds or until `stop` is set; never raises for the command."""
    began = time.monotonic()
    if stop.is_set():
        return CommandResult("", "context canceled", None, "shutdown")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult("", go_start_error(argv[0], exc), None, duration=time.monotonic() - began)
    except ValueError:
        # A NUL character in an argument: Go's exec fails the same way, with EINVAL.
        invalid = OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return CommandResult("", go_start_error(argv[0], invalid), None, duration=time.monotonic() - began)
    out = _Output()
    finished: asyncio.Future[Any] = asyncio.ensure_future(_collect(proc, out))
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    interrupted: str | None = None
    try:
        done, _ = await asyncio.wait({finished, stopping}, timeout=time_limit, return_when=asyncio.FIRST_COMPLETED)
        if finished not in done:
            interrupted = "shutdown" if stopping in done else "timeout"
    finally:
        stopping.cancel()
        if not finished.done():
            # Also reached when the awaiting task is cancelled: no command outlives its caller.
            await _kill_group(proc, finished)
    returncode = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    return CommandResult(
        out.text(), go_exit_error(returncode, interrupted), returncode, interrupted, time.monotonic() - began
    )
