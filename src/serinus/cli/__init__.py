"""The `serinus` command line."""

from __future__ import annotations

import click

from serinus import __version__
from serinus.cli.actions import COMMANDS as ACTION_COMMANDS
from serinus.cli.ledger import explain_command, history, ledger
from serinus.cli.query import query
from serinus.cli.render import render
from serinus.cli.run import run
from serinus.cli.simulate import simulate
from serinus.cli.status import get, status
from serinus.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="serinus")
def main() -> None:
    """Serinus: canary, A/B and blue/green releases on Kubernetes, compatible with Flagger's CRDs."""


main.add_command(validate)
main.add_command(query)
main.add_command(render)
main.add_command(run)
main.add_command(simulate)
main.add_command(history)
main.add_command(ledger)
main.add_command(explain_command)
main.add_command(get)
main.add_command(status)
for _action in ACTION_COMMANDS:
    main.add_command(_action)
