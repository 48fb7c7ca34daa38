"""Canaries that fail the way pods fail, on the real node, with real requests through Traefik (issue #22, items 1-3):
a new version that crash-loops, one whose image is not there, and one that turns unready in the middle of its
analysis. Each must end Failed within the Canary's progressDeadlineSeconds, with Flagger's events (and Serinus's own
Warning naming the kubelet's reason), the primary untouched and serving every answer, and no answer ever coming from
a canary pod that is not ready."""

from __future__ import annotations

import time
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from lightkube import Client, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace, Pod
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.cluster.waiting import wait_for
from tests.node import podinfo
from tests.node.edge import Edge
from tests.node.installed import Installed
from tests.node.podinfo import PORT, Canary, IngressRoute
from tests.node.realnode import RealNode
from tests.node.traffic import OPENER, Traffic

#: the Canary's progressDeadlineSeconds: every scenario must be over within it plus SLACK_S
DEADLINE_S = 60
#: one analysis interval (10 s) after the deadline, plus the time the API server and the kubelet take to report
SLACK_S = 25
#: Traefik applies an EndpointSlice change after it sees it (a watch) and rebuilds its configuration
TRAEFIK_SYNC_S = 3.0
#: the reason of Serinus's own event naming the kubelet's reason (serinus.engine.ports.SerinusReason)
PODS_FAILING = "CanaryPodsFailing"
#: the reason of Serinus's own event saying it routed all traffic to the primary while the canary is not ready
WITHDRAWN = "CanaryTrafficWithdrawn"
#: the analysis interval of _canary(): Serinus sees an unready canary at its next step
INTERVAL_S = 10
#: from the moment Serinus wrote the TraefikService, until Traefik serves it: its throttle, plus a second for its
#: watch to see the change and for this test's polling of the object
TRAEFIK_APPLY_S = Edge.throttle + 1.0
TraefikService = create_namespaced_resource("traefik.io", "v1alpha1", "TraefikService", "traefikservices")


@dataclass
class Release:
    """One namespace with podinfo v1 (two replicas) behind Traefik, released by a Canary."""

    ns: str
    client: Client
    image: str

    @property
    def subject(self) -> str:
        """`podinfo.<ns>`, as Flagger's events name the Canary and the target."""
        return f"podinfo.{self.ns}"


def _canary(ns: str) -> dict[str, Any]:
    """Flagger's Traefik tutorial Canary with a short progress deadline and no metric or webhook: what these tests
    prove is the pods' failure, not an analysis verdict."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "provider": "traefik",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": DEADLINE_S,
            "service": {"port": PORT, "targetPort": PORT},
            "analysis": {"interval": "10s", "threshold": 3, "maxWeight": 50, "stepWeight": 5},
        },
    }


def _setup(node: RealNode, prefix: str) -> Release:
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    node.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = node.client(namespace=ns)
    image = node.artifacts.image("podinfo")
    client.create(codecs.from_dict(podinfo.deployment(ns, image, "v1", replicas=2)))
    client.create(Canary.from_dict(_canary(ns)))
    client.create(IngressRoute.from_dict(podinfo.ingress_route(ns)))
    wait_for(lambda: podinfo.phase(client) == "Initialized", f"{ns}: phase Initialized", timeout=120)
    return Release(ns, client, image)


def _steady(traffic: Traffic, version: str) -> None:
    """Wait until Traefik routes the IngressRoute and `version` answers steadily."""
    wait_for(
        lambda: len(traffic.answers) > 20 and {t for _, t in traffic.answers[-20:]} == {version},
        f"Traefik answering with {version}",
        timeout=60,
    )


def _events(client: Client) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Canary's events, oldest first."""
    listed = client.list(Event, fields={"involvedObject.name": "podinfo", "involvedObject.kind": "Canary"})
    ordered = sorted(listed, key=lambda e: (e.firstTimestamp or e.metadata.creationTimestamp, e.metadata.name))
    return [(e.type or "", e.reason or "", e.message or "") for e in ordered]


def _failed(release: Release, since: float) -> float:
    """Wait for phase Failed within the deadline and its slack; the seconds it took from `since`."""
    wait_for(
        lambda: podinfo.phase(release.client) == "Failed",
        f"{release.ns}: phase Failed",
        timeout=DEADLINE_S + SLACK_S + 60,  # wait a little longer than allowed, to report how long it took
        every=0.5,
    )
    return time.time() - since


def _primary_untouched(release: Release) -> None:
    """The primary still runs v1 from the original image, two replicas, both ready; the canary is scaled down."""
    primary = release.client.get(Deployment, "podinfo-primary")
    assert primary.spec is not None
    assert primary.spec.template.spec is not None
    container = primary.spec.template.spec.containers[0]
    assert container.image == release.image
    assert container.args is None
    assert {e.name: e.value for e in container.env or []}.get("PODINFO_UI_MESSAGE") == "v1"
    assert primary.spec.replicas == 2
    assert primary.status is not None
    assert primary.status.readyReplicas == 2
    canary = release.client.get(Deployment, "podinfo")
    assert canary.spec is not None
    assert canary.spec.replicas == 0, "the failed canary was not scaled down"


def _all_from_primary(traffic: Traffic, start: float, end: float) -> list[str]:
    """Every request between `start` and `end` was answered, by v1 only."""
    got = traffic.between(start, end)
    assert len(got) > 100, f"only {len(got)} requests answered"
    assert set(got) == {"v1"}, f"answers other than v1: {sorted(set(got))} ({len(got)} requests)"
    return got


def _pod_failure(
    node: RealNode, edge: Edge, prefix: str, change: dict[str, Any], kubelet_reason: str
) -> tuple[float, list[str]]:
    """Release a new version whose pods never become ready (`change` merged into its container), with requests
    flowing through Traefik; return the time from the change to phase Failed and the CanaryPodsFailing events."""
    release = _setup(node, prefix)
    client, subject = release.client, release.subject
    traffic = Traffic(f"{edge.web}/", host=f"{release.ns}.test", workers=2, pause=0.02)
    with traffic.flowing(weight=lambda: int(podinfo.status(client).get("canaryWeight") or 0)):
        _steady(traffic, "v1")
        t_change = time.time()
        container = {"name": "podinfo", **change}
        client.patch(Deployment, "podinfo", {"spec": {"template": {"spec": {"containers": [container]}}}})
        took = _failed(release, t_change)
        time.sleep(3)
        t_end = time.time()
    print(f"{prefix}: Failed {took:.1f} s after the new version was applied")
    assert took <= DEADLINE_S + SLACK_S, f"rolled back after {took:.1f} s, deadline {DEADLINE_S} s"
    assert took >= DEADLINE_S, f"rolled back after {took:.1f} s, before the deadline of {DEADLINE_S} s"
    _all_from_primary(traffic, t_change, t_end)
    assert {w for _, w in traffic.weights} == {0}, f"the canary was given traffic: {sorted(set(traffic.weights))}"
    _primary_untouched(release)
    events = _events(client)
    messages = [m for _, reason, m in events if reason == "Synced"]
    not_ready = f"canary deployment {subject} not ready: waiting for rollout to finish: "
    assert podinfo.in_order(
        messages, [f"New revision detected! Scaling up {subject}", f"Canary failed! Scaling down {subject}"]
    ), events
    assert any(m.startswith(not_ready) for m in messages), events
    assert not any(m.startswith("Starting canary analysis") for m in messages), events
    ours = [m for kind, reason, m in events if reason == PODS_FAILING and kind == "Warning"]
    assert ours, f"no {PODS_FAILING} event among {events}"
    assert all(m.startswith(f"canary deployment {subject} cannot become ready: pod podinfo-") for m in ours), ours
    assert any(f": {kubelet_reason}" in m for m in ours), ours
    node.client().delete(Namespace, release.ns)
    return took, ours


def test_a_crash_looping_version_is_rolled_back_at_the_progress_deadline(
    node: RealNode, edge: Edge, serinus: Installed
) -> None:
    """A new version started with a flag podinfo does not know exits at once and crash-loops: the Canary never
    starts its analysis and fails 60 to 85 s later (progressDeadlineSeconds 60), with Flagger's "not ready" and
    "Canary failed!" events and Serinus's CanaryPodsFailing Warning naming the last exit code; Traefik never gives
    the canary a weight and every answer, all along, comes from the untouched v1 primary."""
    _, ours = _pod_failure(
        node,
        edge,
        "crashloop",
        {"args": ["--no-such-flag"], "env": [{"name": "PODINFO_UI_MESSAGE", "value": "v2"}]},
        "CrashLoopBackOff",
    )
    assert any("exit code 2 (Error)" in m for m in ours), ours


def test_a_version_whose_image_is_not_there_is_rolled_back_with_the_kubelets_reason(
    node: RealNode, edge: Edge, serinus: Installed
) -> None:
    """A new version naming an image tag never imported (imagePullPolicy Never): the kubelet reports
    ErrImageNeverPull, Serinus's CanaryPodsFailing Warning carries that reason and the kubelet's message, and the
    Canary fails at the progress deadline with the primary untouched and answering every request."""
    absent = f"{node.artifacts.image('podinfo').rsplit(':', 1)[0]}:never-imported"
    _, ours = _pod_failure(
        node,
        edge,
        "noimage",
        {"image": absent, "env": [{"name": "PODINFO_UI_MESSAGE", "value": "v2"}]},
        "ErrImageNeverPull",
    )
    assert any(f'Container image "{absent}" is not present with pull policy of Never' in m for m in ours), ours


def _canary_pods(client: Client) -> list[Pod]:
    """The canary's running pods (the canary Deployment scales up to the primary's two replicas)."""
    pods = [p for p in client.list(Pod, labels={"app": "podinfo"}) if p.metadata and not p.metadata.deletionTimestamp]
    assert pods, "no canary pod"
    return pods


def _ready_canary_endpoints(client: Client) -> int:
    """How many endpoints podinfo-canary's EndpointSlices list as ready."""
    return sum(
        1
        for eps in client.list(EndpointSlice, labels={"kubernetes.io/service-name": "podinfo-canary"})
        for ep in eps.endpoints or []
        if ep.conditions and ep.conditions.ready
    )


def _canary_children(client: Client) -> list[str]:
    """The children of the TraefikService Serinus manages that send traffic to the canary Service."""
    spec = client.get(TraefikService, "podinfo").get("spec") or {}
    children = (spec.get("weighted") or {}).get("services") or []
    return [str(c.get("name")) for c in children if c.get("name") == "podinfo-canary" and int(c.get("weight") or 0)]


def test_a_version_that_turns_unready_mid_analysis_is_halted_and_rolled_back(
    node: RealNode, edge: Edge, serinus: Installed
) -> None:
    """A healthy new version takes its first weights (real answers from v2 through Traefik); then its pods fail
    readiness (podinfo's `POST /readyz/disable`). At its next step Serinus routes all traffic to the primary (one
    CanaryTrafficWithdrawn Warning), while the Canary's status keeps the weight and Flagger's "not ready" Warnings
    go on; from TRAEFIK_APPLY_S (Traefik's 2 s throttle plus 1 s) after the TraefikService lost its canary child, not
    one request fails and every answer is v1, and the Canary still fails within the progress deadline."""
    release = _setup(node, "unready")
    client, subject = release.client, release.subject
    traffic = Traffic(f"{edge.web}/", host=f"{release.ns}.test", workers=2, pause=0.02)
    with traffic.flowing(weight=lambda: int(podinfo.status(client).get("canaryWeight") or 0)):
        _steady(traffic, "v1")
        podinfo.new_version(client, "v2")
        wait_for(
            lambda: int(podinfo.status(client).get("canaryWeight") or 0) >= 10,
            f"{release.ns}: canary weight 10",
            timeout=120,
            every=0.5,
        )
        wait_for(lambda: "v2" in traffic.between(time.time() - 3, time.time()), "answers from v2", timeout=30)
        assert _canary_children(client) == ["podinfo-canary"]
        pods = _canary_pods(client)
        t_unready = time.time()
        for pod in pods:
            assert pod.status is not None
            req = urllib.request.Request(f"http://{pod.status.podIP}:{PORT}/readyz/disable", method="POST", data=b"")
            with OPENER.open(req, timeout=5) as resp:
                assert resp.status == 202
        wait_for(lambda: _ready_canary_endpoints(client) == 0, "the canary pod out of its endpoints", timeout=30)
        t_left = time.time()
        weight_when_unready = int(podinfo.status(client).get("canaryWeight") or 0)
        wait_for(lambda: _canary_children(client) == [], "the canary's weight moved to the primary", every=0.1)
        t_moved = time.time()
        weight_when_moved = int(podinfo.status(client).get("canaryWeight") or 0)
        took = _failed(release, t_unready)
        t_failed = time.time()
        time.sleep(3 + TRAEFIK_SYNC_S)
        t_end = time.time()
    print(
        f"unready: out of the endpoints {t_left - t_unready:.1f} s after /readyz/disable, routes all-primary "
        f"{t_moved - t_left:.1f} s after that (status weight {weight_when_moved}), Failed {took:.1f} s after the "
        f"disable, at weight {weight_when_unready}"
    )
    assert took <= DEADLINE_S + SLACK_S, f"rolled back {took:.1f} s after the pod turned unready"
    # Serinus's next step after the Deployment lost its available replicas (at the latest an interval later)
    assert t_moved - t_left <= INTERVAL_S + 5, f"routes moved {t_moved - t_left:.1f} s after the pods turned unready"
    # the status keeps Flagger's weight: the analysis halted at the weight it had, no step forward, no reset
    assert weight_when_moved >= 10
    weights_after = {w for at, w in traffic.weights if t_left + 2 <= at < t_failed}
    assert weights_after <= {weight_when_unready, weight_when_unready + 5, 0}, (weight_when_unready, weights_after)
    late = [(round(at - t_left, 2), text) for at, text in traffic.answers if at >= t_left + TRAEFIK_SYNC_S]
    from_canary = [(at, text) for at, text in late if text == "v2"]
    assert from_canary == [], f"answers from the unready canary pod after it left the endpoints: {from_canary[:10]}"
    before_move = [text for at, text in traffic.answers if t_left <= at < t_moved + TRAEFIK_APPLY_S]
    sheltered = traffic.between(t_moved + TRAEFIK_APPLY_S, t_failed)
    errors_before = [text for text in before_move if text.startswith("error")]
    errors_sheltered = [text for text in sheltered if text.startswith("error")]
    moving = [text for at, text in traffic.answers if t_moved <= at < t_moved + TRAEFIK_APPLY_S]
    last_error = max((at for at, text in traffic.answers if text.startswith("error") and at < t_failed), default=None)
    print(
        f"unready: {len(errors_before)} of {len(before_move)} requests failed from the pods leaving the endpoints "
        f"until {TRAEFIK_APPLY_S:g} s after the routes moved ({sum(t.startswith('error') for t in moving)} of "
        f"{len(moving)} in those {TRAEFIK_APPLY_S:g} s; last failure "
        f"{'none' if last_error is None else f'{last_error - t_moved:+.2f} s from the move'}); "
        f"{len(errors_sheltered)} of {len(sheltered)} from then until the rollback"
    )
    assert len(sheltered) > 100, f"only {len(sheltered)} requests between the move and the rollback"
    assert errors_sheltered == [], f"{len(errors_sheltered)} failed requests once the routes were all-primary"
    assert set(sheltered) == {"v1"}, f"answers while withdrawn: {sorted(set(sheltered))}"
    after = traffic.between(t_failed + TRAEFIK_SYNC_S, t_end)
    assert after, "no answer after the rollback"
    assert set(after) == {"v1"}, f"after the rollback Traefik answered {sorted(set(after))}"
    _primary_untouched(release)
    events = _events(client)
    messages = [m for _, reason, m in events if reason == "Synced"]
    assert podinfo.in_order(
        messages,
        [
            f"New revision detected! Scaling up {subject}",
            f"Starting canary analysis for {subject}",
            f"Advance {subject} canary weight 10",
            f"Canary failed! Scaling down {subject}",
        ],
    ), messages
    withdrawn = [(kind, m) for kind, reason, m in events if reason == WITHDRAWN]
    assert withdrawn == [
        (
            "Warning",
            f"canary deployment {subject} is not ready: routed all traffic to podinfo-primary.{release.ns} "
            "until it is ready",
        )
    ], events
    # The same "not ready" text was already recorded while the canary's pods started, so the API server's event
    # aggregation counts the halt's Warnings on that event: its last occurrence is after the pods turned unready.
    not_ready = f"canary deployment {subject} not ready: waiting for rollout to finish: 0 of {len(pods)} "
    seen = [
        e.lastTimestamp
        for e in client.list(Event, fields={"involvedObject.name": "podinfo", "involvedObject.kind": "Canary"})
        if e.type == "Warning" and (e.message or "").startswith(not_ready) and e.lastTimestamp is not None
    ]
    assert seen, f"no {not_ready!r} Warning among {messages}"
    assert max(seen).timestamp() >= int(t_unready), (seen, t_unready)
    node.client().delete(Namespace, release.ns)
