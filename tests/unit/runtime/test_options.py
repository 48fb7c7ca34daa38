"""The operator's options read Flagger's flags, our flags and the environment alike."""

from __future__ import annotations

import os
from typing import Any

import click
import pytest
from click.testing import CliRunner

from serinus.runtime.options import OperatorOptions, flagger_args, from_params, operator_options

FLAGGER_VARIABLES = {
    "KUBECONFIG",
    "SLACK_URL",
    "SLACK_TOKEN",
    "SLACK_PROXY_URL",
    "MSTEAMS_URL",
    "MSTEAMS_PROXY_URL",
    "EVENT_WEBHOOK_URL",
}


@click.command()
@operator_options
def probe(**params: Any) -> None:
    """Print the parsed options."""
    click.echo(repr(from_params(params)))


def parse(args: list[str], env: dict[str, str] | None = None) -> OperatorOptions:
    seen: list[OperatorOptions] = []

    @click.command()
    @operator_options
    def capture(**params: Any) -> None:
        seen.append(from_params(params))

    # Start from an environment without any variable the options read (the cluster fixture sets KUBECONFIG).
    clean: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("SERINUS_") or name in FLAGGER_VARIABLES
    }
    result = CliRunner().invoke(capture, flagger_args(args), env={**clean, **(env or {})}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[0]


def test_defaults_are_flaggers() -> None:
    """With no flags the options equal Flagger's defaults."""
    options = parse([])
    assert options == OperatorOptions()
    assert options.selector_labels == ("app", "name", "app.kubernetes.io/name")
    assert options.lease_namespace == "kube-system"


def test_flagger_style_args_work_unchanged() -> None:
    """Args copied from a Flagger Deployment parse: single dashes, =values, Go booleans, comma lists."""
    options = parse(
        [
            "-mesh-provider=kubernetes",
            "-metrics-server=http://prom:9090",
            "-namespace",
            "test",
            "-enable-leader-election=true",
            "-enable-config-tracking=false",
            "-include-label-prefix=app.kubernetes.io,team",
            "-port=8081",
            "-control-loop-interval=5s",
            "-slack-channel=releases",
        ]
    )
    assert (options.mesh_provider, options.metrics_server, options.namespace) == (
        "kubernetes",
        "http://prom:9090",
        "test",
    )
    assert options.enable_leader_election is True
    assert options.enable_config_tracking is False
    assert options.include_label_prefix == ("app.kubernetes.io", "team")
    assert (options.port, options.control_loop_interval, options.slack_channel) == (8081, 5.0, "releases")
    assert options.lease_namespace == "test"


def test_environment_variables_ours_and_flaggers() -> None:
    """SERINUS_* variables and Flagger's SLACK_URL / EVENT_WEBHOOK_URL set the options."""
    options = parse(
        [],
        env={
            "SERINUS_MESH_PROVIDER": "linkerd",
            "SLACK_URL": "https://hooks.example/x",
            "EVENT_WEBHOOK_URL": "http://events/",
            "SERINUS_DRAIN_PERIOD": "30s",
        },
    )
    assert (options.mesh_provider, options.slack_url, options.event_webhook) == (
        "linkerd",
        "https://hooks.example/x",
        "http://events/",
    )
    assert options.drain_period == 30.0


def test_bad_duration_is_refused_clearly() -> None:
    """A malformed duration is a usage error that quotes Go's message."""
    result = CliRunner().invoke(probe, ["--drain-period", "ten"])
    assert result.exit_code == 2
    assert 'time: invalid duration "ten"' in result.output


@pytest.mark.parametrize(
    "flag",
    [
        "--port",
        "--mesh-provider",
        "--slack-url",
        "--enable-leader-election",
        "--disable-config-tracking",
        "--drain-period",
        "--max-response-bytes",
    ],
)
def test_help_lists_every_option_with_its_environment_variable(flag: str) -> None:
    """--help shows each option with its default and environment variable."""
    result = CliRunner().invoke(probe, ["--help"])
    assert flag in result.output
    assert "SERINUS_PORT" in result.output
    assert "SLACK_URL" in result.output


def test_response_cap_defaults_to_10_mib_and_reads_units() -> None:
    """--max-response-bytes is 10 MiB unless set, by flag or SERINUS_MAX_RESPONSE_BYTES, in bytes or KiB/MiB/GiB."""
    assert parse([]).max_response_bytes == 10 * 2**20
    assert parse(["--max-response-bytes", "1MiB"]).max_response_bytes == 2**20
    assert parse(["-max-response-bytes=65536"]).max_response_bytes == 65536
    assert parse([], env={"SERINUS_MAX_RESPONSE_BYTES": "512KiB"}).max_response_bytes == 512 * 1024


@pytest.mark.parametrize(("value", "why"), [("ten", "'ten' is not a size"), ("0", "must be at least 1 byte")])
def test_a_bad_response_cap_is_refused_clearly(value: str, why: str) -> None:
    """A cap that is not a size, or zero, is a usage error saying why."""
    result = CliRunner().invoke(probe, ["--max-response-bytes", value])
    assert result.exit_code == 2
    assert "Invalid value for '--max-response-bytes'" in result.output
    assert why in result.output
