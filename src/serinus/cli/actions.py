"""`serinus promote / abort / pause / resume / retry / approve / reject NAME --reason R`: CanaryActions.

Each command creates one CanaryAction (serinus.io/v1alpha1) in the Canary's namespace, stamped with the requester's
identity as the API server reports it (a SelfSubjectReview), the revision the Canary is at, a reason and an expiry.
It never edits the Canary, so a GitOps tool has nothing to revert. The API server refuses it unless the identity is
the requester's and the requester holds the action's verb on the Canary (the chart's ValidatingAdmissionPolicy);
the operator applies it at its next step, or rejects it (docs/actions.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import click
import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.resources.authentication_v1 import SelfSubjectReview

from serinus.api.duration import duration_seconds
from serinus.cli.ledger import _cluster_options, _Failed, _namespace, _with_client
from serinus.engine.actions import API_VERSION, KIND, Verb
from serinus.engine.ledger import CANARY_LABEL
from serinus.errors import SerinusError
from serinus.kube.ledger import plain
from serinus.kube.resources import Canary, CanaryAction

#: the label naming an action's verb, beside serinus.io/canary
ACTION_LABEL = "serinus.io/action"
#: how long an action may wait for the operator before it expires, unless --ttl says otherwise
DEFAULT_TTL = "15m"


class _TimedOut(click.ClickException):
    """--wait ran out before the operator settled the action: exit 2."""

    exit_code = 2


async def whoami(client: AsyncClient) -> tuple[str, list[str]]:
    """The requester's user name and groups, as the API server authenticates this client."""
    review: Any = await client.create(SelfSubjectReview())
    info = review.status.userInfo
    return str(info.username or ""), list(info.groups or [])


def action_object(
    namespace: str,
    canary: str,
    verb: Verb,
    *,
    revision: str,
    user: str,
    groups: list[str],
    reason: str,
    expires: dt.datetime,
    full: bool = False,
) -> dict[str, Any]:
    """The CanaryAction a command creates (its name is generated: `<canary>-<verb>-xxxxx`)."""
    spec: dict[str, Any] = {
        "canaryRef": {"name": canary},
        "action": verb.value,
        "revision": revision,
        "requestedBy": user,
        "groups": groups,
        "reason": reason,
        "expiresAt": expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if full:
        spec["full"] = True
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "generateName": f"{canary}-{verb.value}-",
            "namespace": namespace,
            "labels": {CANARY_LABEL: canary, ACTION_LABEL: verb.value},
        },
        "spec": spec,
    }


async def _act(
    client: AsyncClient,
    namespace: str | None,
    name: str,
    verb: Verb,
    reason: str,
    revision: str | None,
    ttl: float,
    full: bool,
    wait: float | None,
) -> tuple[str, str, str]:
    """Create the action; with `wait`, poll until the operator settles it. (name, phase, message)."""
    ns = _namespace(client, namespace)
    try:
        canary = plain(await client.get(Canary, name, namespace=ns))
    except (ApiError, httpx2.HTTPStatusError) as err:
        code = err.status.code if isinstance(err, ApiError) else err.response.status_code
        if code == 404:
            raise SerinusError(f"no canary {name} in namespace {ns}") from None
        raise
    if revision is None:
        revision = str((canary.get("status") or {}).get("lastAppliedSpec") or "")
    user, groups = await whoami(client)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
    body = action_object(
        ns, name, verb, revision=revision, user=user, groups=groups, reason=reason, expires=expires, full=full
    )
    try:
        created = plain(await client.create(CanaryAction.from_dict(body)))
    except httpx2.HTTPStatusError as err:
        if err.response.status_code == 404:
            raise SerinusError("the CanaryAction CRD is not installed (deploy/crds/, or the Helm chart)") from None
        raise
    action = str(created["metadata"]["name"])
    if wait is None:
        return action, "", ""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = plain(await client.get(CanaryAction, action, namespace=ns)).get("status") or {}
        if status.get("phase"):
            return action, str(status["phase"]), str(status.get("message") or "")
        await asyncio.sleep(1)
    return action, "", ""


def _command(verb: Verb, summary: str) -> click.Command:
    """One action command."""

    @_cluster_options
    @click.option("--reason", "-r", required=True, help="Why: kept in the action, its Event, the ledger and alerts.")
    @click.option(
        "--revision",
        default=None,
        help="The revision (status.lastAppliedSpec) to act on; the Canary's current one by default. An action for "
        "another revision than the Canary's when the operator reads it is Rejected.",
    )
    @click.option("--ttl", default=DEFAULT_TTL, show_default=True, help="Expire unless applied within this time.")
    @click.option("--wait", "wait", is_flag=True, help="Wait for the operator's outcome; exit 1 unless Applied.")
    @click.option("--timeout", default="5m", show_default=True, help="With --wait: exit 2 after this long.")
    @click.argument("name")
    def command(
        name: str,
        reason: str,
        revision: str | None,
        ttl: str,
        wait: bool,
        timeout: str,
        namespace: str | None,
        kubeconfig: str | None,
        kube_context: str | None,
        full: bool = False,
    ) -> None:
        try:
            ttl_s, timeout_s = duration_seconds(ttl), duration_seconds(timeout)
        except SerinusError as err:  # DurationError
            raise click.BadParameter(str(err)) from None
        action, phase, message = _with_client(
            kubeconfig,
            kube_context,
            lambda client: _act(
                client, namespace, name, verb, reason, revision, ttl_s, full, timeout_s if wait else None
            ),
        )
        click.echo(f"canaryaction/{action} created: {verb.value} {name}")
        if not wait:
            return
        if not phase:
            raise _TimedOut(f"canaryaction/{action} not settled within {timeout}")
        click.echo(f"{phase}: {message}")
        if phase != "Applied":
            raise _Failed(f"canaryaction/{action} {phase.lower()}")

    command.__doc__ = summary
    cmd = click.command(verb.value, help=summary)(command)
    if verb is Verb.PROMOTE:
        cmd = click.option("--full", is_flag=True, help="Straight to full weight, then promote.")(cmd)
    return cmd


promote = _command(Verb.PROMOTE, "Skip the rest of the analysis and promote the canary (--full: via full weight).")
abort = _command(Verb.ABORT, "Roll the release back now: all traffic to the primary, the canary scaled down.")
pause = _command(Verb.PAUSE, "Hold the analysis (no check, no traffic step, no failed check) until resumed.")
resume = _command(Verb.RESUME, "Let a paused analysis go on.")
retry = _command(Verb.RETRY, "Run a Failed revision's release again, without a change to the spec.")
approve = _command(Verb.APPROVE, "Open the Canary's manual gate (not applied by this operator version yet).")
reject = _command(Verb.REJECT, "Close the Canary's manual gate (not applied by this operator version yet).")
COMMANDS = (promote, abort, pause, resume, retry, approve, reject)
