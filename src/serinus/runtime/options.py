"""The operator's options: Flagger's flags, one for one, each also settable from the environment.

Every option has a `--kebab-case` name, Flagger's single-dash spelling (so a Deployment's args written for
Flagger work unchanged), a `SERINUS_<NAME>` environment variable, and where Flagger read one, Flagger's own
variable too (SLACK_URL, MSTEAMS_URL, EVENT_WEBHOOK_URL, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import click

from serinus.api.duration import DurationError, duration_seconds, positive_seconds
from serinus.net import DEFAULT_MAX_RESPONSE_BYTES, parse_size

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class OperatorOptions:
    """What `serinus run` was asked to do."""

    kubeconfig: str = ""
    kubeconfig_qps: int = -1
    kubeconfig_burst: int = 250
    master: str = ""
    kubeconfig_service_mesh: str = ""
    metrics_server: str = "http://prometheus:9090"
    control_loop_interval: float = 10.0
    log_level: str = "info"
    log_format: str = "json"
    port: int = 8080
    listen_address: str = "0.0.0.0"
    namespace: str = ""
    mesh_provider: str = "istio"
    selector_labels: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")
    include_label_prefix: tuple[str, ...] = ()
    ingress_annotations_prefix: str = "nginx.ingress.kubernetes.io"
    ingress_class: str = ""
    enable_leader_election: bool = False
    leader_election_namespace: str = "kube-system"
    leader_election_lease_name: str = "serinus-leader-election"
    lease_duration: float = 60.0
    renew_deadline: float = 15.0
    retry_period: float = 5.0
    enable_config_tracking: bool = True
    cluster_name: str = ""
    no_cross_namespace_refs: bool = False
    event_webhook: str = ""
    slack_url: str = ""
    slack_token: str = ""
    slack_proxy_url: str = ""
    slack_user: str = "flagger"
    slack_channel: str = ""
    msteams_url: str = ""
    msteams_proxy_url: str = ""
    drain_period: float = 10.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    threadiness: int = 2
    zap_replace_globals: bool = False
    foreign_status_window: float = 600.0
    ledger_runs: int = 10

    @property
    def lease_namespace(self) -> str:
        """Where the leader-election Lease lives: --namespace when set, as in Flagger."""
        return self.namespace or self.leader_election_namespace


def _csv(_: click.Context, __: click.Parameter, value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _size(_: click.Context, param: click.Parameter, value: str) -> int:
    try:
        size = parse_size(value)
    except ValueError as err:
        raise click.BadParameter(str(err), param=param) from None
    if size < 1:
        raise click.BadParameter("must be at least 1 byte", param=param)
    return size


def _window(_: click.Context, param: click.Parameter, value: str) -> float:
    try:
        seconds = 0.0 if value.strip() in ("0", "") else duration_seconds(value)
    except DurationError as err:
        raise click.BadParameter(str(err), param=param) from None
    if seconds < 0:
        raise click.BadParameter(f"{value!r} is negative", param=param)
    return seconds


def _seconds(_: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return positive_seconds(value)
    except DurationError as err:
        raise click.BadParameter(str(err), param=param) from None


#: (name, default, help, extra click keyword arguments, Flagger's environment variable)
_SPEC: list[tuple[str, Any, str, dict[str, Any], str | None]] = [
    ("kubeconfig", "", "Kubeconfig file; in-cluster credentials when empty.", {}, "KUBECONFIG"),
    (
        "kubeconfig-qps",
        -1,
        "Requests per second to the Kubernetes API, sustained (client-go's QPS; 0 means 5, below 0 no limit). "
        "Flagger's default is 100; Serinus sets no limit unless asked, since a tick's requests are already few.",
        {"type": int},
        None,
    ),
    (
        "kubeconfig-burst",
        250,
        "Requests to the Kubernetes API allowed at once above --kubeconfig-qps (client-go's Burst; 0 means 10).",
        {"type": int},
        None,
    ),
    ("master", "", "API server address, overriding the kubeconfig's.", {}, None),
    ("kubeconfig-service-mesh", "", "Kubeconfig of the cluster where router objects are written.", {}, None),
    ("metrics-server", "http://prometheus:9090", "Prometheus for built-in metrics.", {}, None),
    ("control-loop-interval", "10s", "How often the set of Canaries is re-synced.", {"callback": _seconds}, None),
    (
        "log-level",
        "info",
        "debug, info, warning or error.",
        # Flagger's zap levels too: warn, fatal, panic
        {"type": click.Choice(["debug", "info", "warning", "warn", "error", "fatal", "panic"], case_sensitive=False)},
        None,
    ),
    (
        "log-format",
        "json",
        "json (one object a line) or console; Flagger's -zap-encoding is the same option.",
        {"type": click.Choice(["json", "console"])},
        None,
    ),
    ("port", 8080, "Port of /healthz and /metrics.", {"type": click.IntRange(1, 65535)}, None),
    (
        "listen-address",
        "0.0.0.0",
        "Address of /healthz and /metrics (all interfaces by default, as Flagger).",
        {},
        None,
    ),
    ("namespace", "", "Watch only this namespace (all when empty).", {}, None),
    ("mesh-provider", "istio", "Default traffic provider of Canaries that name none.", {}, None),
    (
        "selector-labels",
        "app,name,app.kubernetes.io/name",
        "Pod selector label keys, in order of preference.",
        {"callback": _csv},
        None,
    ),
    (
        "include-label-prefix",
        "",
        "Label/annotation prefixes copied to primaries (comma list; * for all).",
        {"callback": _csv},
        None,
    ),
    ("ingress-annotations-prefix", "nginx.ingress.kubernetes.io", "Annotation prefix of the NGINX router.", {}, None),
    ("ingress-class", "", "ingressClassName of generated Contour HTTPProxies.", {}, None),
    ("enable-leader-election", False, "Run several replicas; one acts at a time.", {"is_flag": True}, None),
    ("leader-election-namespace", "kube-system", "Namespace of the leader-election Lease.", {}, None),
    (
        "leader-election-lease-name",
        "serinus-leader-election",
        "Name of the leader-election Lease (Flagger's is flagger-leader-election: keep them apart).",
        {},
        None,
    ),
    ("lease-duration", "60s", "How long a leader's Lease lasts without renewal.", {"callback": _seconds}, None),
    (
        "renew-deadline",
        "15s",
        "How long a leader keeps trying to renew before it steps down.",
        {"callback": _seconds},
        None,
    ),
    ("retry-period", "5s", "How often the Lease is renewed or tried.", {"callback": _seconds}, None),
    ("enable-config-tracking/--disable-config-tracking", True, "Track ConfigMaps and Secrets of targets.", {}, None),
    ("cluster-name", "", "Added as the Cluster field of alerts.", {}, None),
    (
        "no-cross-namespace-refs",
        False,
        "Refuse MetricTemplate and AlertProvider references into other namespaces.",
        {"is_flag": True},
        None,
    ),
    ("event-webhook", "", "Receives every event of every Canary without event webhooks.", {}, "EVENT_WEBHOOK_URL"),
    ("slack-url", "", "Global Slack webhook URL.", {}, "SLACK_URL"),
    ("slack-token", "", "Global Slack bot token.", {}, "SLACK_TOKEN"),
    ("slack-proxy-url", "", "Proxy for Slack.", {}, "SLACK_PROXY_URL"),
    ("slack-user", "flagger", "Slack user name.", {}, None),
    ("slack-channel", "", "Slack channel.", {}, None),
    ("msteams-url", "", "Global Microsoft Teams webhook URL.", {}, "MSTEAMS_URL"),
    ("msteams-proxy-url", "", "Proxy for Teams.", {}, "MSTEAMS_PROXY_URL"),
    (
        "drain-period",
        "10s",
        "Pause after traffic moves away from pods before the next cluster-driven step.",
        {"callback": _seconds},
        None,
    ),
    (
        "max-response-bytes",
        "10MiB",
        "Largest answer read from a metrics provider, webhook or alert receiver (bytes, or KiB, MiB, GiB).",
        {"callback": _size},
        None,
    ),
    ("threadiness", 2, "Accepted for Flagger; unused: every Canary runs in its own task.", {"type": int}, None),
    (
        "zap-replace-globals",
        False,
        "Accepted for Flagger; unused: there is one logger, configured by --log-level and --log-format.",
        {"is_flag": True},
        None,
    ),
    (
        "foreign-status-window",
        "10m",
        "Leave a Canary alone while another controller (Flagger) wrote its status within this time; 0 turns the "
        "check off.",
        {"callback": _window},
        None,
    ),
    (
        "ledger-runs",
        10,
        "CanaryRun objects (the run ledger) kept per Canary, the oldest deleted first; 0 keeps no ledger.",
        {"type": click.IntRange(min=0)},
        None,
    ),
]

#: other names of an option: Flagger's spelling of the same setting
_ALIASES = {"log-format": ("zap-encoding",)}


def operator_options(command: F) -> F:
    """Decorate a click command with every operator option (see OperatorOptions)."""
    for name, default, text, extra, flagger_env in reversed(_SPEC):
        primary = name.split("/")[0]
        key = primary.replace("-", "_").upper()
        names = [f"--{name}"]
        if "/" not in name and not extra.get("is_flag"):
            names.append(f"-{primary}")  # boolean flags get theirs from flagger_args()
        for alias in _ALIASES.get(primary, ()):
            names += [f"--{alias}", f"-{alias}"]
        envvars = [f"SERINUS_{key}", *([flagger_env] if flagger_env else [])]
        command = click.option(
            *names,
            primary.replace("-", "_"),
            default=default,
            show_default=True,
            envvar=envvars,
            show_envvar=True,
            help=text,
            **extra,
        )(command)
    return command


_BOOLEANS = {
    "enable-leader-election": ("--enable-leader-election", None),
    "no-cross-namespace-refs": ("--no-cross-namespace-refs", None),
    "enable-config-tracking": ("--enable-config-tracking", "--disable-config-tracking"),
    "zap-replace-globals": ("--zap-replace-globals", None),
    "version": ("--version", None),
}

#: the flags klog.InitFlags adds to Flagger's command line, by whether they take a value. Flagger sends klog's
#: output through its zap logger, so none of them changes what it logs; Serinus accepts and ignores them.
KLOG_FLAGS = {
    "add_dir_header": False,
    "alsologtostderr": False,
    "legacy_stderr_threshold_behavior": False,
    "logtostderr": False,
    "one_output": False,
    "skip_headers": False,
    "skip_log_headers": False,
    "alsologtostderrthreshold": True,
    "log_backtrace_at": True,
    "log_dir": True,
    "log_file": True,
    "log_file_max_size": True,
    "stderrthreshold": True,
    "v": True,
    "vmodule": True,
}


def flagger_args(argv: list[str]) -> list[str]:
    """Rewrite Go-style boolean flags (`-enable-leader-election=true`, `-enable-config-tracking=false`) into
    ours and drop klog's flags (KLOG_FLAGS, with their values); everything else passes through (click reads
    `-port=8080` and `-namespace test` as they are)."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.lstrip("-").partition("=")
        if arg == "--":  # Go's flag package stops at `--` too
            out.append(arg)
            out.extend(args)
            break
        if arg.startswith("-") and name in KLOG_FLAGS:
            if KLOG_FLAGS[name] and not eq:
                next(args, None)  # `-v 4`: the value is the next argument
            continue
        if arg.startswith("-") and name in _BOOLEANS:
            on, off = _BOOLEANS[name]
            truthy = not eq or value.lower() in ("1", "t", "true")
            chosen = on if truthy else off
            if chosen:
                out.append(chosen)
            continue
        out.append(arg)
    return out


def from_params(params: dict[str, Any]) -> OperatorOptions:
    """OperatorOptions from the keyword arguments click passes to the command."""
    return OperatorOptions(**{f.name: params[f.name] for f in fields(OperatorOptions) if f.name in params})
