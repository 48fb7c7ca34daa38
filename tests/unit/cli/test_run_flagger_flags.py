"""`serinus run` takes every flag Flagger's own command line defines (cmd/flagger/main.go, and klog's), in Flagger's
single-dash `-name=value` form, read from the pinned Flagger module's source."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from serinus import __version__
from serinus.cli import main
from serinus.cli.run import run
from serinus.runtime.options import KLOG_FLAGS, OperatorOptions, from_params
from tests.gomodules import flagger_dir, module_dir

#: flag.StringVar(&x, "name", default, "usage") and the Int, Bool and Duration forms, in cmd/flagger/main.go
GO_FLAG = re.compile(r'flag\.(String|Int|Bool|Duration)Var\(&\w+,\s*"([^"]+)",\s*([^,]+),')
#: commandLine.StringVar(&logging.logDir, "log_dir", ...) and commandLine.Var(&logging.verbosity, "v", ...) in klog
KLOG_FLAG = re.compile(r'commandLine\.(\w*)Var\(&[\w.]+,\s*"([^"]+)"')


def flagger_flags() -> dict[str, tuple[str, str]]:
    """Every flag of Flagger's main.go: name -> (Go type, default as Go source)."""
    source = (flagger_dir() / "cmd" / "flagger" / "main.go").read_text()
    return {name: (kind, default.strip()) for kind, name, default in GO_FLAG.findall(source)}


def klog_flags() -> dict[str, str]:
    """Every flag klog.InitFlags adds to Flagger's command line (klog at the version Flagger's go.mod pins)."""
    gomod = (flagger_dir() / "go.mod").read_text()
    version = re.search(r"k8s\.io/klog/v2 (v\S+)", gomod)
    assert version, "Flagger's go.mod pins no klog"
    source = (module_dir("k8s.io/klog/v2", version.group(1)) / "klog.go").read_text()
    return {name: kind for kind, name in KLOG_FLAG.findall(source)}


def go_value(kind: str, default: str) -> str:
    """A value Flagger itself would accept for the flag: its own default (a Bool is set to true)."""
    if kind == "Bool":
        return "true"
    if kind == "Duration":
        amount, _, unit = default.partition("*time.")
        return f"{amount}{dict(Second='s', Minute='m')[unit]}"
    return default.strip('"')


def parse(args: list[str]) -> OperatorOptions:
    """The options `serinus run ARGS` would start with (parsed by the command itself, nothing started)."""
    with run.make_context("run", args) as ctx:
        return from_params(ctx.params)


def test_flaggers_main_go_defines_the_flags_we_know() -> None:
    """The parse of main.go finds Flagger 1.44's flags, so the next test covers all of them."""
    flags = flagger_flags()
    assert len(flags) >= 30
    assert {
        "threadiness",
        "zap-encoding",
        "zap-replace-globals",
        "version",
        "kubeconfig-qps",
        "kubeconfig-burst",
    } <= set(flags)


@pytest.mark.parametrize("name", sorted(set(flagger_flags()) - {"version"}))  # -version: its own test below
def test_every_flagger_flag_is_accepted_single_dash(name: str) -> None:
    """`serinus run -NAME=VALUE` parses for each flag of Flagger's main.go, with the value Flagger defaults to."""
    kind, default = flagger_flags()[name]
    arg = f"-{name}={go_value(kind, default)}"
    try:
        parse([arg])
    except click.UsageError as err:
        pytest.fail(f"serinus run refuses Flagger's {arg}: {err.format_message()}")


def test_every_flagger_flag_at_once_as_its_chart_passes_them() -> None:
    """All of Flagger's flags on one command line parse together, and the Flagger-only ones do what they do in
    Flagger: QPS and burst reach the options, -zap-encoding is the log format."""
    args = [
        f"-{name}={go_value(kind, default)}" for name, (kind, default) in flagger_flags().items() if name != "version"
    ]
    options = parse([*args, "-kubeconfig-qps=7", "-kubeconfig-burst=9", "-zap-encoding=console", "-threadiness=8"])
    assert (options.kubeconfig_qps, options.kubeconfig_burst) == (7, 9)
    assert options.log_format == "console"
    assert options.threadiness == 8
    assert options.zap_replace_globals is True


def test_defaults_of_the_new_flags_are_flaggers_but_the_rate_limit() -> None:
    """Without flags, burst, threadiness and encoding have Flagger's defaults; the client-side rate limit is off
    (Flagger's default QPS is 100, which throttles a busy operator) until -kubeconfig-qps asks for one."""
    flags = flagger_flags()
    options = parse([])
    assert int(flags["kubeconfig-qps"][1]) == 100
    assert options.kubeconfig_qps < 0, "no client-side limit by default"
    assert options.kubeconfig_burst == int(flags["kubeconfig-burst"][1]) == 250
    assert options.threadiness == int(flags["threadiness"][1])
    assert options.log_format == flags["zap-encoding"][1].strip('"') == "json"


def test_klogs_flags_are_accepted_and_ignored() -> None:
    """Every flag klog adds to Flagger's command line is known to Serinus, and `-v=4`, `-v 4`, `-logtostderr`
    and `-log_dir=/tmp` parse without changing anything."""
    assert set(klog_flags()) == set(KLOG_FLAGS)
    options = parse(["-v=4", "-v", "4", "-logtostderr", "-log_dir=/tmp", "-vmodule", "x=2", "-port=9090"])
    assert options == parse(["-port=9090"])
    assert options.port == 9090


def test_version_prints_and_exits() -> None:
    """`serinus run -version` prints the version and exits 0 without connecting anywhere."""
    for flag in ("-version", "--version", "-version=true"):
        result = CliRunner().invoke(main, ["run", flag, "-kubeconfig=/does/not/exist"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"serinus, version {__version__}"


def test_an_unknown_flag_is_still_refused() -> None:
    """A flag neither Flagger nor Serinus defines is still a usage error, so typos are not silently dropped."""
    result = CliRunner().invoke(main, ["run", "-no-such-flag=1"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_lease_name_is_a_flag() -> None:
    """--leader-election-lease-name (and the single-dash form) names the Lease; Serinus's own by default."""
    assert parse([]).leader_election_lease_name == "serinus-leader-election"
    assert parse(["-leader-election-lease-name=releases"]).leader_election_lease_name == "releases"


def test_foreign_status_window_takes_go_durations_and_zero() -> None:
    """--foreign-status-window is 10m by default, reads Go durations, and 0 or 0s turns the check off."""
    assert parse([]).foreign_status_window == 600.0
    assert parse(["-foreign-status-window=90s"]).foreign_status_window == 90.0
    assert parse(["--foreign-status-window", "0"]).foreign_status_window == 0.0
    assert parse(["-foreign-status-window=0s"]).foreign_status_window == 0.0
