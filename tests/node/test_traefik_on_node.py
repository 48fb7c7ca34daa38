"""Flagger's podinfo tutorial for Traefik, for real: Serinus (its chart, its image) shifts real requests through
Traefik's TraefikService weights, judges the canary by the built-in request-success-rate and request-duration that
Prometheus scrapes from Traefik, and promotes a healthy version or rolls back a failing one."""

from __future__ import annotations

import time
import uuid

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace

from tests.cluster.waiting import wait_for
from tests.node import podinfo
from tests.node.edge import Edge
from tests.node.installed import Installed
from tests.node.podinfo import Canary, IngressRoute
from tests.node.realnode import RealNode
from tests.node.traffic import Traffic

#: how far the share of answers from the canary may be from its weight, in percentage points
SHARE_TOLERANCE = 5.0


def _setup(node: RealNode, edge: Edge, serinus: Installed, prefix: str) -> tuple[str, Client]:
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    node.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = node.client(namespace=ns)
    client.create(codecs.from_dict(podinfo.deployment(ns, node.artifacts.image("podinfo"), "v1")))
    client.create(Canary.from_dict(podinfo.traefik_canary(ns, edge.web, serinus.loadtester_url())))
    client.create(IngressRoute.from_dict(podinfo.ingress_route(ns)))
    wait_for(lambda: podinfo.phase(client) == "Initialized", f"{ns}: phase Initialized", timeout=120)
    return ns, client


def _steady(traffic: Traffic, version: str) -> None:
    """Wait until Traefik routes the new IngressRoute (it watches the API server) and `version` answers steadily."""
    wait_for(
        lambda: len(traffic.answers) > 20 and {t for _, t in traffic.answers[-20:]} == {version},
        f"Traefik answering with {version}",
        timeout=60,
    )


def test_traefik_promotes_a_healthy_version_with_weights_matching_real_traffic(
    node: RealNode, edge: Edge, serinus: Installed
) -> None:
    """A healthy new version is promoted through 10/20/30/40/50 % and then 100 %; at each weight the share of real
    answers from the canary is within 5 points of that weight, and after promotion only the new version answers."""
    ns, client = _setup(node, edge, serinus, "traefik-ok")
    traffic = Traffic(f"{edge.web}/", host=f"{ns}.test", workers=2, pause=0)
    with traffic.flowing(weight=lambda: int(podinfo.status(client).get("canaryWeight") or 0)):
        _steady(traffic, "v1")
        podinfo.new_version(client, "v2")
        wait_for(lambda: podinfo.phase(client) == "Succeeded", f"{ns}: phase Succeeded", timeout=300)
        t_done = time.time()
        time.sleep(5)
    after = traffic.between(t_done, time.time())
    assert after, "no answer after the promotion"
    assert set(after) == {"v2"}, f"after promotion Traefik answered {sorted(set(after))}"
    shares = traffic.shares("v2")
    print("(weight, % of answers from the canary, answers):", [(w, round(p, 1), n) for w, p, n in shares])
    stepped = {w for w, _, _ in shares if 0 < w < 100}
    assert stepped >= {10, 20, 30, 40, 50}, f"weights seen with traffic: {shares}"
    off = [(w, round(share, 1), n) for w, share, n in shares if 0 < w < 100 and abs(share - w) > SHARE_TOLERANCE]
    assert off == [], f"(weight, % from the canary, answers) beyond {SHARE_TOLERANCE} points: {off} of {shares}"
    expected = [
        f"New revision detected! Scaling up podinfo.{ns}",
        f"Starting canary analysis for podinfo.{ns}",
        f"Advance podinfo.{ns} canary weight 10",
        f"Advance podinfo.{ns} canary weight 50",
        f"Copying podinfo.{ns} template spec to podinfo-primary.{ns}",
        "Routing all traffic to primary",
        f"Promotion completed! Scaling down podinfo.{ns}",
    ]
    assert podinfo.in_order(podinfo.events(client), expected), podinfo.events(client)
    node.client().delete(Namespace, ns)


def test_traefik_rolls_back_a_failing_version_and_no_request_reaches_it_after(
    node: RealNode, edge: Edge, serinus: Installed
) -> None:
    """A new version answering 5xx at random (podinfo's own fault option) fails the request-success-rate check
    measured from Traefik's metrics, the release rolls back with Flagger's events, and once Traefik has applied
    the route back (its 2 s throttle after Failed) every answer comes from the old version."""
    ns, client = _setup(node, edge, serinus, "traefik-bad")
    traffic = Traffic(f"{edge.web}/", host=f"{ns}.test", workers=1, pause=0.02)
    with traffic.flowing():
        _steady(traffic, "v1")
        podinfo.new_version(client, "v2", [{"name": "PODINFO_RANDOM_ERROR", "value": "true"}])
        wait_for(lambda: podinfo.phase(client) == "Failed", f"{ns}: phase Failed", timeout=300)
        t_failed = time.time()
        time.sleep(5 + edge.throttle)
    # The rollback routes all traffic to the primary before it writes Failed; Traefik applies a changed
    # TraefikService only after its providersThrottleDuration, so answers from v2 may end that long after Failed.
    late = [round(at - t_failed, 2) for at, text in traffic.answers if text == "v2" and at > t_failed]
    assert all(d <= edge.throttle for d in late), (
        f"v2 answered {late} s after Failed (Traefik applies in {edge.throttle} s)"
    )
    after = [t for t in traffic.between(t_failed + edge.throttle, time.time()) if not t.startswith("error")]
    assert after, "no answer after the rollback"
    assert set(after) == {"v1"}, f"after the rollback Traefik answered {sorted(set(after))}"
    status = podinfo.status(client)
    assert status.get("canaryWeight") == 0
    found = podinfo.events(client)
    expected = [
        f"New revision detected! Scaling up podinfo.{ns}",
        f"Starting canary analysis for podinfo.{ns}",
        f"Advance podinfo.{ns} canary weight 10",
        f"Rolling back podinfo.{ns} failed checks threshold reached 2",
        f"Canary failed! Scaling down podinfo.{ns}",
    ]
    assert podinfo.in_order(found, expected), found
    halted = [t for t in found if t.startswith(f"Halt podinfo.{ns} advancement success rate ")]
    assert halted, f"no failed success-rate check among {found}"
    assert all(t.endswith("% < 99%") for t in halted), halted
    spec = client.get(Deployment, "podinfo").spec
    assert spec is not None
    assert spec.replicas == 0, "the failed canary was not scaled down"
    node.client().delete(Namespace, ns)
