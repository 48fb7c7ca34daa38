"""--namespace-regexp, --allow-command and --disable-bash decide what runs, with a clear reason when refused."""

from __future__ import annotations

import re
from pathlib import Path

from serinus.loadtester.config import Settings, go_regexp
from serinus.loadtester.payload import WebhookPayload
from serinus.loadtester.policy import Refusal, namespace_allowed, refusal
from serinus.loadtester.tasks import Task, build_task


def _task(**metadata: str) -> Task:
    return build_task(WebhookPayload("podinfo", "test", metadata=metadata))


def test_namespace_regexp_matches_anywhere_like_go() -> None:
    """The namespace pattern is searched, as Go's MatchString does; anchors make it exact."""
    loose = Settings(namespace_regexp=re.compile("test"))
    exact = Settings(namespace_regexp=re.compile("^test$"))
    assert namespace_allowed(Settings(), "anything")
    assert namespace_allowed(loose, "my-test-ns")
    assert not namespace_allowed(loose, "prod")
    assert namespace_allowed(exact, "test")
    assert not namespace_allowed(exact, "my-test-ns")


def test_namespace_with_a_trailing_newline_is_not_the_namespace() -> None:
    """As the flag compiles it, `^test$` refuses "test\\n" as Flagger's Go code does (Python's `$` lets it in)."""
    exact = Settings(namespace_regexp=go_regexp("^test$"))
    assert namespace_allowed(exact, "test")
    for namespace in ("test\n", "xtest", "testx", "test\n\n"):
        assert not namespace_allowed(exact, namespace), repr(namespace)


def test_without_policy_every_task_runs() -> None:
    """The default load tester refuses nothing (Flagger's exposure)."""
    assert refusal(Settings(), _task(type="bash", cmd="rm -rf /tmp/x")) is None


def test_allow_list_needs_a_full_match() -> None:
    """A command runs only when one pattern matches all of it, so a prefix match does not let a suffix through."""
    settings = Settings(allow_commands=(re.compile(r"hey -n \d+ -c \d+ http://127\.0\.0\.1:\d+/"), re.compile("true")))
    assert refusal(settings, _task(cmd="hey -n 20 -c 2 http://127.0.0.1:8080/")) is None
    assert refusal(settings, _task(type="bash", cmd="true")) is None
    refused = refusal(settings, _task(cmd="hey -n 20 -c 2 http://127.0.0.1:8080/; rm -rf /"))
    assert refused == Refusal(
        "not-allowed",
        'command refused: "hey -n 20 -c 2 http://127.0.0.1:8080/; rm -rf /" matches none of the --allow-command '
        "patterns of this load tester",
    )


def test_allow_list_for_helm_names_the_program() -> None:
    """helm and kubectl tasks are matched as `helm <args>` / `kubectl <args>`, so a pattern says which program."""
    settings = Settings(allow_commands=(re.compile(r"helm test \S+ -n \S+"),))
    assert refusal(settings, _task(type="helm", cmd="test podinfo -n test")) is None
    refused = refusal(settings, _task(type="kubectl", cmd="test podinfo -n test"))
    assert refused is not None
    assert refused.reason == "not-allowed"


def test_disable_bash_refuses_bash_only() -> None:
    """--disable-bash refuses bash tasks whatever the allow-list says, and leaves cmd tasks alone."""
    settings = Settings(disable_bash=True, allow_commands=(re.compile(".*"),))
    assert refusal(settings, _task(type="bash", cmd="true")) == Refusal(
        "bash-disabled", "bash tasks are disabled on this load tester (--disable-bash)"
    )
    assert refusal(settings, _task(cmd="true")) is None


DOC = Path(__file__).parents[3] / "docs" / "loadtester.md"
HEY = r"hey -z [0-9]+[sm] -q [0-9]+ -c [0-9]+ http://[a-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9/._-]*"
GHZ = r"ghz -z [0-9]+[sm] -q [0-9]+ -c [0-9]+ --insecure [a-z0-9.-]+:[0-9]+"


def test_documented_patterns_accept_flaggers_load_commands_only() -> None:
    """The patterns docs/loadtester.md recommends accept Flagger's hey/ghz examples and no chained command."""
    text = DOC.read_text()
    assert HEY in text
    assert GHZ in text
    settings = Settings(allow_commands=(re.compile(HEY), re.compile(GHZ)))
    for cmd in (
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/",
        "hey -z 30s -q 5 -c 1 http://podinfo-canary.test/api/info",
        "ghz -z 1m -q 10 -c 2 --insecure podinfo.test:9898",
    ):
        assert refusal(settings, _task(cmd=cmd)) is None, cmd
    for cmd in (
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/; rm -rf /",
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/ && curl evil",
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/$(id)",
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/`id`",
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/ | sh",
        "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/\nid",
        "ghz -z 1m -q 10 -c 2 --insecure podinfo.test:9898 > /etc/passwd",
    ):
        assert refusal(settings, _task(cmd=cmd)) is not None, cmd
