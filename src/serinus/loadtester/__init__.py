"""`serinus-loadtester`: the service that Canary webhooks call to run load tests, gates and commands."""

from __future__ import annotations

import click

from serinus import __version__


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="serinus-loadtester")
@click.option("--port", default=8080, show_default=True, envvar="SERINUS_LOADTESTER_PORT", help="Port to listen on.")
@click.option("--timeout", default="1h", show_default=True, help="Upper bound of a command's run time.")
@click.option("--namespace-regexp", default="", help="Only accept webhooks from namespaces matching this.")
@click.option("--log-level", default="info", show_default=True, help="debug, info, warning or error.")
def main(port: int, timeout: str, namespace_regexp: str, log_level: str) -> None:
    """Run the load tester (webhook target for load tests, gates and commands)."""
    raise click.ClickException("the load tester's server is not built yet (see issue 8)")
