"""Runs tasks: `cmd` ones in the background (one per canary and command), blocking ones for their caller."""

from __future__ import annotations

import asyncio
import json
import logging

from serinus.errors import SerinusError
from serinus.loadtester.config import DEFAULT_MAX_CONCURRENT_COMMANDS
from serinus.loadtester.metrics import LoadtesterMetrics
from serinus.loadtester.process import CommandResult, run_command
from serinus.loadtester.tasks import Task

log = logging.getLogger("serinus.loadtester")

#: Lines and characters of output quoted in the log line of every finished command.
TAIL_LINES = 10
TAIL_CHARS = 2000


def output_tail(output: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last `lines` lines of the output, at most `chars` characters, without the trailing newline."""
    tail = "\n".join(output.rstrip("\n").split("\n")[-lines:])
    return tail[-chars:]


def _q(text: str) -> str:
    # JSON quoting keeps every event on one log line, whatever the command printed.
    return json.dumps(text, ensure_ascii=False)


class Busy(SerinusError):
    """Every command slot is taken; the message is the 429 answer."""


class TaskRunner:
    """Starts commands, at most `max_commands` at once and never the same `cmd` for the same canary twice at once,
    and kills them all on stop."""

    def __init__(
        self, timeout: float, metrics: LoadtesterMetrics, max_commands: int = DEFAULT_MAX_CONCURRENT_COMMANDS
    ) -> None:
        self._timeout = timeout
        self._metrics = metrics
        self._max = max_commands
        self._active = 0
        self._stop = asyncio.Event()
        self._background: dict[tuple[str, str], asyncio.Task[CommandResult]] = {}

    def submit(self, task: Task) -> bool:
        """Start a `cmd` task in the background; False (and a log line) when it is already running.

        Raises Busy when max_commands commands run already."""
        key = (task.canary, task.command)
        if key in self._background:
            self._metrics.skipped(task.type)
            log.info("command skipped %s is already running canary=%s", task.command, task.canary)
            return False
        self._claim()
        job = asyncio.create_task(self._run_claimed(task), name=f"loadtester {task.canary}: {task.command}")
        self._background[key] = job
        job.add_done_callback(lambda _: self._background.pop(key, None))
        return True

    async def run(self, task: Task) -> CommandResult:
        """Run one task to its end and log how it ended; raises Busy when max_commands commands run already."""
        self._claim()
        return await self._run_claimed(task)

    def _claim(self) -> None:
        # Checked and taken with no await in between, so concurrent requests on the event loop cannot overshoot.
        if self._active >= self._max:
            raise Busy(
                f"too many commands running: {self._active} of --max-concurrent-commands={self._max}; "
                "try again when one has ended"
            )
        self._active += 1

    async def _run_claimed(self, task: Task) -> CommandResult:
        try:
            self._metrics.started(task.type)
            log.info("command starting type=%s canary=%s command=%s", task.type, task.canary, _q(task.command))
            result: CommandResult | None = None
            try:
                result = await run_command(task.argv, time_limit=self._timeout, stop=self._stop)
            finally:
                self._metrics.ended(task.type, result is not None and result.ok)
        finally:
            # run_command returns (or is cancelled) only once the command's process is reaped: the slot is free.
            self._active -= 1
        self._log_end(task, result)
        return result

    def _log_end(self, task: Task, result: CommandResult) -> None:
        command, tail = _q(task.command), _q(output_tail(result.output))
        if result.ok:
            log.info(
                "command finished type=%s canary=%s command=%s exit_status=0 duration=%.3fs output_tail=%s",
                task.type, task.canary, command, result.duration, tail,
            )  # fmt: skip
        else:
            log.error(
                "command failed type=%s canary=%s command=%s exit_status=%s interrupted=%s duration=%.3fs "
                "output_tail=%s",
                task.type, task.canary, command, _q(result.error or ""), result.interrupted or "no",
                result.duration, tail,
            )  # fmt: skip
        if task.log_output:
            log.info("command output type=%s canary=%s output=%s", task.type, task.canary, _q(result.output))

    @property
    def running(self) -> int:
        """How many background commands run now."""
        return len(self._background)

    @property
    def active(self) -> int:
        """How many commands, background and blocking, run now (never more than max_commands)."""
        return self._active

    async def stop(self) -> None:
        """Kill every command (background and blocking) and wait for the background ones to be reaped."""
        self._stop.set()
        jobs = list(self._background.values())
        if jobs:
            log.info("stopping %d running command(s)", len(jobs))
            await asyncio.gather(*jobs, return_exceptions=True)
