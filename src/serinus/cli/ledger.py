"""`serinus history`, `serinus ledger` and `serinus explain`: the run ledger (CanaryRun objects) read back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, TypeVar

import click
import httpx2
from lightkube import ApiError, AsyncClient

from serinus.engine.ledger import Run, check_text, explain
from serinus.errors import SerinusError
from serinus.kube.client import connect
from serinus.kube.ledger import list_runs, plain
from serinus.kube.resources import CanaryRun

T = TypeVar("T")


class _Failed(click.ClickException):
    """Nothing to show (no such Canary run) or the cluster refused: one line, exit 1."""

    exit_code = 1


def _cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--namespace, --kubeconfig and --context, as kubectl spells them."""
    for option in reversed(
        [
            click.option("--namespace", "-n", default=None, help="The namespace; the kubeconfig context's by default."),
            click.option(
                "--kubeconfig", default=None, help="Kubeconfig file; $KUBECONFIG or ~/.kube/config when not given."
            ),
            click.option("--context", "kube_context", default=None, help="Kubeconfig context."),
        ]
    ):
        command = option(command)
    return command


def _output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
    )(command)


def _with_client(kubeconfig: str | None, context: str | None, work: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run `work` with a client of the cluster; API refusals become one line and exit 1."""

    async def main() -> T:
        client = connect(kubeconfig, context)
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except ApiError as err:
        raise _Failed(str(err.status.message or err)) from None
    except httpx2.HTTPStatusError as err:
        if err.response.status_code == 404:
            raise _Failed(
                "the CanaryRun CRD is not installed (kubectl apply -f deploy/crds/, or the Helm chart)"
            ) from None
        raise _Failed(str(err)) from None
    except (SerinusError, httpx2.HTTPError) as err:
        raise _Failed(str(err)) from None


def _namespace(client: AsyncClient, namespace: str | None) -> str:
    return namespace or client.namespace or "default"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _summary(run: Run) -> dict[str, Any]:
    return {
        "run": run.name,
        "revision": run.revision,
        "started": run.started,
        "ended": run.ended,
        "result": run.result or run.phase,
        "reason": run.reason,
        "ticks": sum(int(t.get("count", 1)) for t in run.ticks) + run.dropped,
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@_cluster_options
@_output_option
def history(name: str, namespace: str | None, kubeconfig: str | None, kube_context: str | None, output: str) -> None:
    """The runs of the Canary NAME, oldest first: revision, start, end, result and reason.

    A run still under way shows its phase as the result. Exit 1 when the Canary has no run.
    """

    async def work(client: AsyncClient) -> list[Run]:
        return await list_runs(client, _namespace(client, namespace), name)

    runs = _with_client(kubeconfig, kube_context, work)
    if not runs:
        raise _Failed(f"canary {name} has no recorded run")
    rows = [_summary(run) for run in runs]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    head = ["RUN", "REVISION", "STARTED", "ENDED", "RESULT", "REASON"]
    keys = ["run", "revision", "started", "ended", "result", "reason"]
    click.echo(_table([head, *[[str(row[k]) or "-" for k in keys] for row in rows]]))


async def _get_run(client: AsyncClient, namespace: str, run: str) -> Run | None:
    try:
        obj = await client.get(CanaryRun, run, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise
    return Run.from_object(plain(obj))


def _record_text(record: dict[str, Any]) -> str:
    kind = record.get("kind", "")
    if kind == "check":
        return "check " + check_text(record)
    if kind == "webhook":
        text = f"webhook {record.get('name')} ({record.get('type')}) {record.get('verdict')}"
        return f"{text}: {record['message']}" if record.get("message") else text
    if kind == "weight":
        mirrored = ", mirrored" if record.get("mirrored") else ""
        return f"weight primary {record.get('primary')}% canary {record.get('canary')}%{mirrored}"
    if kind == "phase":
        return f"phase {record.get('phase')}"
    if kind == "event":
        return f"event {record.get('type')}: {record.get('message')}"
    if kind == "action":  # a CanaryAction: verb, who, outcome, why (docs/actions.md)
        text = f"action {record.get('name')} by {record.get('type')} {record.get('verdict')}"
        return f"{text}: {record['message']}" if record.get("message") else text
    return json.dumps(record)


def ledger_text(run: Run) -> str:
    """A run as text: its head, then each tick (time, repeat count, phase, weight, decision) with its records."""
    lines = [
        f"Run {run.name}: canary {run.canary}.{run.namespace}, revision {run.revision} (checksum {run.checksum})",
        f"Started {run.started}" + (f", ended {run.ended}: {run.result}" if run.result else f", {run.phase}"),
    ]
    if run.reason:
        lines.append(f"Reason: {run.reason}")
    if run.dropped:
        lines.append(f"({run.dropped} ticks in the middle were dropped to keep the object small)")
    for tick in run.ticks:
        count = int(tick.get("count", 1))
        repeat = f" x{count} until {tick.get('last')}" if count > 1 else ""
        lines.append(
            f"{tick.get('at')}{repeat}  {tick.get('phase')} canary {tick.get('canaryWeight', 0)}%: "
            f"{tick.get('decision')}"
        )
        lines.extend(f"    {_record_text(record)}" for record in tick.get("records") or [])
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run")
@_cluster_options
@_output_option
def ledger(run: str, namespace: str | None, kubeconfig: str | None, kube_context: str | None, output: str) -> None:
    """Every tick of the CanaryRun RUN (as `serinus history` names it) with its records. Exit 1 when there is no
    such run."""

    async def work(client: AsyncClient) -> Run | None:
        return await _get_run(client, _namespace(client, namespace), run)

    found = _with_client(kubeconfig, kube_context, work)
    if found is None:
        raise _Failed(f"no CanaryRun {run}")
    if output == "json":
        click.echo(json.dumps(found.to_object(), indent=2))
        return
    click.echo(ledger_text(found))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.argument("run", required=False)
@_cluster_options
@_output_option
def explain_command(
    name: str, run: str | None, namespace: str | None, kubeconfig: str | None, kube_context: str | None, output: str
) -> None:
    """Why the Canary NAME's latest run (or RUN) ended as it did: the decisive check with its values and rule, in
    words. Exit 1 when there is no such run."""

    async def work(client: AsyncClient) -> Run | None:
        ns = _namespace(client, namespace)
        if run is not None:
            return await _get_run(client, ns, run)
        runs = await list_runs(client, ns, name)
        return runs[-1] if runs else None

    found = _with_client(kubeconfig, kube_context, work)
    if found is None or found.canary != name:
        raise _Failed(f"canary {name} has no recorded run" + (f" {run}" if run else ""))
    explanation = explain(found)
    if output == "json":
        click.echo(json.dumps(asdict(explanation), indent=2))
        return
    click.echo(explanation.text)


explain_command.name = "explain"
