"""Who may ask the load tester for what: --namespace-regexp, --allow-command and --disable-bash."""

from __future__ import annotations

from dataclasses import dataclass

from serinus.loadtester.config import Settings
from serinus.loadtester.tasks import Task


@dataclass(frozen=True)
class Refusal:
    """Why a task is refused: `reason` labels the metric, `message` is the 403 answer."""

    reason: str
    message: str


def namespace_allowed(settings: Settings, namespace: str) -> bool:
    """Whether --namespace-regexp (matched anywhere in the namespace, like Flagger) lets this namespace in."""
    return settings.namespace_regexp is None or settings.namespace_regexp.search(namespace) is not None


def refusal(settings: Settings, task: Task) -> Refusal | None:
    """The reason this task must not run, or None when it may."""
    if task.type == "bash" and settings.disable_bash:
        return Refusal("bash-disabled", "bash tasks are disabled on this load tester (--disable-bash)")
    if settings.allow_commands and not any(p.fullmatch(task.command_line) for p in settings.allow_commands):
        return Refusal(
            "not-allowed",
            f'command refused: "{task.command_line}" matches none of the --allow-command patterns of this load tester',
        )
    return None
