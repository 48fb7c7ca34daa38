"""Flagger beside Serinus on the real node: the same Traefik tutorial Canary in two namespaces, one driven by
Serinus (the chart's Pod, scoped to its namespace by the chart's `namespace` value) and one by Flagger 1.44 (the
binary scripts/build-test-binaries built, as a host process of the node with `-namespace`), each with real requests
through Traefik; what each release did is recorded the same way so the two can be compared.

Why Serinus is scoped with `helm upgrade --set namespace=...` rather than left watching every namespace behind its
foreign-controller guard: the guard reads the Canary's status managers, and Flagger writes a new Canary's status
only when its scheduler first runs the Canary's job (up to its control-loop interval later), while Serinus reacts
to the watch event within milliseconds; on a freshly created Canary Serinus would always be first."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lightkube import Client, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace, Pod

from tests.cluster.controlplane import CHART, free_port
from tests.cluster.waiting import wait_for
from tests.node import podinfo
from tests.node.edge import OPENER, Edge
from tests.node.installed import NAMESPACE, Installed, helm
from tests.node.podinfo import Canary, IngressRoute
from tests.node.realnode import RealNode
from tests.node.traffic import Traffic

TraefikService = create_namespaced_resource("traefik.io", "v1alpha1", "TraefikService", "traefikservices")
SYSTEMS = ("serinus", "flagger")
#: events whose number depends on how fast pods become ready or Prometheus first sees the canary, not on the
#: release logic (as tests/cluster/parity/test_release_parity.py, plus the metrics' "no values found" halts)
TIMING = re.compile(r"not ready: |^all the metrics providers are available!$|no values found for ")
#: measured values in Halt messages ("success rate 61.54% < 99%"): they differ between any two runs
MEASURED = re.compile(r"\b\d+(\.\d+)?(%|ms|s)? ([<>]) ")
#: the Warning Serinus records on a Canary another controller drives (serinus.runtime.foreign.REASON)
FOREIGN_REASON = "DrivenByAnotherController"
#: client-go's EventAggregator (Flagger's recorder) folds the 10th and later distinct messages of one object with
#: the same type and reason ("Synced" for all of Flagger's) within 10 minutes into one Event with this prefix;
#: Serinus's recorder writes every message as is, so the comparison leaves the prefix out and counts it apart
#: (Release.combined).
COMBINED = "(combined from similar events): "
#: Traefik applies configuration changes at most every 2 s (its providersThrottleDuration), plus its watch's
#: delay: answers this soon after the final phase may still follow the previous weights.
TRAEFIK_RELOAD_S = 3.0


def scope_serinus(node: RealNode, namespace: str) -> None:
    """`helm upgrade` the operator to watch `namespace` only (the chart's `namespace` value; "" for all), and
    wait until the one operator Pod left is the new one."""
    helm(node, "upgrade", "serinus", str(CHART), "--namespace", NAMESPACE, "--reuse-values",
         "--set", f"namespace={namespace}", "--wait", "--timeout", "3m")  # fmt: skip
    client = node.client(namespace=NAMESPACE)

    def one_pod() -> bool:
        pods = list(client.list(Pod, labels={"app.kubernetes.io/name": "serinus"}))
        return len(pods) == 1 and not (pods[0].metadata and pods[0].metadata.deletionTimestamp)

    wait_for(one_pod, "one operator pod after the helm upgrade", timeout=120)


def start_flagger(node: RealNode, edge: Edge, namespace: str) -> Any:
    """Flagger 1.44 on the host against the node's API server: Traefik provider, the edge's Prometheus, watching
    `namespace` only; a node process (logs/flagger.log, pid file), so a crashed session's cleanup stops it too."""
    assert node.plane is not None
    return node.spawn(
        "flagger",
        [
            str(node.plane.bin_dir / "flagger"),
            f"-kubeconfig={node.kubeconfig}",
            f"-namespace={namespace}",
            "-mesh-provider=traefik",
            f"-metrics-server={edge.prometheus}",
            f"-port={free_port()}",
            "-log-level=info",
        ],
    )


def stop_flagger(node: RealNode, proc: Any) -> None:
    """Stop Flagger by its process id and forget it."""
    proc.stop()
    if proc in node.processes:
        node.processes.remove(proc)


@dataclass
class Side:
    """One namespace of the pair and who drives its Canary."""

    system: str
    ns: str
    client: Client

    def normalise(self, text: str) -> str:
        """`text` with the namespace replaced by NS, so both sides compare."""
        return text.replace(self.ns, "NS")


@dataclass
class Release:
    """What one side's release did: times, answers by version, the events recorded during it, final objects."""

    system: str
    version: str
    seconds: float = 0.0  # from the Deployment change to the final phase
    phase: str = ""
    traffic: Traffic | None = None
    events: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    condition: dict[str, Any] = field(default_factory=dict)
    route: dict[str, Any] = field(default_factory=dict)
    primary: dict[str, Any] = field(default_factory=dict)
    canary_requests: float = 0.0  # sent to the canary by Traefik (all clients) between the change and the final phase
    canary_answers: int = 0  # the host's requests answered (not 5xx) by the new version in that time
    after: list[str] = field(default_factory=list)  # answers from TRAEFIK_RELOAD_S to 5 s after the final phase
    late: list[tuple[float, str]] = field(default_factory=list)  # (s after the final phase, answer) of other versions
    errors_during: int = 0  # requests answered with an error (or none) between the change and 5 s after the end
    combined: int = 0  # events Flagger's recorder prefixed with COMBINED
    error: str = ""


@dataclass
class Pair:
    """Serinus's namespace and Flagger's, each with the tutorial's podinfo, Canary and IngressRoute."""

    node: RealNode
    edge: Edge
    sides: dict[str, Side]


def _setup_side(node: RealNode, edge: Edge, loadtester: str, side: Side) -> None:
    side.client.create(codecs.from_dict(podinfo.deployment(side.ns, node.artifacts.image("podinfo"), "v1")))
    side.client.create(Canary.from_dict(podinfo.traefik_canary(side.ns, edge.web, loadtester)))
    side.client.create(IngressRoute.from_dict(podinfo.ingress_route(side.ns)))


@contextmanager
def side_by_side(node: RealNode, edge: Edge, serinus: Installed, prefix: str = "beside") -> Iterator[Pair]:
    """Two namespaces, Serinus scoped to the first and Flagger started on the second, each Canary Initialized;
    on exit Flagger stops, Serinus watches every namespace again and both namespaces are deleted."""
    key = uuid.uuid4().hex[:6]
    admin = node.client()
    sides = {s: Side(s, f"{prefix}-{s}-{key}", node.client(namespace=f"{prefix}-{s}-{key}")) for s in SYSTEMS}
    for side in sides.values():
        admin.create(Namespace(metadata=ObjectMeta(name=side.ns)))
    scope_serinus(node, sides["serinus"].ns)
    flagger = start_flagger(node, edge, sides["flagger"].ns)
    try:
        loadtester = serinus.loadtester_url()
        for side in sides.values():
            _setup_side(node, edge, loadtester, side)
        for side in sides.values():
            wait_for(
                lambda side=side: podinfo.phase(side.client) == "Initialized",  # type: ignore[misc]
                f"{side.system} ({side.ns}): phase Initialized (Flagger's log: {flagger.log})",
                timeout=180,
            )
        yield Pair(node, edge, sides)
    finally:
        stop_flagger(node, flagger)
        if node.plane is not None and node.kubeconfig.exists():
            scope_serinus(node, "")
            for side in sides.values():
                admin.delete(Namespace, side.ns)


class EventLog:
    """Every occurrence of a Canary event in a namespace, in the order the API server committed them (a watch
    from the current resourceVersion): a new Event, or a repeat folded into an existing one (count + 1)."""

    def __init__(self, client: Client, ns: str) -> None:
        self.client, self.ns = client, ns
        self.seen: list[tuple[str, str, str]] = []  # (type, reason, message)
        self._counts: dict[str, int] = {}
        self._stop = threading.Event()
        listed = client.list(Event, namespace=ns, fields={"involvedObject.kind": "Canary"})
        for ev in listed:
            assert ev.metadata is not None
            self._counts[str(ev.metadata.name)] = ev.count or 1
        self._rv: str | None = listed.resourceVersion
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for _, ev in self.client.watch(
                    Event,
                    namespace=self.ns,
                    fields={"involvedObject.kind": "Canary"},
                    resource_version=self._rv,
                    server_timeout=5,
                ):
                    assert ev.metadata is not None
                    self._rv = ev.metadata.resourceVersion
                    name, count = str(ev.metadata.name), ev.count or 1
                    if count > self._counts.get(name, 0):
                        self._counts[name] = count
                        self.seen.append((str(ev.type), str(ev.reason), ev.message or ""))
                    if self._stop.is_set():
                        return
            except Exception:  # an expired resourceVersion or a dropped watch: resume from the last one seen
                time.sleep(0.5)

    def stop(self) -> list[tuple[str, str, str]]:
        """Stop recording (after a last second for the events of the final step) and return what was seen."""
        time.sleep(1.0)
        self._stop.set()
        return list(self.seen)


def compared_events(side: Side, seen: list[tuple[str, str, str]]) -> list[str]:
    """Event messages as the parity tier compares them: namespace normalised, client-go's combining prefix,
    timing-dependent ones and measured values left out, repeats in a row folded."""
    out: list[str] = []
    for _, reason, message in seen:
        message = message.removeprefix(COMBINED)
        if reason == FOREIGN_REASON or TIMING.search(message):
            continue
        text = MEASURED.sub(r"X \3 ", side.normalise(message))
        if not out or out[-1] != text:
            out.append(text)
    return out


def canary_requests(edge: Edge, ns: str, start: float, end: float) -> float:
    """Requests Traefik sent to the Canary's `-canary` Service between two times: the increase of its counter in
    Prometheus, which survives the counter restarting when Traefik drops and re-adds the Service's metrics (a plain
    difference of two readings does not); 0 when there is no series."""
    window = max(1, round(end - start))
    query = (
        'sum(increase(traefik_service_request_duration_seconds_bucket{service=~"'
        + ns
        + f'-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd",le="+Inf"}}[{window}s]))'
    )
    url = f"{edge.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": f"{end:.3f}"})
    with OPENER.open(url, timeout=5) as resp:
        result = json.loads(resp.read())["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _final_objects(side: Side, out: Release) -> None:
    status = podinfo.status(side.client)
    out.status = {k: status.get(k) for k in ("phase", "canaryWeight", "failedChecks", "iterations")}
    conditions = status.get("conditions") or [{}]
    out.condition = {k: side.normalise(str(conditions[0].get(k))) for k in ("type", "status", "reason", "message")}
    route = side.client.get(TraefikService, "podinfo")
    out.route = json.loads(side.normalise(json.dumps(route.get("spec") or {}, sort_keys=True)))
    primary = side.client.get(Deployment, "podinfo-primary")
    assert primary.spec is not None
    assert primary.spec.template.spec is not None
    container = primary.spec.template.spec.containers[0]
    out.primary = {
        "image": container.image,
        "env": {e.name: e.value for e in container.env or []},
        "replicas": primary.spec.replicas,
    }


def _release_side(
    pair: Pair, side: Side, version: str, env: list[dict[str, str]] | None, want: str, out: Release
) -> None:
    """One side's release: traffic through Traefik until 5 s after the phase `want`, filling `out`."""
    try:
        previous = _primary_message(side.client)  # the version serving now
        traffic = Traffic(f"{pair.edge.web}/", host=f"{side.ns}.test", workers=2, pause=0.01)
        out.traffic = traffic
        with traffic.flowing(weight=lambda: _progressing_weight(side.client)):
            wait_for(
                lambda: len(traffic.answers) > 20 and {t for _, t in traffic.answers[-20:]} == {previous},
                f"{side.system}: Traefik answering with {previous}",
                timeout=90,
            )
            events = EventLog(side.client, side.ns)
            t_change = time.time()
            podinfo.new_version(side.client, version, env)
            terminal = {"Succeeded", "Failed"}
            # The phase is still the previous release's Succeeded or Failed until the new revision is picked up, and
            # a new lastAppliedSpec may be written before the phase changes: wait for the phase itself to move
            # (a release stays Progressing for at least one 15 s interval, far longer than the 0.25 s polls).
            wait_for(
                lambda: podinfo.phase(side.client) not in terminal,
                f"{side.system}: the new revision picked up",
                timeout=120,
            )
            wait_for(lambda: podinfo.phase(side.client) in terminal, f"{side.system}: phase {want}", timeout=420)
            t_end = time.time()
            out.seconds = t_end - t_change
            out.phase = podinfo.phase(side.client)
            time.sleep(5)
            t_stop = time.time()
            out.after = traffic.between(t_end + TRAEFIK_RELOAD_S, t_stop)
        settled = _primary_message(side.client)
        out.late = [(round(at - t_end, 2), t) for at, t in traffic.answers if at >= t_end and t != settled]
        out.errors_during = sum(t.startswith("error") for t in traffic.between(t_change, t_stop))
        seen = events.stop()
        out.events = compared_events(side, seen)
        out.combined = sum(message.startswith(COMBINED) for _, _, message in seen)
        out.reasons = [reason for _, reason, _ in seen]
        out.canary_requests = canary_requests(pair.edge, side.ns, t_change, t_end)
        out.canary_answers = sum(t == version for t in traffic.between(t_change, t_end))
        _final_objects(side, out)
    except Exception as err:  # reported by the caller with the other side's result
        out.error = f"{type(err).__name__}: {err}"


def _progressing_weight(client: Client) -> int:
    """The canary's weight while the analysis runs, -1 in any other phase: once Promoting starts the primary rolls
    out the new version too, so answers by version no longer measure the canary's route."""
    status = podinfo.status(client)
    return int(status.get("canaryWeight") or 0) if status.get("phase") == "Progressing" else -1


def _primary_message(client: Client) -> str:
    """The UI message (the version) of the primary's pod template."""
    primary = client.get(Deployment, "podinfo-primary")
    assert primary.spec is not None
    assert primary.spec.template.spec is not None
    env = {e.name: e.value for e in primary.spec.template.spec.containers[0].env or []}
    return str(env.get("PODINFO_UI_MESSAGE"))


def release_both(pair: Pair, version: str, want: str, env: list[dict[str, str]] | None = None) -> dict[str, Release]:
    """The same new version released at the same moment in both namespaces, with traffic to each."""
    for side in pair.sides.values():  # decode each model once before threads do (see operator_proc.warm_up_decoders)
        podinfo.status(side.client)
        side.client.list(Event, namespace=side.ns)
    found = {s: Release(s, version) for s in pair.sides}
    threads = [
        threading.Thread(target=_release_side, args=(pair, side, version, env, want, found[s]))
        for s, side in pair.sides.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found
