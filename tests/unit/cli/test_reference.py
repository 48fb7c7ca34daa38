"""docs/cli.md is the help of every command, as the commands print it today."""

from __future__ import annotations

from serinus.cli.reference import render
from tests.conftest import REPO


def test_cli_reference_matches_the_commands() -> None:
    """Regenerate with `.venv/bin/python -m serinus.cli.reference > docs/cli.md` when a command changes."""
    assert (REPO / "docs" / "cli.md").read_text() == render()


def test_reference_covers_every_command() -> None:
    """Each command of the README has its section."""
    text = render()
    for command in (
        "serinus run",
        "serinus simulate",
        "serinus validate",
        "serinus query",
        "serinus render",
        "serinus-loadtester",
    ):
        assert f"\n## {command}\n" in text
