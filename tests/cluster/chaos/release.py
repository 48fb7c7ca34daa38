"""One release under chaos: `serinus run` is SIGKILLed the moment the release reaches each chosen phase and started
again, while every change in the namespace is recorded; the result says where each kill landed, whether the
release ended where it should, and every unsafe state the cluster went through.

Kill points (each fires once, from the watch thread, as soon as the event shows it):

- `Initializing`: the Canary's status first shows phase Initializing (the primary is being created).
- `Progressing`: with a weighted router, the HTTPRoute's canary weight changed and the Canary's
  status.canaryWeight does not show it yet (the operator is between moving traffic and recording it); with the
  kubernetes provider (blue/green on Services, no weights), phase Progressing first seen (the canary scaling up).
- `WaitingPromotion`: phase WaitingPromotion first seen (the confirm-promotion gate is closed until this kill
  has happened and the new process runs).
- `Promoting`, `Finalising`: the phase first seen.

Two more kill points aim between a write and the status that records it (`bench/chaos.py` runs them too):

- `PrimaryUpdated`: the primary Deployment got the new template (promotion copied it) and the Canary's status
  does not say Promoting yet.
- `CanaryScaledDown`: the canary Deployment was scaled to zero after promotion and the status does not say
  Succeeded yet.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightkube import codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace

from serinus.routers.live import RESOURCES
from tests.cluster.chaos.eventlog import Event, EventLog, check, route_weights
from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.fields import pod_spec

PHASES = ("Initializing", "Progressing", "WaitingPromotion", "Promoting", "Finalising")
BETWEEN = ("PrimaryUpdated", "CanaryScaledDown")
ROUTERS = ("kubernetes", "gatewayapi:v1")
IMAGE_1, IMAGE_2 = "ghcr.io/example/web:1.0", "ghcr.io/example/web:2.0"
INTERVAL = "10s"  # the shortest Flagger allows
HTTPRoute = RESOURCES[("gateway.networking.k8s.io/v1", "HTTPRoute")]


class Gate:
    """A confirm-promotion webhook on 127.0.0.1: refuses (403) until opened."""

    def __init__(self) -> None:
        self.open = threading.Event()
        gate = self.open

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200 if gate.is_set() else 403)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Kill:
    """One SIGKILL: the kill point it aimed at, the phase the Canary's status had right after, and for the kill
    points that aim between a write and its status update (a weighted router's Progressing, PrimaryUpdated,
    CanaryScaledDown) whether the status was indeed still behind the write."""

    aimed: str
    landed: str = ""
    between: bool | None = None


@dataclass
class Outcome:
    """What one release under chaos did."""

    router: str
    kills: list[Kill]
    end_phase: str
    end_problems: list[str]
    violations: list[str]
    states_checked: int
    seconds: float
    restarts: int
    log: Path
    watch_errors: list[str] = field(default_factory=list)

    @property
    def right(self) -> bool:
        """Ended Succeeded with the promoted state, and never unsafe on the way."""
        return self.end_phase == "Succeeded" and not self.end_problems and not self.violations


def new_namespace(cluster: Cluster, prefix: str = "chaos") -> str:
    """A fresh namespace."""
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    return ns


def _canary(ns: str, router: str, gate: Gate | None) -> Any:
    analysis: dict[str, Any] = {"interval": INTERVAL, "threshold": 2}
    spec: dict[str, Any] = {}
    if router == "kubernetes":
        analysis["iterations"] = 1
    else:
        analysis |= {"stepWeight": 50, "maxWeight": 100}
        spec["service"] = {
            "port": 80,
            "targetPort": 8080,
            "hosts": ["web.example.com"],
            "gatewayRefs": [{"name": "public", "namespace": ns}],
        }
    if gate is not None:
        analysis["webhooks"] = [{"name": "approve", "type": "confirm-promotion", "url": gate.url}]
    return op.canary(ns, provider=router, analysis=analysis, **spec)


class Release:
    """Drives one release in `ns` through `router`, killing the operator at each phase of `kills`."""

    def __init__(self, cluster: Cluster, ns: str, router: str, kills: tuple[str, ...], log: Path) -> None:
        unknown = set(kills) - set(PHASES) - set(BETWEEN)
        if unknown:
            raise ValueError(f"no kill point {sorted(unknown)}")
        self.cluster, self.ns, self.router, self.log = cluster, ns, router, log
        self.client = cluster.client(namespace=ns)
        self.armed = list(kills)
        self.kills: list[Kill] = []
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed = threading.Event()
        self.status_weight = 0
        self.status_phase = ""
        self.canary_scaled_up = False  # the new version's canary has run (so a scale to zero is the final one)
        self.gate = Gate() if "WaitingPromotion" in kills else None
        kinds = ("pods", "services", "deployments", "canaries")
        self.log_events = EventLog(cluster, ns, kinds + (("httproutes",) if router != "kubernetes" else ()))
        self.log_events.on_event = self._on_event

    # ----- the trigger, in the watch threads -----

    def _due(self, event: Event) -> str | None:
        if not self.armed or event.type not in ("ADDED", "MODIFIED"):
            return None
        aimed = self.armed[0]
        if event.kind == "canaries":
            status = event.obj.get("status") or {}
            self.status_weight = int(status.get("canaryWeight") or 0)
            self.status_phase = str(status.get("phase") or "")
            weighted_progress = aimed == "Progressing" and self.router != "kubernetes"
            return aimed if self.status_phase == aimed and not weighted_progress else None
        if event.kind == "httproutes" and aimed == "Progressing":
            canary_weight = route_weights(event.obj).get("web-canary", 0)
            return aimed if 0 < canary_weight != self.status_weight else None
        if event.kind == "deployments":
            name, spec = event.obj["metadata"]["name"], event.obj.get("spec") or {}
            image = spec["template"]["spec"]["containers"][0]["image"]
            replicas = spec.get("replicas")
            if aimed == "PrimaryUpdated" and name == "web-primary" and image == IMAGE_2:
                return aimed
            if name == "web" and image == IMAGE_2 and replicas != 0:
                self.canary_scaled_up = True
            elif aimed == "CanaryScaledDown" and name == "web" and self.canary_scaled_up and replicas == 0:
                return aimed
        return None

    def _on_event(self, event: Event) -> None:
        with self.lock:
            aimed = self._due(event)
            if aimed is None or self.proc is None or self.proc.poll() is not None or self.killed.is_set():
                return
            os.kill(self.proc.pid, signal.SIGKILL)
            self.armed.pop(0)
            self.kills.append(Kill(aimed))
            self.killed.set()

    # ----- the release, in the test's thread -----

    def _start(self) -> None:
        self.proc = op.start(self.cluster, self.ns, self.log, "--drain-period=1s")

    def _after_kill(self) -> None:
        assert self.proc is not None
        self.proc.wait(30)
        kill = self.kills[-1]
        status = op.status(self.client)
        kill.landed = str(status.get("phase") or "")
        if kill.aimed == "Progressing" and self.router != "kubernetes":
            route = self.client.get(HTTPRoute, "web").to_dict()
            kill.between = route_weights(route).get("web-canary", 0) != int(status.get("canaryWeight") or 0)
        elif kill.aimed == "PrimaryUpdated":
            kill.between = kill.landed in ("Progressing", "WaitingPromotion")
        elif kill.aimed == "CanaryScaledDown":
            kill.between = kill.landed == "Finalising"
        with self.lock:
            self.killed.clear()
            self._start()

    def run(self, timeout: float = 240.0) -> Outcome:
        """Create the workload and Canary, run the operator (killing and restarting it), change the image once
        initialized, and wait for the end: Succeeded, or Failed, or the timeout."""
        t0 = time.monotonic()
        self.log_events.start()
        self.client.create(codecs.from_dict(op.deployment(self.ns, IMAGE_1)))
        self.client.create(_canary(self.ns, self.router, self.gate))
        changed = False
        end = ""
        try:
            with self.lock:
                self._start()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.killed.is_set():
                    self._after_kill()
                    continue
                current = op.phase(self.client)
                if current == "Initialized" and not changed:
                    self.client.patch(
                        Deployment,
                        "web",
                        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": IMAGE_2}]}}}},
                    )
                    changed = True
                if self.gate is not None and "WaitingPromotion" not in self.armed and not self.killed.is_set():
                    self.gate.open.set()
                if changed and current in ("Succeeded", "Failed"):
                    end = current
                    break
                assert self.proc is not None
                if self.proc.poll() is not None and not self.killed.is_set():
                    raise AssertionError(f"the operator exited by itself ({self.proc.returncode}); log: {self.log}")
                time.sleep(0.1)
        finally:
            if self.proc is not None:
                op.stop(self.proc)
            self.log_events.stop()
            if self.gate is not None:
                self.gate.close()
        found, states = check(self.log_events.ordered())
        return Outcome(
            router=self.router,
            kills=self.kills,
            end_phase=end or op.phase(self.client),
            end_problems=self._end_problems() if end == "Succeeded" else [f"ended {end or 'nowhere'}"],
            violations=found,
            states_checked=states,
            seconds=time.monotonic() - t0,
            restarts=len(self.kills),
            log=self.log,
            watch_errors=list(self.log_events.errors),
        )

    def _end_problems(self) -> list[str]:
        """What differs from a finished promotion: new image on the primary, canary at zero, primary serving."""
        problems = []
        primary = self.client.get(Deployment, "web-primary")
        canary = self.client.get(Deployment, "web")
        image = pod_spec(primary).containers[0].image
        if image != IMAGE_2:
            problems.append(f"web-primary runs {image}, not {IMAGE_2}")
        if canary.spec.replicas != 0:
            problems.append(f"web has {canary.spec.replicas} replicas after promotion, not 0")
        if (primary.spec.replicas or 0) < 2:
            problems.append(f"web-primary has {primary.spec.replicas} replicas, not 2")
        if self.router != "kubernetes":
            weights = route_weights(self.client.get(HTTPRoute, "web").to_dict())
            if weights.get("web-primary") != 100 or weights.get("web-canary", 0) != 0:
                problems.append(f"HTTPRoute weights {weights} after promotion")
        if self.armed:
            problems.append(f"kill points never reached: {self.armed}")
        return problems


def run_release(cluster: Cluster, router: str, kills: tuple[str, ...], log_dir: Path) -> Outcome:
    """One release in a fresh namespace (CRDs must be installed: Serinus's, and Gateway API's for its router)."""
    ns = new_namespace(cluster)
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        return Release(cluster, ns, router, kills, log_dir / f"{ns}-operator.log").run()
    finally:  # its pods would keep kwok busy for the rest of the session
        cluster.client().delete(Namespace, ns)


def describe(outcome: Outcome) -> str:
    """One paragraph for a failure message."""
    kills = ", ".join(
        f"{k.aimed}->{k.landed or '?'}" + ("" if k.between is None else f" (status behind the write: {k.between})")
        for k in outcome.kills
    )
    return (
        f"router {outcome.router}: ended {outcome.end_phase} in {outcome.seconds:.0f}s after kills [{kills}]; "
        f"end problems {outcome.end_problems}; unsafe states {outcome.violations} (of {outcome.states_checked} "
        f"checked); watch errors {outcome.watch_errors[:3]}; operator log {outcome.log}"
    )
