"""The run ledger on the real control plane: `serinus run` (as the chart's ServiceAccount) writes one CanaryRun per
run, owned by the Canary, keeps --ledger-runs of them, and `serinus history`, `serinus ledger` and `serinus
explain` read them back: a rollback on a refused webhook, then a promotion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lightkube import ApiError, Client, codecs
from lightkube.types import PatchType

from serinus.cli import main
from serinus.kube.resources import Canary, CanaryRun
from tests.cluster.controlplane import Cluster, free_port
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import meta, present

IMAGES = [f"ghcr.io/example/web:{n}.0" for n in range(1, 5)]
KEEP_TWO = ("--ledger-runs=2",)


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    """A fresh namespace with Serinus's CRDs (CanaryRun included) installed and ready."""
    return op.ledger_namespace(cluster, "ledger")


def _cli(cluster: Cluster, ns: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "-n", ns, "--kubeconfig", str(cluster.kubeconfig)])
    return result.exit_code, result.output


def _runs(client: Client) -> list[str]:
    return sorted(str(meta(obj).name) for obj in client.list(CanaryRun, labels={"serinus.io/canary": "web"}))


def _ended(client: Client, name: str, result: str) -> bool:
    try:
        obj: Any = client.get(CanaryRun, name)
    except ApiError:
        return False
    return bool((obj.get("status") or {}).get("result") == result)


def test_runs_are_recorded_explained_and_pruned(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """Run 1 rolls back on a refused rollout webhook and `explain` names it; run 2 is promoted and `history` and
    `ledger` show both; after an operator restart, run 3 pushes run 1 out (--ledger-runs=2). Each CanaryRun is
    owned by the Canary."""
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    with op.running(cluster, ns, log, *KEEP_TWO):
        _first_two_runs(cluster, client, ns, log)
    # a second operator (a restart, a new leader) reads the runs back: run 3 gets the next number, run 1 goes
    with op.running(cluster, ns, log, *KEEP_TWO):
        op.set_image(client, IMAGES[3])
        wait_for(lambda: _runs(client) == ["web-2", "web-3"], f"web-1 pruned for web-3 (log: {log})", timeout=120)
    code, out = _cli(cluster, ns, "ledger", "web-1")
    assert code == 1
    assert "no CanaryRun web-1" in out


def _first_two_runs(cluster: Cluster, client: Client, ns: str, log: Path) -> None:
    """Run 1 rolled back and explained, run 2 promoted, both in `history` and `ledger`."""
    closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens: the webhook is refused every time
    client.create(codecs.from_dict(op.deployment(ns, IMAGES[0])))
    client.create(
        op.canary(
            ns,
            analysis={
                "interval": "10s",
                "threshold": 1,
                "iterations": 2,
                "webhooks": [{"name": "smoke", "type": "rollout", "url": closed, "timeout": "2s"}],
            },
        )
    )
    wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
    assert _runs(client) == []  # initialization is no run

    op.set_image(client, IMAGES[1])
    wait_for(lambda: _ended(client, "web-1", "Failed"), f"web-1 Failed (log: {log})", timeout=180)
    uid = meta(client.get(Canary, "web")).uid
    owner = present(meta(client.get(CanaryRun, "web-1")).ownerReferences)[0]
    assert (owner.kind, owner.name, owner.uid) == ("Canary", "web", uid)

    code, out = _cli(cluster, ns, "explain", "web")
    assert code == 0, out
    assert f"Run web-1 of canary web.{ns}" in out
    assert "Failed" in out
    assert "Reason: Rolling back web." in out
    assert "Decisive check: webhook smoke (rollout) refused" in out

    client.patch(Canary, "web", {"spec": {"analysis": {"webhooks": []}}}, patch_type=PatchType.MERGE)
    op.set_image(client, IMAGES[2])
    wait_for(lambda: _ended(client, "web-2", "Succeeded"), f"web-2 Succeeded (log: {log})", timeout=180)

    code, out = _cli(cluster, ns, "history", "web")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["RUN", "REVISION", "STARTED", "ENDED", "RESULT"]
    assert [line.split()[0] for line in lines[1:]] == ["web-1", "web-2"]
    assert "Failed" in lines[1]
    assert "Succeeded" in lines[2]
    assert "Promotion completed! Scaling down web." in lines[2]

    code, out = _cli(cluster, ns, "ledger", "web-2", "-o", "json")
    assert code == 0, out
    doc = json.loads(out)
    decisions = [tick["decision"] for tick in doc["status"]["ticks"]]
    assert decisions[0] == "start"
    assert decisions[-1] == "promoted"
    assert "advance" in decisions
    code, text = _cli(cluster, ns, "ledger", "web-2")
    assert code == 0, text
    assert "event Normal: Promotion completed! Scaling down web." in text
