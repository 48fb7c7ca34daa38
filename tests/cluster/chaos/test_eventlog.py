"""The chaos tests' safety check itself, on hand-made event sequences (no cluster needed): it flags traffic sent
to a Service without a ready pod and a primary at zero replicas, in whatever state they occur, and judges
states in etcd's order rather than in the order the watches delivered them."""

from __future__ import annotations

from typing import Any

from tests.cluster.chaos.eventlog import Event, check

Obj = dict[str, Any]


def pod(name: str, app: str, *, ready: bool = True, terminating: bool = False) -> Obj:
    """A pod labelled app=<app>."""
    meta: Obj = {"name": name, "labels": {"app": app}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def service(name: str, app: str) -> Obj:
    """A Service selecting app=<app>."""
    return {"metadata": {"name": name}, "spec": {"selector": {"app": app}}}


def route(primary: int, canary: int) -> Obj:
    """The HTTPRoute `web` with these weights."""
    refs = [{"name": "web-primary", "weight": primary}, {"name": "web-canary", "weight": canary}]
    return {"metadata": {"name": "web"}, "spec": {"rules": [{"backendRefs": refs}]}}


def deployment(name: str, replicas: int) -> Obj:
    """A Deployment with `replicas`."""
    return {"metadata": {"name": name}, "spec": {"replicas": replicas}}


def events(*items: tuple[str, str, Obj]) -> list[Event]:
    """Events numbered 1, 2, ... in the given order."""
    return [Event(rv, kind, kind_type, obj) for rv, (kind, kind_type, obj) in enumerate(items, start=1)]


#: a ready primary and the three Services (revisions 1 to 5)
SERVING = (
    ("pods", "ADDED", pod("p1", "web-primary")),
    ("deployments", "ADDED", deployment("web-primary", 2)),
    ("services", "ADDED", service("web", "web-primary")),
    ("services", "ADDED", service("web-primary", "web-primary")),
    ("services", "ADDED", service("web-canary", "web")),
)


def test_a_safe_release_has_no_violation() -> None:
    """Weight moves to a canary whose pod is ready, then back, and the canary scales down afterwards: safe."""
    found, states = check(
        events(
            *SERVING,
            ("httproutes", "ADDED", route(100, 0)),
            ("pods", "ADDED", pod("c1", "web")),
            ("httproutes", "MODIFIED", route(50, 50)),
            ("httproutes", "MODIFIED", route(100, 0)),
            ("pods", "MODIFIED", pod("c1", "web", terminating=True)),
            ("pods", "DELETED", pod("c1", "web")),
        )
    )
    assert found == []
    assert states == 11


def test_weight_on_a_canary_without_ready_pods_is_flagged() -> None:
    """A canary weight of 50 while the canary's only pod is not ready yet is an unsafe state."""
    found, _ = check(
        events(*SERVING, ("pods", "ADDED", pod("c1", "web", ready=False)), ("httproutes", "ADDED", route(50, 50)))
    )
    assert found == ["rv 7, phase -: HTTPRoute web sends weight 50 to web-canary, which has no ready pod"]


def test_a_canary_scaled_down_before_its_traffic_moved_is_flagged() -> None:
    """The canary pod terminates while it still has weight: flagged at the revision where that first held."""
    found, _ = check(
        events(
            *SERVING,
            ("pods", "ADDED", pod("c1", "web")),
            ("httproutes", "ADDED", route(0, 100)),
            ("pods", "MODIFIED", pod("c1", "web", terminating=True)),
            ("httproutes", "MODIFIED", route(100, 0)),
        )
    )
    assert found == ["rv 8, phase -: HTTPRoute web sends weight 100 to web-canary, which has no ready pod"]


def test_an_apex_without_ready_primary_pods_and_a_primary_at_zero_are_flagged() -> None:
    """The kubernetes provider's apex Service selecting no ready pod, and web-primary at zero replicas."""
    found, _ = check(
        events(
            *SERVING,
            ("pods", "DELETED", pod("p1", "web-primary")),
            ("deployments", "MODIFIED", deployment("web-primary", 0)),
        )
    )
    assert found == [
        "rv 6, phase -: apex Service web (selector {'app': 'web-primary'}) has no ready pod",
        "rv 7, phase -: web-primary scaled to zero replicas",
    ]


def test_states_are_judged_in_etcd_order_not_arrival_order() -> None:
    """The route's move back to the primary (rv 8) arrived after the canary pod's deletion (rv 9) from another
    watch: ordered by revision, the cluster was never unsafe."""
    start = events(*SERVING, ("pods", "ADDED", pod("c1", "web")), ("httproutes", "ADDED", route(50, 50)))
    moved, deleted = Event(8, "httproutes", "MODIFIED", route(100, 0)), Event(9, "pods", "DELETED", pod("c1", "web"))
    arrival = [*start, deleted, moved]
    assert check(arrival)[0] != [], "replayed in arrival order, the state looks unsafe"
    assert check(sorted(arrival, key=lambda e: e.rv)) == ([], 9)
