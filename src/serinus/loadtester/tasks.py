"""Task types of `POST /`: which program a webhook's metadata asks for, and how the caller is answered."""

from __future__ import annotations

from dataclasses import dataclass

from serinus.errors import SerinusError
from serinus.loadtester.config import parse_go_bool
from serinus.loadtester.payload import WebhookPayload

#: Runs in the background; the webhook is answered 202 at once.
CMD = "cmd"
#: Blocking: the webhook is answered when the command ends.
BLOCKING_TYPES = ("bash", "helm", "helmv3", "kubectl")
#: Flagger's task types that call an external service; Serinus refuses them by name.
UNSUPPORTED_TYPES = ("concord", "ngrinder")


class TaskRequestError(SerinusError):
    """The metadata does not describe a task this load tester runs; the message is the 400 answer."""


@dataclass(frozen=True)
class Task:
    """One command a webhook asked for."""

    type: str
    canary: str
    command: str
    """`metadata.cmd` as sent; the text Flagger's answers and logs quote."""
    argv: tuple[str, ...]
    return_output: bool = False
    log_output: bool = False

    @property
    def blocking(self) -> bool:
        """Whether the webhook waits for the command to end."""
        return self.type != CMD

    @property
    def command_line(self) -> str:
        """What --allow-command patterns are matched against: the shell string, or `helm|kubectl <args>`."""
        if self.type in (CMD, "bash"):
            return self.command
        return " ".join(self.argv)


def build_task(payload: WebhookPayload) -> Task:
    """The task `payload.metadata` asks for (type `cmd` unless `metadata.type` says otherwise)."""
    metadata = payload.metadata
    if not metadata:
        raise TaskRequestError("metadata not found in payload")
    kind = metadata.get("type", CMD)
    command = metadata.get("cmd")
    return_output = parse_go_bool(metadata.get("returnCmdOutput"))
    if kind == CMD:
        if command is None:
            raise TaskRequestError("cmd not found in metadata")
        argv: tuple[str, ...] = ("sh", "-c", command)
        return Task(CMD, payload.canary, command, argv, log_output=parse_go_bool(metadata.get("logCmdOutput")))
    if kind in UNSUPPORTED_TYPES:
        raise TaskRequestError(f"task type {kind} is not supported by serinus-loadtester")
    if kind not in BLOCKING_TYPES:
        raise TaskRequestError(f"unknown task type {kind}")
    # Flagger runs blocking tasks with an absent cmd as an empty one (bash -c "", a bare helm); so do we.
    command = command or ""
    if kind == "bash":
        argv = ("bash", "-c", command)
    else:
        # helm and helmv3 both run `helm` (v3), as Flagger's current image does; arguments split on whitespace.
        program = "kubectl" if kind == "kubectl" else "helm"
        argv = (program, *command.split())
    return Task(kind, payload.canary, command, argv, return_output=return_output)


def failure_text(task: Task, output: str, error: str) -> str:
    """The body of the 500 answer to a failed blocking task, worded as Flagger's."""
    return f"command {task.command} failed: {output}: {error}"
