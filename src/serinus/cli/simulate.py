"""`serinus simulate CANARY.yaml --scenario SCENARIO.yaml`: what a Canary will do, before it is applied."""

from __future__ import annotations

import json
from typing import Any

import click

from serinus.api import Canary
from serinus.api.check import check_object, context_for
from serinus.cli.inputs import InputError, display_name, read_objects, read_yaml
from serinus.sim.base import ScenarioError, parse_time
from serinus.sim.runner import SimResult, simulate_async
from serinus.sim.scenario import parse_scenario
from serinus.sim.world import Event, Judgement, Weights

_VERDICT_COLOURS = {"ROLLBACK": "red", "PROMOTE": "green", "ADVANCE": "cyan", "HOLD": "yellow", "FREEZE": "magenta"}
_PHASE_COLOURS = {
    "Succeeded": "green",
    "Failed": "red",
    "Progressing": "cyan",
    "Promoting": "blue",
    "Finalising": "blue",
    "Waiting": "yellow",
    "WaitingPromotion": "yellow",
}


class _Bad(click.ClickException):
    """A bad Canary or scenario: one line, exit 2."""

    exit_code = 2


def load_canary(path: str, mesh_provider: str) -> Canary:
    """The one Canary in a manifest file, checked as `serinus validate` checks it."""
    try:
        docs = read_objects(path)
    except InputError as err:
        raise _Bad(str(err)) from None
    canaries = [d for d in docs if d.get("kind") == "Canary"]
    if len(canaries) != 1:
        raise _Bad(f"{display_name(path)}: expected exactly one Canary, found {len(canaries)}")
    report = check_object(canaries[0], context_for(docs, mesh_provider=mesh_provider))
    if report.errors or not isinstance(report.obj, Canary):
        first = report.errors[0] if report.errors else None
        raise _Bad(
            f"{display_name(path)}: canary {report.name}: "
            + (f"{first.where}: {first.message}" if first else "invalid")
        )
    return report.obj


def _time(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def render_text(result: SimResult, canary: Canary) -> str:
    """A readable timeline: time, phase, weights and event, one line per event or alert, in order; with the
    statistical judge, one compact line per tick (its verdict and each metric's)."""
    entries: list[Any] = sorted(
        [*result.events, *result.weights, *result.alerts, *result.judgements], key=lambda e: (e.seq, e.at)
    )
    current = (100, 0)
    lines: list[str] = []
    for entry in entries:
        if isinstance(entry, Weights):
            current = (entry.primary, entry.canary)
        elif isinstance(entry, Event):
            phase = click.style(f"{entry.phase or '-':<16}", fg=_PHASE_COLOURS.get(entry.phase))
            message = click.style(entry.message, fg="red" if entry.type == "Warning" else None)
            lines.append(f"{_time(entry.at):>9}  {phase} primary {current[0]:>3}% canary {current[1]:>3}%  {message}")
        elif isinstance(entry, Judgement):
            verdict = click.style(entry.verdict, fg=_VERDICT_COLOURS.get(entry.verdict), bold=True)
            metrics = ", ".join(f"{line.metric} {line.verdict}" for line in entry.lines)
            lines.append(
                f"{_time(entry.at):>9}  judge {verdict}"
                + (f" ({metrics})" if metrics else "")
                + (f": {entry.reason}" if entry.reason else "")
            )
        else:
            colour = {"error": "red", "warn": "yellow"}.get(entry.severity)
            lines.append(
                f"{_time(entry.at):>9}  "
                + click.style(f"alert ({entry.severity}): {entry.message}", fg=colour, dim=colour is None)
            )
    name = f"{canary.metadata.name}.{canary.metadata.namespace or 'default'}"
    head = f"Simulating canary {name}: analysis every {_time(canary.analysis_interval_seconds())}"
    outcome = click.style(result.phase, fg=_PHASE_COLOURS.get(result.phase), bold=True)
    return "\n".join([head, *lines, f"Result: {outcome} after {_time(result.duration)} simulated"])


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("canary_file", metavar="CANARY.yaml")
@click.option(
    "--scenario",
    "scenario_file",
    metavar="SCENARIO.yaml",
    default=None,
    help="What happens around the canary over time (metrics, webhooks, readiness, revisions).",
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A readable timeline, or one JSON object.",
)
@click.option(
    "--mesh-provider",
    default="istio",
    show_default=True,
    envvar="MESH_PROVIDER",
    help="The operator's default provider, for Canaries without spec.provider.",
)
@click.option(
    "--drain-period",
    default="10s",
    show_default=True,
    help="The operator's --drain-period: how long after traffic left the canary it is scaled down.",
)
@click.option(
    "--ledger",
    "ledger_file",
    metavar="FILE",
    default=None,
    help="Also write the run ledger (the CanaryRun objects the operator would keep) to FILE as JSON; - for stdout.",
)
def simulate(
    canary_file: str,
    scenario_file: str | None,
    output: str,
    mesh_provider: str,
    drain_period: str,
    ledger_file: str | None,
) -> None:
    """Replay CANARY.yaml against a scenario on a virtual clock and show every step, event and alert.

    Exit 0 when the simulation ran, whatever its outcome; 2 for a bad Canary or scenario.
    """
    import asyncio

    canary = load_canary(canary_file, mesh_provider)
    doc: object = {}
    if scenario_file is not None:
        try:
            doc = read_yaml(scenario_file)
        except InputError as err:
            raise _Bad(str(err)) from None
    try:
        scenario = parse_scenario(doc, canary)
    except ScenarioError as err:
        raise _Bad(f"{display_name(scenario_file) if scenario_file is not None else 'scenario'}: {err}") from None
    try:
        drain_s = parse_time(drain_period, "--drain-period")
    except ScenarioError as err:
        raise _Bad(str(err)) from None
    result = asyncio.run(simulate_async(canary, scenario, mesh_provider, drain_s))
    if ledger_file is not None:
        ledger = json.dumps({"apiVersion": "v1", "kind": "List", "items": result.ledger()}, indent=2)
        if ledger_file == "-":
            click.echo(ledger)
            return
        with open(ledger_file, "w", encoding="utf-8") as out:
            out.write(ledger + "\n")
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(render_text(result, canary))
