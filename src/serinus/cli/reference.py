"""The command-line reference (docs/cli.md), rendered from the commands themselves so it cannot drift.

.venv/bin/python -m serinus.cli.reference > docs/cli.md
"""

from __future__ import annotations

import click

from serinus.cli import main
from serinus.loadtester.cli import main as loadtester

INTRO = """# Command-line reference

Generated from the commands (`.venv/bin/python -m serinus.cli.reference > docs/cli.md`); a unit test keeps this
page and the code equal. Every option can also be set by the environment variable shown, and `serinus run` and
`serinus-loadtester` accept Flagger's Go-style single-dash flags (`-mesh-provider=kubernetes`,
`-enable-leader-election=true`) as well.
"""


def _help(command: click.Command, path: str) -> str:
    # Every command sets its own help option names (-h, --help), so the text does not depend on how it was reached.
    ctx = click.Context(
        command, info_name=path, terminal_width=100, max_content_width=100, help_option_names=["-h", "--help"]
    )
    return command.get_help(ctx)


def render() -> str:
    """The whole reference as Markdown."""
    parts = [INTRO]
    assert isinstance(main, click.Group)
    parts.append(f"\n## serinus\n\n```\n{_help(main, 'serinus')}\n```\n")
    for name in sorted(main.commands):
        parts.append(f"\n## serinus {name}\n\n```\n{_help(main.commands[name], f'serinus {name}')}\n```\n")
    parts.append(f"\n## serinus-loadtester\n\n```\n{_help(loadtester, 'serinus-loadtester')}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    click.echo(render(), nl=False)
