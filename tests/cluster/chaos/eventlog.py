"""Every change of the objects a release touches, in the order etcd made them, and the safety rules checked on
each state in between.

One thread per resource type lists and then watches a namespace straight over HTTP (no client cache), and keeps
every event with its resourceVersion. All objects of one cluster share etcd's revision counter, so sorting the
events of all types by resourceVersion gives the single order in which the cluster went through its states
(Kubernetes calls resourceVersions opaque; the test control plane's are etcd revisions, which is what this relies
on). Replaying that order and checking the rules after every event checks every state the cluster was in, not
just the ones a poller happened to sample, and with no false alarm from two reads taken at different moments.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2

from tests.cluster.controlplane import Cluster

Obj = dict[str, Any]
#: path prefixes of the watched resource types, by short name
PATHS = {
    "pods": "/api/v1/namespaces/{ns}/pods",
    "services": "/api/v1/namespaces/{ns}/services",
    "deployments": "/apis/apps/v1/namespaces/{ns}/deployments",
    "canaries": "/apis/flagger.app/v1beta1/namespaces/{ns}/canaries",
    "httproutes": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes",
}


@dataclass(frozen=True)
class Event:
    """One change: its etcd revision, the resource type, ADDED/MODIFIED/DELETED (or LISTED for a relist, whose
    `obj` holds every item), and the object."""

    rv: int
    kind: str
    type: str
    obj: Obj


@dataclass
class EventLog:
    """Watches `kinds` in a namespace from `start()` to `stop()`; `on_event` is called in the watch thread for
    each event as it arrives (the chaos tests kill the operator from there, with the least delay)."""

    cluster: Cluster
    namespace: str
    kinds: tuple[str, ...]
    on_event: Callable[[Event], None] = lambda _: None
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _listed: threading.Barrier | None = None
    _rv: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        """List every kind (so the log starts from the present state) and start watching."""
        self._listed = threading.Barrier(len(self.kinds) + 1)
        for kind in self.kinds:
            thread = threading.Thread(target=self._run, args=(kind,), name=f"watch-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._listed.wait(60)

    def stop(self) -> None:
        """Stop watching (each thread notices within its read timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def ordered(self) -> list[Event]:
        """The events of all kinds in etcd's order."""
        with self._lock:
            return sorted(self.events, key=lambda e: e.rv)

    def _client(self) -> httpx2.Client:
        plane = self.cluster.plane
        return httpx2.Client(
            base_url=plane.server,
            verify=ssl.create_default_context(cafile=str(plane.ca_file)),
            headers={"Authorization": f"Bearer {plane.token}"},
            timeout=httpx2.Timeout(5.0, read=0.5),
        )

    def _record(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)
        try:
            self.on_event(event)
        except Exception as err:  # a failing trigger must be seen by the test, not kill the watch
            self.errors.append(f"on_event: {err!r}")

    def _run(self, kind: str) -> None:
        path = PATHS[kind].format(ns=self.namespace)
        first = True
        with self._client() as client:
            while not self._stop.is_set():
                try:
                    if not self._rv.get(kind):
                        self._list(client, kind, path)
                        if first:
                            first = False
                            assert self._listed is not None
                            self._listed.wait(60)
                    self._watch(client, kind, path)
                except httpx2.TimeoutException:
                    continue  # no event within the read timeout: look at the stop flag, watch on from the last one
                except (httpx2.HTTPError, OSError, ValueError) as err:
                    # the API server is away (an outage test) or the watch is too old: relist when it is back
                    self.errors.append(f"{kind}: {err!r}")
                    self._stop.wait(0.2)

    def _list(self, client: httpx2.Client, kind: str, path: str) -> None:
        response = client.get(path)
        response.raise_for_status()
        body = response.json()
        rv = str(body["metadata"]["resourceVersion"])
        self._record(Event(int(rv), kind, "LISTED", {"items": body.get("items") or []}))
        self._rv[kind] = rv

    def _watch(self, client: httpx2.Client, kind: str, path: str) -> None:
        params = {"watch": "1", "resourceVersion": self._rv[kind], "allowWatchBookmarks": "true"}
        with client.stream("GET", path, params=params) as response:
            response.raise_for_status()
            for line in _lines(response):
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    if obj.get("code") == 410:  # too old (a restarted API server): relist
                        self._rv[kind] = ""
                        return
                    raise ValueError(f"watch error: {obj}")
                if event["type"] != "BOOKMARK":
                    self._record(Event(int(obj["metadata"]["resourceVersion"]), kind, event["type"], obj))
                # where to resume after a read timeout or a dropped connection, without replaying anything
                self._rv[kind] = str(obj["metadata"]["resourceVersion"])
                if self._stop.is_set():
                    return


def _lines(response: httpx2.Response) -> Iterator[str]:
    for line in response.iter_lines():
        if line.strip():
            yield line


# ----- replay and safety rules -----


@dataclass
class State:
    """The namespace as of one event: objects by (kind, name)."""

    objects: dict[tuple[str, str], Obj] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        """Move the state on by one event."""
        if event.type == "LISTED":
            for key in [k for k in self.objects if k[0] == event.kind]:
                del self.objects[key]
            for item in event.obj["items"]:
                self.objects[(event.kind, item["metadata"]["name"])] = item
        elif event.type == "DELETED":
            self.objects.pop((event.kind, event.obj["metadata"]["name"]), None)
        else:
            self.objects[(event.kind, event.obj["metadata"]["name"])] = event.obj

    def get(self, kind: str, name: str) -> Obj | None:
        """An object, or None."""
        return self.objects.get((kind, name))

    def ready_pods(self, selector: dict[str, str]) -> int:
        """Pods matching a Service selector that are Ready and not terminating (what endpoints would serve)."""
        count = 0
        for (kind, _), pod in self.objects.items():
            if kind != "pods" or pod["metadata"].get("deletionTimestamp"):
                continue
            labels = pod["metadata"].get("labels") or {}
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                continue
            conditions = (pod.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                count += 1
        return count

    def service_ready(self, name: str) -> bool:
        """Whether a Service's selector picks at least one ready pod."""
        service = self.get("services", name)
        selector = ((service or {}).get("spec") or {}).get("selector") or {}
        return bool(selector) and self.ready_pods(selector) > 0


def phase(state: State, name: str = "web") -> str:
    """The Canary's phase in this state."""
    return str(((state.get("canaries", name) or {}).get("status") or {}).get("phase") or "")


def route_weights(route: Obj) -> dict[str, int]:
    """An HTTPRoute's backend weights by Service name (Gateway API's default weight is 1)."""
    weights: dict[str, int] = {}
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            weights[ref["name"]] = weights.get(ref["name"], 0) + int(ref.get("weight", 1))
    return weights


def violations(state: State, target: str = "web") -> list[str]:
    """What is unsafe in this state: traffic routed to a Service with no ready pod, or the primary at zero."""
    found = []
    primary = state.get("deployments", f"{target}-primary")
    if primary is not None and int((primary.get("spec") or {}).get("replicas", 1)) < 1:
        found.append(f"{target}-primary scaled to zero replicas")
    apex = state.get("services", target)
    if apex is not None and not state.service_ready(target):
        selector = (apex.get("spec") or {}).get("selector")
        found.append(f"apex Service {target} (selector {selector}) has no ready pod")
    route = state.get("httproutes", target)
    if route is not None:
        for backend, weight in route_weights(route).items():
            if weight > 0 and not state.service_ready(backend):
                found.append(f"HTTPRoute {target} sends weight {weight} to {backend}, which has no ready pod")
    return found


def check(events: list[Event], target: str = "web") -> tuple[list[str], int]:
    """Replay the events in etcd's order and check the safety rules on every state: (each distinct violation
    with the revision and phase where it first held, number of states checked)."""
    state = State()
    seen: dict[str, str] = {}
    for event in events:
        state.apply(event)
        for problem in violations(state, target):
            seen.setdefault(problem, f"rv {event.rv}, phase {phase(state, target) or '-'}: {problem}")
    return list(seen.values()), len(events)
