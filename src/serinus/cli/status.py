"""`serinus get canaries` (the fleet table) and `serinus status NAME` (one Canary, for people and for CI), read
from the Canaries, their newest CanaryRun and their Events; `-w` keeps either one live."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click
import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.core_v1 import Event

from serinus.api import CanaryPhase
from serinus.api.duration import DurationError, positive_seconds
from serinus.cli.ledger import _cluster_options, _Failed, _namespace, _with_client
from serinus.cli.views import (
    END_PHASES,
    Snapshot,
    fleet_head,
    fleet_row,
    fleet_table,
    is_pending,
    json_line,
    line,
    screen,
    target_hash,
)
from serinus.cli.views import snapshot as make_snapshot
from serinus.engine.ledger import Run
from serinus.kube.ledger import list_runs, plain
from serinus.kube.resources import Canary

#: seconds between two reads while watching; a release step takes an analysis interval (10 s and more)
POLL_S = 1.0
#: exit codes of `status`: the release succeeded (or reached --until), failed, or --timeout passed first
EXIT_SUCCEEDED, EXIT_FAILED, EXIT_TIMEOUT = 0, 1, 2
#: clear the terminal and go home, to redraw in place
CLEAR = "\x1b[H\x1b[2J"
_TARGETS: dict[str, Any] = {"Deployment": Deployment, "DaemonSet": DaemonSet, "StatefulSet": StatefulSet}
_PHASES = [p.value for p in CanaryPhase if p.value]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tty() -> bool:
    return sys.stdout.isatty()


def _width() -> int:
    return shutil.get_terminal_size((120, 40)).columns


def _fit(text: str) -> str:
    """Each line cut to the terminal's width, so a redraw never wraps and scrolls."""
    width = _width()
    return "\n".join(row if len(row) <= width else row[: width - 1] for row in text.splitlines())


async def _runs(client: AsyncClient, namespace: str, name: str | None = None) -> dict[tuple[str, str], Run]:
    """The newest run of each Canary; none when the CanaryRun CRD is missing or may not be read (Flagger's CRDs
    alone: the table still shows the status)."""
    try:
        runs = await list_runs(client, namespace, name)
    except ApiError as err:
        if err.status.code in (403, 404):
            return {}
        raise
    except httpx2.HTTPStatusError as err:
        if err.response.status_code in (403, 404):
            return {}
        raise
    return {(run.namespace, run.canary): run for run in runs}  # oldest first: the newest wins


async def _pending(client: AsyncClient, canary: dict[str, Any]) -> bool:
    """Whether the target's pod template changed since the operator last looked (apps/v1 targets only)."""
    ref = (canary.get("spec") or {}).get("targetRef") or {}
    resource = _TARGETS.get(str(ref.get("kind") or ""))
    meta = canary.get("metadata") or {}
    if resource is None or not ref.get("name"):
        return False
    try:
        target = plain(await client.get(resource, str(ref["name"]), namespace=meta.get("namespace")))
    except ApiError:
        return False
    return is_pending(canary.get("status") or {}, target_hash(str(ref["kind"]), target))


async def fleet(client: AsyncClient, namespace: str) -> list[Snapshot]:
    """Every Canary of `namespace` ("*": all) with its newest run."""
    canaries = [plain(obj) async for obj in client.list(Canary, namespace=namespace)]
    runs = await _runs(client, namespace)
    snaps = []
    for canary in canaries:
        meta = canary.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        snaps.append(make_snapshot(canary, runs.get(key), pending=await _pending(client, canary)))
    return snaps


async def one(client: AsyncClient, namespace: str, name: str) -> Snapshot:
    """One Canary with its newest run and recent events; _Failed when there is no such Canary."""
    try:
        canary = plain(await client.get(Canary, name, namespace=namespace))
    except ApiError as err:
        if err.status.code == 404:
            raise _Failed(f"canary {name} not found in namespace {namespace}") from None
        raise
    runs = await _runs(client, namespace, name)
    events = [
        plain(e)
        async for e in client.list(
            Event, namespace=namespace, fields={"involvedObject.name": name, "involvedObject.kind": "Canary"}
        )
    ]
    return make_snapshot(canary, runs.get((namespace, name)), events, pending=await _pending(client, canary))


async def _read(read: Callable[[], Awaitable[Any]], first: bool) -> Any:
    """One read; while watching, a failed read after the first is skipped (an API server restart or a network
    blip must not end a CI job), and said once on stderr."""
    try:
        return await read()
    except (ApiError, httpx2.HTTPError) as err:
        if first or (isinstance(err, ApiError) and err.status.code in (401, 403, 404)):
            raise
        click.echo(f"read failed, retrying: {err}", err=True)
        return None


# ----- serinus get canaries -----


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def get() -> None:
    """Show Serinus objects as tables (`serinus get canaries`)."""


@get.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--all-namespaces", "-A", is_flag=True, help="Canaries of every namespace.")
@click.option(
    "--watch",
    "-w",
    is_flag=True,
    help="Keep the table live: redraw it (or, not on a terminal, print the rows that changed).",
)
@_cluster_options
def canaries(
    all_namespaces: bool, watch: bool, namespace: str | None, kubeconfig: str | None, kube_context: str | None
) -> None:
    """The fleet: each Canary's phase, canary weight, failed checks (of the threshold), last transition, and its
    newest run's decision and reason from the run ledger.

    A phase marked "new revision pending" is the previous release's: the target changed and the operator has not
    started the new run yet. Without -w, exit 1 when there is no Canary.
    """
    tty = _tty()

    async def work(client: AsyncClient) -> None:
        ns = "*" if all_namespaces else _namespace(client, namespace)
        first = True
        shown: dict[tuple[str, str], list[str]] = {}
        while True:
            snaps = await _read(lambda: fleet(client, ns), first)
            if snaps is not None:
                if not watch:
                    if not snaps:
                        where = "any namespace" if all_namespaces else f"namespace {ns}"
                        raise _Failed(f"no Canary in {where}")
                    click.echo(fleet_table(snaps, all_namespaces))
                    return
                if tty:
                    rows = {(s.namespace, s.name): fleet_row(s, all_namespaces) for s in snaps}
                    if first or rows != shown:
                        width = max(20, _width() - 100)
                        click.echo(CLEAR + _fit(fleet_table(snaps, all_namespaces, width)), nl=True)
                    shown = rows
                else:
                    # as `kubectl get -w`: the head once, then each row that changed (a deleted Canary is not shown)
                    if first:
                        click.echo("   ".join(fleet_head(all_namespaces)))
                    for snap in sorted(snaps, key=lambda s: (s.namespace, s.name)):
                        row = fleet_row(snap, all_namespaces)
                        if shown.get((snap.namespace, snap.name)) != row:
                            click.echo("   ".join(row))
                            shown[(snap.namespace, snap.name)] = row
                sys.stdout.flush()
                first = False
            await asyncio.sleep(POLL_S)

    try:
        _with_client(kubeconfig, kube_context, work)
    except KeyboardInterrupt:
        sys.exit(130)


# ----- serinus status -----


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--watch", "-w", is_flag=True, help="Follow the release until it ends (or --until PHASE).")
@click.option(
    "--until",
    type=click.Choice(_PHASES, case_sensitive=False),
    default=None,
    metavar="PHASE",
    help="With -w (implied): stop at this phase (Progressing, WaitingPromotion, ...) as well as at Succeeded and "
    "Failed.",
)
@click.option("--timeout", default=None, help="With -w (implied): give up after this long (10m, 90s), exit 2.")
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json", "jsonl"]),
    default="text",
    show_default=True,
    help="text: one screen on a terminal, one line per change otherwise; json: the last state as one document; "
    "jsonl: one JSON object per change.",
)
@_cluster_options
def status(
    name: str,
    watch: bool,
    until: str | None,
    timeout: str | None,
    output: str,
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """The Canary NAME: phase, canary weight, failed checks, the current run's latest step with each check's value
    against its bound, and recent events.

    With -w it follows the release: on a terminal the screen is redrawn in place; otherwise (or with -o jsonl) one
    line is printed per change. It ends when the release ends (Succeeded or Failed; a phase left from the previous
    release while a new revision is pending does not count) or at --until PHASE.

    Exit code: 0 when it ends on Succeeded or on --until PHASE, 1 on Failed (without -w: when the phase is Failed)
    or when there is no such Canary, 2 when --timeout passes first. For CI:
    `serinus status podinfo -w --until Succeeded --timeout 10m`.
    """
    limit: float | None = None
    if timeout is not None:
        try:
            limit = positive_seconds(timeout)
        except DurationError as err:
            raise click.BadParameter(str(err), param_hint="--timeout") from None
    watch = watch or until is not None or timeout is not None
    stop = {str(p).lower() for p in END_PHASES} | ({until.lower()} if until else set())
    tty = _tty() and output == "text"

    def emit(snap: Snapshot) -> None:
        if output == "jsonl":
            click.echo(json_line(snap, _now()))
        elif output == "text" and tty:
            click.echo((CLEAR if watch else "") + _fit(screen(snap)))
        elif output == "text" and watch:
            click.echo(line(snap, _now()))
        elif output == "text":
            click.echo(screen(snap))
        sys.stdout.flush()

    async def work(client: AsyncClient) -> int:
        ns = _namespace(client, namespace)
        started = time.monotonic()
        last: Snapshot | None = None
        first = True
        while True:
            snap = await _read(lambda: one(client, ns, name), first)
            first = False
            if snap is not None:
                if snap != last and output != "json":
                    emit(snap)
                last = snap
                if not watch:
                    break
                if not snap.pending and snap.phase.lower() in stop:
                    break
            if limit is not None and time.monotonic() - started >= limit:
                if output == "json" and last is not None:
                    click.echo(json.dumps(last.to_json(), indent=2))
                click.echo(f"timed out after {timeout} waiting for canary {name}", err=True)
                return EXIT_TIMEOUT
            await asyncio.sleep(POLL_S)
        assert last is not None
        if output == "json":
            click.echo(json.dumps(last.to_json(), indent=2))
        return EXIT_FAILED if last.phase == CanaryPhase.FAILED else EXIT_SUCCEEDED

    try:
        code = _with_client(kubeconfig, kube_context, work)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code)
