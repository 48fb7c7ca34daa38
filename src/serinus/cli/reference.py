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

The same commands are installed as a kubectl plugin, `kubectl-serinus` (a console script beside `serinus`): with
it on the `PATH`, `kubectl serinus status podinfo -n test` runs `serinus status podinfo -n test`, and so on for
every command. `get canaries` and `status` are described with examples in [status.md](status.md).
"""


INPUTS = """
## Files the commands read

`validate`, `simulate`, `render` and `query` read their files (`-` is standard input) through one YAML reader,
which reads YAML as Kubernetes does (YAML 1.1; `1e3` is a number, timestamps stay text). Whatever the input, a
command ends with its exit code and, for a file it cannot use, one line naming the file and, where it applies, the
line and column or the field; never a traceback. The reader refuses, before expanding anything:

- text that is not UTF-8 (`cannot read: not UTF-8 text (byte 0xff on line 3)`) or holds a control character;
- nesting deeper than 100 levels, aliases that would add more than 10,000 values or 1,000,000 characters (a
  "billion laughs" document), an alias inside the value it names, and whole numbers of more than 1,000 digits.

| command | exit code for a file it cannot use |
| --- | --- |
| `validate` | 1 (with a line per problem; the other files are still checked) |
| `simulate` | 2 |
| `render` | 1 |
| `query` | 1 |

`validate` also fails (rather than skipping the object) for an apiVersion close to `flagger.app/v1beta1`
(`flager.app/v1beta1`, `Flagger.app/...`) and for one of our kinds, or a kind close to one (`Canery`), in the core
or a Kubernetes API group; it refuses NaN and infinite numbers (JSON, and so the Kubernetes API, has no word for
them) and whole numbers outside what Flagger's Go field holds: 32 bits for most (`port`,
`progressDeadlineSeconds`, the Istio and Gateway API fields), 64 bits for the analysis fields Flagger declares as Go
`int` (`threshold`, `maxWeight`, `stepWeight`, `iterations`, a webhook's `retries`, ...), as its amd64 and arm64
builds hold them.

`simulate` refuses NaN and infinite times and values in the scenario (`use null for no data` for a metric), a
duration that would hold more than 10,000 analysis steps or, with `traffic:`, more than 10,000 sub-intervals
(`traffic.subInterval: 0.001s makes 7,200,000 sub-intervals ...`), and traffic values past which the generator's
counts overflow ([docs/simulate.md](simulate.md)); each with exit 2 naming the field.

`render` and `simulate` never open a network connection: `render` runs the operator's code with webhooks taken
as accepted without being called, and sends neither alerts nor event webhooks.
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
        command = main.commands[name]
        parts.append(f"\n## serinus {name}\n\n```\n{_help(command, f'serinus {name}')}\n```\n")
        # a group's subcommands (`serinus get canaries`) have their own section
        subcommands = command.commands if isinstance(command, click.Group) else {}
        for sub in sorted(subcommands):
            path = f"serinus {name} {sub}"
            parts.append(f"\n## {path}\n\n```\n{_help(subcommands[sub], path)}\n```\n")
    parts.append(f"\n## serinus-loadtester\n\n```\n{_help(loadtester, 'serinus-loadtester')}\n```\n")
    parts.append(INPUTS)
    return "".join(parts)


if __name__ == "__main__":
    click.echo(render(), nl=False)
