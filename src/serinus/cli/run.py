"""`serinus run`: the operator."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click

from serinus import __version__
from serinus.kube.client import ClusterUnavailable, connect
from serinus.kube.leader import LeadershipLost
from serinus.kube.ratelimit import set_rate_limit
from serinus.net import set_max_response_bytes
from serinus.runtime.analysis import ClusterAnalysis
from serinus.runtime.metrics import ControllerMetrics
from serinus.runtime.operator import Operator
from serinus.runtime.options import OperatorOptions, flagger_args, from_params, operator_options
from serinus.runtime.scheduler import Key, Wait


async def run_operator(options: OperatorOptions) -> None:
    """Run until SIGTERM or SIGINT."""
    set_max_response_bytes(options.max_response_bytes)  # every provider, webhook and alert reads up to this
    set_rate_limit(options.kubeconfig_qps, options.kubeconfig_burst)  # every Kubernetes client connect() makes
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = ControllerMetrics()
    client = connect(options.kubeconfig or None, namespace=options.namespace or None)
    try:
        analysis = ClusterAnalysis(client, options, metrics)

        async def analyze(key: Key) -> Wait | None:
            return await analysis(key)

        try:
            await Operator(options, analyze, metrics=metrics).run(stop)
        finally:
            await analysis.close()
    finally:
        await client.close()


class _FlaggerStyle(click.Command):
    """Accepts Flagger's Go-style boolean flags (`-enable-leader-election=true`) as well as ours."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, flagger_args(args))


@click.command(cls=_FlaggerStyle, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="serinus", help="Print the version and exit (Flagger's -version)."
)
@operator_options
def run(**params: Any) -> None:
    """Run the operator: watch Canaries and drive their releases (Flagger's flags are accepted too)."""
    from serinus.runtime.logs import configure

    options = from_params(params)
    configure(options.log_level, options.log_format)
    try:
        asyncio.run(run_operator(options))
    except ClusterUnavailable as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    except LeadershipLost as err:
        # Flagger's OnStoppedLeading: log and exit 1, so the Deployment restarts the pod and it campaigns again
        # (its work was cancelled before the Lease could expire, so no two replicas ever drive one Canary).
        click.echo(f"Error: Leadership lost: {err}", err=True)
        sys.exit(1)
