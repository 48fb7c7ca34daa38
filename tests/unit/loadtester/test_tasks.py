"""Metadata becomes the task Flagger's load tester would run, with Flagger's 400 texts for what it cannot run."""

from __future__ import annotations

import pytest

from serinus.loadtester.payload import WebhookPayload
from serinus.loadtester.tasks import Task, TaskRequestError, build_task, failure_text


def _task(**metadata: str) -> Task:
    return build_task(WebhookPayload("podinfo", "test", metadata=metadata))


def test_cmd_is_the_default_type_and_runs_under_sh() -> None:
    """Without metadata.type the task is `cmd`, run in the background as `sh -c <cmd>`."""
    task = _task(cmd="hey -z 1m -q 10 -c 2 http://podinfo-canary.test/")
    assert task == Task(
        "cmd", "podinfo.test", "hey -z 1m -q 10 -c 2 http://podinfo-canary.test/",
        ("sh", "-c", "hey -z 1m -q 10 -c 2 http://podinfo-canary.test/"),
    )  # fmt: skip
    assert not task.blocking


def test_log_and_return_output_flags_are_go_booleans() -> None:
    """logCmdOutput applies to cmd tasks and returnCmdOutput to blocking ones, each read with ParseBool."""
    assert _task(cmd="true", logCmdOutput="1").log_output
    assert not _task(cmd="true", logCmdOutput="yes").log_output
    assert _task(type="bash", cmd="true", returnCmdOutput="True").return_output
    assert not _task(type="bash", cmd="true").return_output


def test_blocking_types_and_their_programs() -> None:
    """bash runs `bash -c`; helm, helmv3 and kubectl run their program with cmd split on whitespace."""
    assert _task(type="bash", cmd="curl -s x | grep y").argv == ("bash", "-c", "curl -s x | grep y")
    assert _task(type="helm", cmd="test podinfo  -n test").argv == ("helm", "test", "podinfo", "-n", "test")
    assert _task(type="helmv3", cmd="test podinfo").argv == ("helm", "test", "podinfo")
    assert _task(type="kubectl", cmd="get pods\t-n test").argv == ("kubectl", "get", "pods", "-n", "test")
    assert all(_task(type=t, cmd="x").blocking for t in ("bash", "helm", "helmv3", "kubectl"))


def test_allow_list_sees_the_program_of_helm_and_kubectl() -> None:
    """The command line matched by --allow-command is the shell string, or `helm|kubectl <args>`."""
    assert _task(cmd="hey -n 1 http://x/").command_line == "hey -n 1 http://x/"
    assert _task(type="bash", cmd="bats /t.bats").command_line == "bats /t.bats"
    assert _task(type="helmv3", cmd="test  podinfo").command_line == "helm test podinfo"
    assert _task(type="kubectl", cmd="get pods").command_line == "kubectl get pods"


def test_blocking_task_without_cmd_runs_empty_like_flagger() -> None:
    """A bash task without cmd runs `bash -c ""` (Flagger's behaviour), not a 400."""
    assert _task(type="bash").argv == ("bash", "-c", "")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "metadata not found in payload"),
        ({"type": "cmd"}, "cmd not found in metadata"),
        ({"logCmdOutput": "true"}, "cmd not found in metadata"),
        ({"type": "locust", "cmd": "x"}, "unknown task type locust"),
        ({"type": "concord", "server": "http://c"}, "task type concord is not supported by serinus-loadtester"),
        ({"type": "ngrinder", "clone": "1"}, "task type ngrinder is not supported by serinus-loadtester"),
    ],
)
def test_requests_that_cannot_run_get_the_400_text(metadata: dict[str, str], message: str) -> None:
    """Missing metadata, missing cmd and unknown types raise with Flagger's texts (unknown types no longer panic)."""
    with pytest.raises(TaskRequestError) as caught:
        _task(**metadata)
    assert str(caught.value) == message


def test_failure_text_is_flaggers() -> None:
    """A failed blocking task answers `command <cmd> failed: <output>: <error>`."""
    task = _task(type="bash", cmd="exit 3")
    assert failure_text(task, "oops\n", "exit status 3") == "command exit 3 failed: oops\n: exit status 3"
