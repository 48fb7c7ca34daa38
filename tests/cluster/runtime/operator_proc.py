"""Helpers for end-to-end tests: `serinus run` as a real process, workloads, Canaries and what users look at."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from lightkube import ApiError, Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace

from serinus.kube.resources import Canary, CanaryRun
from tests.cluster.controlplane import ROOT, Cluster, free_port
from tests.cluster.waiting import wait_for

T = TypeVar("T")


def operator_args(cluster: Cluster, ns: str, *extra: str) -> list[str]:
    """`serinus run` for one namespace with the kubernetes provider, on loopback ports (`--port` in `extra`
    replaces the random one), as the Helm chart's ServiceAccount (a `--kubeconfig` in `extra` replaces it)."""
    port = [] if any(e.startswith("--port=") for e in extra) else [f"--port={free_port()}"]
    return [
        sys.executable,
        "-m",
        "serinus.cli",
        "run",
        f"--kubeconfig={cluster.operator_kubeconfig()}",
        f"--namespace={ns}",
        "--mesh-provider=kubernetes",
        f"--metrics-server=http://127.0.0.1:{free_port()}",
        *port,
        "--listen-address=127.0.0.1",
        "--log-level=debug",
        *extra,
    ]


def start(cluster: Cluster, ns: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start one operator process; its output is appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            operator_args(cluster, ns, *extra), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ}
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop an operator process (SIGTERM and wait, or SIGKILL)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        proc.wait(30)


@contextmanager
def running(cluster: Cluster, ns: str, log: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """An operator process for the duration of a block."""
    proc = start(cluster, ns, log, *extra)
    try:
        yield proc
    finally:
        stop(proc)


def deployment(
    ns: str, image: str, *, name: str = "web", replicas: int = 2, volumes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A Deployment selected by `app: <name>`."""
    labels = {"app": name}
    container: dict[str, Any] = {"name": name, "image": image, "ports": [{"containerPort": 8080}]}
    pod: dict[str, Any] = {"containers": [container]}
    if volumes:
        pod["volumes"] = volumes
        container["volumeMounts"] = [{"name": v["name"], "mountPath": f"/etc/{v['name']}"} for v in volumes]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def canary(
    ns: str, *, kind: str = "Deployment", name: str = "web", analysis: dict[str, Any] | None = None, **spec: Any
) -> Any:
    """A kubernetes-provider Canary for the target `name`."""
    return Canary.from_dict(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                "service": {"port": 80, "targetPort": 8080},
                "analysis": analysis or {"interval": "10s", "threshold": 2, "iterations": 2},
                **spec,
            },
        }
    )


def status(client: Client, name: str = "web") -> dict[str, Any]:
    """The Canary's status."""
    # lightkube declares a generic resource's `status` a str; read the key of the dict it is.
    return dict(client.get(Canary, name).get("status") or {})


def phase(client: Client, name: str = "web") -> str:
    """The Canary's phase."""
    return str(status(client, name).get("phase") or "")


def has_phase(client: Client, name: str, want: str) -> bool:
    """Whether Canary `name` is in phase `want`: a probe for `wait_for(partial(has_phase, ...))` in a loop."""
    return phase(client, name) == want


def events(client: Client, name: str = "web") -> list[str]:
    """The Canary's event messages, oldest first."""
    listed = client.list(Event, fields={"involvedObject.name": name, "involvedObject.kind": "Canary"})
    ordered = sorted(listed, key=lambda e: (e.firstTimestamp or e.metadata.creationTimestamp, e.metadata.name))
    return [e.message or "" for e in ordered]


def event_counts(client: Client, name: str = "web") -> dict[str, int]:
    """How often each message was recorded (repeats are aggregated into one Event's count)."""
    counts: dict[str, int] = {}
    for event in client.list(Event, fields={"involvedObject.name": name, "involvedObject.kind": "Canary"}):
        counts[event.message or ""] = counts.get(event.message or "", 0) + (event.count or 1)
    return counts


def in_order(found: list[str], expected: list[str]) -> bool:
    """Whether every expected message occurs in `found`, in this order."""
    try:
        positions = [found.index(text) for text in expected]
    except ValueError:
        return False
    return positions == sorted(positions)


def start_flagger(cluster: Cluster, ns: str, log: Path) -> subprocess.Popen[bytes]:
    """Flagger itself (built by scripts/build-test-binaries) watching one namespace with the kubernetes provider."""
    binary = Path(cluster.plane.bin_dir) / "flagger"
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(binary),
                f"-kubeconfig={cluster.kubeconfig}",
                f"-namespace={ns}",
                "-mesh-provider=kubernetes",
                f"-metrics-server=http://127.0.0.1:{free_port()}",
                f"-port={free_port()}",
                "-log-level=info",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def warm_up_decoders() -> None:
    """Decode each model once in this thread: lightkube's msgspec decoders build their types lazily, and two
    threads doing that first decode at once crash the interpreter."""
    codecs.from_dict(deployment("warm", "warm:1"))
    canary("warm")
    Namespace(metadata=ObjectMeta(name="warm"))
    Event.from_dict({"metadata": {"name": "warm"}, "involvedObject": {}})


def tracking(probe: Callable[[], T | None]) -> tuple[Callable[[], T | None], list[T]]:
    """A sampler of `probe` and the list of the distinct values it returned, in order: the routing states a release
    went through (an object not found yet samples as None)."""
    seen: list[T] = []

    def sample() -> T | None:
        try:
            value = probe()
        except ApiError:
            return None
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        return value

    return sample, seen


class Receiver:
    """A local HTTP endpoint (Slack-style webhook) recording each JSON body posted to it, in a thread."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.bodies: list[Any] = []
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def _runs_listable(client: Client) -> bool:
    try:
        list(client.list(CanaryRun))
    except ApiError:
        return False
    return True


def ledger_namespace(cluster: Cluster, prefix: str) -> str:
    """A fresh namespace, with Serinus's CRDs (CanaryRun included) installed as the chart installs them and their
    storage ready (a CRD just Established may answer 429 "storage is (re)initializing" for a moment)."""
    cluster.install_serinus_crds()
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    wait_for(partial(_runs_listable, cluster.client(namespace=ns)), "CanaryRun storage ready", timeout=60)
    return ns


def set_image(client: Client, image: str, name: str = "web") -> None:
    """A new revision of the `web` Deployment: its one container's image changed."""
    client.patch(Deployment, name, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
