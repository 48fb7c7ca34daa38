"""`serinus status` and `serinus get canaries` on the real control plane, following releases that `serinus run`
drives (kubernetes provider): the exit codes CI relies on (0 Succeeded, 1 Failed, 2 timeout), the jsonl lines,
the fleet table, and the live terminal view under tmux as the phase changes."""

from __future__ import annotations

import http.server
import itertools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lightkube import codecs

from serinus.cli import main
from tests.cluster.controlplane import ROOT, Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for

IMAGES = [f"ghcr.io/example/web:{n}.0" for n in range(1, 6)]
#: the kubectl plugin entry point (pyproject.toml): what `kubectl serinus ...` runs
PLUGIN = ROOT / ".venv" / "bin" / "kubectl-serinus"


class Hooks:
    """A webhook target on 127.0.0.1 whose answer per path (`/gate`, `/smoke`) the test switches: 200 or 403."""

    def __init__(self) -> None:
        self.open = {"/gate": True, "/smoke": True}
        opened = self.open

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200 if opened.get(self.path, False) else 403)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    """The switchable webhook target."""
    server = Hooks()
    yield server
    server.close()


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    """A fresh namespace with Serinus's CRDs (CanaryRun included) installed and ready."""
    return op.ledger_namespace(cluster, "status")


def _status(cluster: Cluster, ns: str, *args: str) -> subprocess.Popen[str]:
    """`kubectl-serinus status web ...` as a process, its stdout piped (not a terminal)."""
    return subprocess.Popen(
        [str(PLUGIN), "status", "web", "-n", ns, "--kubeconfig", str(cluster.kubeconfig), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(row) for row in out.splitlines() if row.strip()]


def _cli(cluster: Cluster, ns: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "-n", ns, "--kubeconfig", str(cluster.kubeconfig)])
    return result.exit_code, result.output


def test_status_exit_codes_jsonl_and_fleet_table(
    cluster: Cluster, namespace: str, hooks: Hooks, tmp_path: Path
) -> None:
    """`status -w --until Succeeded` follows a promotion to exit 0 with one JSON line per change; started right
    after the next image change (the Canary still Succeeded from before) it waits for that run and exits 1 when it
    rolls back; held at a closed gate, `--timeout 5s` exits 2; `get canaries` shows each state with the run's
    decision."""
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    assert PLUGIN.exists(), "run ./scripts/bootstrap --test: the kubectl-serinus entry point is missing"
    analysis = {
        "interval": "5s",
        "threshold": 1,
        "iterations": 2,
        "webhooks": [
            {"name": "gate", "type": "confirm-rollout", "url": f"{hooks.url}/gate", "timeout": "2s"},
            {"name": "smoke", "type": "rollout", "url": f"{hooks.url}/smoke", "timeout": "2s"},
        ],
    }
    with op.running(cluster, ns, log):
        client.create(codecs.from_dict(op.deployment(ns, IMAGES[0])))
        client.create(op.canary(ns, analysis=analysis))
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)

        # a promotion: exit 0, and the lines tell the release step by step
        proc = _status(cluster, ns, "-w", "--until", "Succeeded", "--timeout", "150s", "-o", "jsonl")
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the state before the change, then the change
        op.set_image(client, IMAGES[1])
        code, out, err = _finish(proc, 180)
        out = first + out
        assert code == 0, (out, err, log.read_text()[-3000:])
        lines = _jsonl(out)
        phases = [row["phase"] for row in lines]
        assert phases[0] == "Initialized"
        assert phases[-1] == "Succeeded"
        assert "Progressing" in phases
        seen = [{k: v for k, v in row.items() if k != "time"} for row in lines]
        assert all(a != b for a, b in itertools.pairwise(seen))  # a line per change, no repeats
        assert lines[-1]["run"] == "web-1"
        assert lines[-1]["decision"] == "promoted"
        assert lines[-1]["reason"].startswith("Promotion completed! Scaling down web.")
        assert any(h["name"] == "smoke" and h["verdict"] == "accepted" for row in lines for h in row["webhooks"])
        assert {"time", "namespace", "name", "canaryWeight", "failedChecks", "events"} <= set(lines[-1])

        code, table = _cli(cluster, ns, "get", "canaries")
        assert code == 0, table
        head, row = table.splitlines()
        assert head.split()[:3] == ["NAME", "PHASE", "WEIGHT"]
        assert row.split()[:6] == ["web", "Succeeded", "0%", "0/1", row.split()[4], "web-1"]
        assert "promoted" in row

        # a rollback, watched from the moment the image changes: the old Succeeded does not count, exit 1
        hooks.open["/smoke"] = False
        op.set_image(client, IMAGES[2])
        proc = _status(cluster, ns, "-w", "--until", "Succeeded", "--timeout", "150s", "-o", "jsonl")
        code, out, err = _finish(proc, 180)
        assert code == 1, (out, err, log.read_text()[-3000:])
        lines = _jsonl(out)
        assert lines[0]["pending"] is True or lines[0]["phase"] != "Succeeded"
        assert lines[-1]["phase"] == "Failed"
        assert lines[-1]["run"] == "web-2"
        assert lines[-1]["decision"] == "rollback"
        assert lines[-1]["reason"].startswith("Rolling back web.")
        assert any(h["name"] == "smoke" and h["verdict"] == "refused" for row in lines for h in row["webhooks"])

        code, table = _cli(cluster, ns, "get", "canaries", "-A")
        assert code == 0, table
        rows = [r for r in table.splitlines() if r.split()[:2] == [ns, "web"]]
        assert rows, table
        assert table.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
        assert "Failed" in rows[0]
        assert "rollback" in rows[0]
        assert "Rolling back web." in rows[0]

        # held at a closed confirm-rollout gate: the release never ends, --timeout says so with exit 2
        hooks.open["/gate"] = False
        hooks.open["/smoke"] = True
        op.set_image(client, IMAGES[3])
        started = time.monotonic()
        code, out, err = _finish(_status(cluster, ns, "--timeout", "5s"), 60)
        assert code == 2, (out, err)
        assert time.monotonic() - started < 30
        assert "timed out after 5s waiting for canary web" in err
        assert out.splitlines(), "one line per change, at least the first"

        # without -w: the state once; the exit code follows the phase
        wait_for(lambda: op.phase(client) == "Waiting", f"phase Waiting (log: {log})", timeout=60)
        code, text = _cli(cluster, ns, "status", "web")
        assert code == 0, text
        assert text.startswith(f"Canary web.{ns}\nPhase:    Waiting since ")
        code, text = _cli(cluster, ns, "status", "nothing")
        assert code == 1
        assert f"canary nothing not found in namespace {ns}" in text


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _shows(session: str, *texts: str) -> bool:
    pane = _pane(session)
    return all(text in pane for text in texts)


def test_live_views_redraw_in_a_terminal(cluster: Cluster, namespace: str, hooks: Hooks, tmp_path: Path) -> None:
    """In a real terminal (tmux), `kubectl serinus status web -w` and `get canaries -w` redraw in place as the
    release goes from Waiting at a closed gate to Progressing and Succeeded; `status` then exits 0."""
    assert shutil.which("tmux"), "tmux is missing: scripts/system-packages installs it (as root)"
    ns, log = namespace, tmp_path / "operator.log"
    client = cluster.client(namespace=ns)
    analysis = {
        "interval": "5s",
        "threshold": 1,
        "iterations": 2,
        "webhooks": [{"name": "gate", "type": "confirm-rollout", "url": f"{hooks.url}/gate", "timeout": "2s"}],
    }
    base = f"-n {ns} --kubeconfig {cluster.kubeconfig}"
    status_session, get_session = f"st-{ns}", f"get-{ns}"
    with op.running(cluster, ns, log):
        client.create(codecs.from_dict(op.deployment(ns, IMAGES[0])))
        client.create(op.canary(ns, analysis=analysis))
        wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        hooks.open["/gate"] = False
        op.set_image(client, IMAGES[1])
        wait_for(lambda: op.phase(client) == "Waiting", f"phase Waiting (log: {log})", timeout=60)
        try:
            for session, command in (
                (status_session, f"{PLUGIN} status web -w {base}; echo EXIT=$?; sleep 600"),
                (get_session, f"{PLUGIN} get canaries -w {base}; sleep 600"),
            ):
                subprocess.run(
                    ["tmux", "new-session", "-d", "-x", "120", "-y", "40", "-s", session, command], check=True
                )
            wait_for(lambda: _shows(status_session, f"Canary web.{ns}", "Phase:    Waiting"), "status: Waiting")
            assert "webhook gate (confirm-rollout) refused" in _pane(status_session)
            wait_for(lambda: _shows(get_session, "NAME", "web", "Waiting"), "get: Waiting")

            hooks.open["/gate"] = True
            wait_for(lambda: _shows(status_session, "Phase:    Progressing"), "status: Progressing", timeout=60)
            wait_for(lambda: _shows(get_session, "Progressing"), "get: Progressing", timeout=60)
            wait_for(lambda: _shows(status_session, "EXIT=0"), f"status: exit 0 (log: {log})", timeout=120)
            pane = _pane(status_session)
            assert "Phase:    Succeeded" in pane
            assert "Decision: promoted" in pane
            assert "Waiting" not in pane.split("Events:")[0]  # redrawn in place: the old screen is gone
            wait_for(lambda: _shows(get_session, "Succeeded", "promoted"), "get: Succeeded")
            pane = _pane(get_session)
            assert pane.count("NAME") == 1  # one table, redrawn, not appended
            assert "Waiting" not in pane
        finally:
            for session in (status_session, get_session):
                subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
