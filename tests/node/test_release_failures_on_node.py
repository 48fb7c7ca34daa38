"""Releases that go wrong on the real node (issue #22 items 4-6), with real requests counted by version and pod:
a primary whose rolling update stalls during promotion, a Canary deleted with revertOnDeletion in each phase, and
a failed release retried without deleting anything by hand."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from lightkube import ApiError, Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace, Pod, Service

from tests.cluster.waiting import wait_for
from tests.node import podinfo
from tests.node.edge import Edge
from tests.node.installed import Installed
from tests.node.podinfo import PORT, Canary, IngressRoute
from tests.node.realnode import RealNode
from tests.node.traffic import Traffic, answer

#: kube-proxy and Traefik apply a change within this long: answers this soon after a switch may still be old
SYNC_S = 3.0
#: the Canary's progressDeadlineSeconds in the stalled-promotion test
DEADLINE_S = 40


@dataclass
class Sources(Traffic):
    """Traffic that also records which pod answered: (time, podinfo's message, pod name)."""

    pods: list[tuple[float, str, str]] = field(default_factory=list)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                body = answer(self.url, self.host)
                text, pod = str(body["message"]), str(body["hostname"])
            except (OSError, ValueError, KeyError) as err:
                text, pod = f"error: {type(err).__name__}", ""
            now = time.time()
            self.answers.append((now, text))
            self.pods.append((now, text, pod))
            if self.pause:
                self._stop.wait(self.pause)

    def errors_after(self, start: float) -> list[tuple[float, str]]:
        """The failed requests from `start` on: (seconds after `start`, what failed)."""
        return [(round(at - start, 2), t) for at, t in self.answers if at >= start and t.startswith("error")]

    def pods_between(self, start: float, end: float) -> set[str]:
        """The pods that answered between two times."""
        return {pod for at, _, pod in self.pods if start <= at <= end and pod}


def _namespace(node: RealNode, prefix: str) -> tuple[str, Client]:
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    node.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    return ns, node.client(namespace=ns)


def _stalling(ns: str, image: str) -> dict[str, Any]:
    """podinfo v1 whose pods refuse to share a node with another pod of the same app, rolled with no pod ever
    unavailable: on a one-node cluster every rolling update of it stalls, its new pod Pending (unschedulable),
    while the canary (one pod of app `podinfo`) and the first primary pod (app `podinfo-primary`) run."""
    dep = podinfo.deployment(ns, image, "v1")
    dep["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    dep["spec"]["template"]["spec"]["affinity"] = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "podinfo"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    return dep


def _canary(ns: str, provider: str, deadline_s: int = 120, **spec: Any) -> dict[str, Any]:
    """A Canary with no metric (each check passes): blue/green with 2 iterations on plain Services, or one 50 %
    step on Traefik."""
    analysis: dict[str, Any] = {"interval": "10s", "threshold": 2}
    if provider == "kubernetes":
        analysis["iterations"] = 2
    else:
        analysis.update(maxWeight=50, stepWeight=50)
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": deadline_s,
            "service": {"port": PORT, "targetPort": PORT},
            "analysis": analysis,
            **spec,
        },
    }


def _user_service(ns: str) -> dict[str, Any]:
    """The Service `podinfo` the user had before the Canary, selecting the Deployment's pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {"selector": {"app": "podinfo"}, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]},
    }


def _cluster_ip(client: Client, name: str) -> str:
    svc = client.get(Service, name)
    assert svc.spec is not None
    assert svc.spec.clusterIP
    return str(svc.spec.clusterIP)


def _traffic(client: Client, ns: str, provider: str, edge: Edge) -> Sources:
    """Requests through the router the Canary drives: Traefik by host name, or the apex Service."""
    if provider == "traefik":
        return Sources(f"{edge.web}/", host=f"{ns}.test", workers=2, pause=0.02)
    return Sources(f"http://{_cluster_ip(client, 'podinfo')}:{PORT}/", workers=2, pause=0.02)


def _steady(traffic: Sources, version: str) -> None:
    wait_for(
        lambda: len(traffic.answers) > 20 and {t for _, t in traffic.answers[-20:]} == {version},
        f"the router answering with {version}",
        timeout=60,
    )


def _events(client: Client) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Canary's events, oldest first."""
    listed = client.list(Event, fields={"involvedObject.name": "podinfo", "involvedObject.kind": "Canary"})
    ordered = sorted(listed, key=lambda e: (e.firstTimestamp or e.metadata.creationTimestamp, e.metadata.name))
    return [(e.type or "", e.reason or "", e.message or "") for e in ordered]


def _message(dep: Deployment) -> str:
    """The podinfo message a Deployment's template sets."""
    assert dep.spec is not None
    assert dep.spec.template.spec is not None
    env = dep.spec.template.spec.containers[0].env or []
    return next(str(e.value) for e in env if e.name == "PODINFO_UI_MESSAGE")


def _full_strength(client: Client, name: str) -> bool:
    """Every wanted replica of `name` updated and ready, none left over (no Pending surge pod)."""
    dep = client.get(Deployment, name)
    spec, status = dep.spec, dep.status
    if spec is None or status is None:
        return False
    wanted = spec.replicas or 0
    return bool(
        status.observedGeneration == (dep.metadata.generation if dep.metadata else None)
        and status.replicas == wanted
        and status.updatedReplicas == wanted
        and status.readyReplicas == wanted
    )


def _pending(client: Client, app: str) -> set[str]:
    return {
        str(p.metadata.name)
        for p in client.list(Pod, labels={"app": app})
        if p.metadata is not None and p.status is not None and p.status.phase == "Pending"
    }


@pytest.fixture
def cleanup(node: RealNode) -> Iterator[list[str]]:
    """Namespaces to delete after the test, passed or failed."""
    made: list[str] = []
    yield made
    for ns in made:
        with contextlib.suppress(ApiError):
            node.client().delete(Namespace, ns)


# ----- item 4: the primary's rolling update stalls during promotion -----


@pytest.mark.parametrize("provider", ["kubernetes", "traefik"])
def test_stalled_primary_is_restored_and_serves_the_old_version_at_full_strength(
    node: RealNode, edge: Edge, serinus: Installed, cleanup: list[str], provider: str
) -> None:
    """The promoted spec cannot roll out on the primary (its new pod cannot be scheduled): while it stalls,
    traffic stays where the analysis left it and no answer comes from the Pending pod; at progressDeadlineSeconds
    Serinus restores the primary's spec, routes all traffic to it and marks the run Failed; afterwards only v1
    answers, from the primary, at full strength, with PromotionFailed and PrimaryRestored events."""
    ns, client = _namespace(node, f"stall-{provider[:4]}")
    cleanup.append(ns)
    client.create(codecs.from_dict(_stalling(ns, node.artifacts.image("podinfo"))))
    client.create(Canary.from_dict(_canary(ns, provider, DEADLINE_S)))
    if provider == "traefik":
        client.create(IngressRoute.from_dict(podinfo.ingress_route(ns)))
    wait_for(lambda: podinfo.phase(client) == "Initialized", f"{ns}: phase Initialized", timeout=120)
    traffic = _traffic(client, ns, provider, edge)
    with traffic.flowing():
        _steady(traffic, "v1")
        t_steady = time.time()  # before: the router had not picked up the new Service or route yet
        podinfo.new_version(client, "v2")
        wait_for(lambda: podinfo.phase(client) == "Promoting", f"{ns}: phase Promoting", timeout=180)
        t_promoting = time.time()
        wait_for(lambda: _pending(client, "podinfo-primary"), "the promoted primary pod Pending", timeout=30)
        stuck = _pending(client, "podinfo-primary")
        wait_for(lambda: podinfo.phase(client) == "Failed", f"{ns}: phase Failed", timeout=DEADLINE_S + 90)
        t_failed = time.time()
        wait_for(lambda: _full_strength(client, "podinfo-primary"), "the primary at full strength", timeout=60)
        t_full = time.time()
        time.sleep(5 + SYNC_S)
    print(
        f"{provider}: Promoting -> Failed {t_failed - t_promoting:.1f} s (deadline {DEADLINE_S} s), "
        f"primary at full strength {t_full - t_failed:.1f} s after"
    )
    answered = traffic.pods_between(0, time.time())
    assert not answered & stuck, f"the Pending primary pod answered: {answered & stuck}"
    errors = traffic.errors_after(t_steady)
    print(
        f"{provider}: failed requests (s after steady; Promoting at {t_promoting - t_steady:.1f}, Failed at "
        f"{t_failed - t_steady:.1f}): {errors}"
    )
    if provider == "traefik":
        assert not errors, "requests through Traefik failed"
    stalled = traffic.between(t_promoting + SYNC_S, t_failed)
    assert stalled, "no request answered while the primary stalled"
    if provider == "traefik":
        assert set(stalled) == {"v1", "v2"}, f"while stalled Traefik answered {sorted(set(stalled))}"
    else:
        assert set(stalled) == {"v1"}, f"while stalled the apex Service answered {sorted(set(stalled))}"
    after = [(t, pod) for at, t, pod in traffic.pods if at >= t_failed + SYNC_S]
    assert after, "no answer after the restore"
    assert not traffic.errors_after(t_failed + SYNC_S), "requests failed after the restore"
    assert {t for t, _ in after} == {"v1"}, f"after the restore: {sorted({t for t, _ in after})}"
    assert all(pod.startswith("podinfo-primary-") for _, pod in after), sorted({p for _, p in after})
    primary = client.get(Deployment, "podinfo-primary")
    assert _message(primary) == "v1", "the primary does not run its last good spec"
    assert not _pending(client, "podinfo-primary")
    target = client.get(Deployment, "podinfo")
    assert target.spec is not None
    assert target.spec.replicas == 0, "the canary was not scaled down"
    assert int(podinfo.status(client).get("canaryWeight") or 0) == 0
    found = _events(client)
    messages = [m for _, _, m in found]
    assert podinfo.in_order(
        messages,
        [
            f"New revision detected! Scaling up podinfo.{ns}",
            f"Copying podinfo.{ns} template spec to podinfo-primary.{ns}",
            f"Restored podinfo-primary.{ns} to its spec before the promotion, routing all traffic to primary",
            f"Canary failed! Scaling down podinfo.{ns}",
        ],
    ), found
    reasons = {m: r for _, r, m in found}
    failed = [m for m in messages if m.startswith(f"Promotion of podinfo.{ns} failed, primary not ready: ")]
    assert failed, found
    assert reasons[failed[0]] == "PromotionFailed"
    restored = f"Restored podinfo-primary.{ns} to its spec before the promotion, routing all traffic to primary"
    assert reasons[restored] == "PrimaryRestored"
    assert reasons[f"Canary failed! Scaling down podinfo.{ns}"] == "Synced"
    for flaggers in (
        f"New revision detected! Scaling up podinfo.{ns}",
        f"Copying podinfo.{ns} template spec to podinfo-primary.{ns}",
    ):
        assert reasons[flaggers] == "Synced", found


# ----- item 5: deleting a Canary with revertOnDeletion, in each phase -----

#: (phase at deletion, provider): every phase once, each provider several times
REVERT_CASES = [
    ("Initialized", "kubernetes"),
    ("Progressing", "traefik"),
    ("WaitingPromotion", "kubernetes"),
    ("Promoting", "traefik"),
    ("Succeeded", "kubernetes"),
    ("Failed", "traefik"),
]


def _gone(client: Client) -> bool:
    try:
        client.get(Canary, "podinfo")
    except ApiError as err:
        return err.status.code == 404
    return False


@pytest.mark.parametrize(("phase", "provider"), REVERT_CASES)
def test_deleting_a_canary_with_revert_on_deletion_gives_the_service_back_to_the_target(
    node: RealNode, edge: Edge, serinus: Installed, cleanup: list[str], phase: str, provider: str
) -> None:
    """The user's Service and Deployment existed before the Canary; deleting the Canary (revertOnDeletion: true)
    in `phase` gives the Deployment back its replicas and the Service its own selector: afterwards every request to
    the Service is answered by the Deployment's own pods, with the version its spec now runs."""
    ns, client = _namespace(node, f"revert-{phase[:7].lower()}")
    cleanup.append(ns)
    image = node.artifacts.image("podinfo")
    stall = phase == "Promoting"
    replicas = 1 if stall else 2
    client.create(codecs.from_dict(_user_service(ns)))
    client.create(codecs.from_dict(_stalling(ns, image) if stall else podinfo.deployment(ns, image, "v1", replicas=2)))
    spec = _canary(ns, provider, 600 if stall else 120, revertOnDeletion=True)
    analysis = spec["spec"]["analysis"]
    if phase == "Progressing":
        analysis.update(stepWeight=10, interval="15s")
    if phase == "WaitingPromotion":
        analysis["webhooks"] = [
            {"name": "gate", "type": "confirm-promotion", "url": f"{serinus.loadtester_url()}gate/check"}
        ]
    if phase == "Failed":
        # a rollout check that can never pass: nothing listens on port 1 of the operator's own loopback
        analysis["webhooks"] = [{"name": "broken", "type": "rollout", "url": "http://127.0.0.1:1/", "timeout": "2s"}]
    client.create(Canary.from_dict(spec))
    if provider == "traefik":
        client.create(IngressRoute.from_dict(podinfo.ingress_route(ns)))
    wait_for(lambda: podinfo.phase(client) == "Initialized", f"{ns}: phase Initialized", timeout=120)
    assert client.get(Service, "podinfo").spec.selector == {"app": "podinfo-primary"}  # type: ignore[union-attr]
    version = "v1"
    if phase != "Initialized":
        podinfo.new_version(client, "v2")
        version = "v2"

        def reached() -> bool:
            status = podinfo.status(client)
            if phase == "Progressing":
                return status.get("phase") == "Progressing" and int(status.get("canaryWeight") or 0) >= 10
            return status.get("phase") == phase

        wait_for(reached, f"{ns}: phase {phase}", timeout=240)
    service = Sources(f"http://{_cluster_ip(client, 'podinfo')}:{PORT}/", workers=2, pause=0.02)
    with service.flowing():
        wait_for(
            lambda: len(service.answers) > 10 and not [t for _, t in service.answers[-10:] if t.startswith("error")],
            "the Service answering",
            timeout=30,
        )
        t_delete = time.time()
        client.delete(Canary, "podinfo")
        wait_for(lambda: _gone(client), f"{ns}: the Canary finalized and deleted", timeout=180)
        t_gone = time.time()
        wait_for(lambda: _full_strength(client, "podinfo"), "the Deployment at full strength", timeout=60)
        wait_for(
            lambda: (
                len(service.pods) > 20
                and all(
                    pod.startswith("podinfo-") and not pod.startswith("podinfo-primary-")
                    for _, _, pod in service.pods[-20:]
                )
            ),
            "the Service answering from the Deployment's pods",
            timeout=30,
        )
        t_served = time.time()
        time.sleep(5)
    print(f"revert in {phase} ({provider}): Canary gone {t_gone - t_delete:.1f} s, served {t_served - t_delete:.1f} s")
    target = client.get(Deployment, "podinfo")
    assert target.spec is not None
    assert target.spec.replicas == replicas, "the Deployment did not get its replicas back"
    assert client.get(Service, "podinfo").spec.selector == {"app": "podinfo"}  # type: ignore[union-attr]
    after = [(t, pod) for at, t, pod in service.pods if at >= t_served]
    assert after, "no answer after the revert"
    assert {t for t, _ in after} == {version}, sorted({t for t, _ in after})
    assert all(not pod.startswith("podinfo-primary-") for _, pod in after)
    errors = service.errors_after(t_delete)
    print(f"revert in {phase} ({provider}): failed requests (s after the delete): {errors}")
    assert not service.errors_after(t_served), "requests to the Service failed after the revert"
    messages = [m for _, _, m in _events(client)]
    assert f"Terminating canary podinfo.{ns}" in messages, messages


# ----- item 6: a failed release is retried by a new revision -----


def _probe(client: Client, message: str, path: str) -> None:
    """A new revision: a new message, and the readiness probe on `path` (a path podinfo answers 404 never
    becomes ready)."""
    container = {
        "name": "podinfo",
        "env": [{"name": "PODINFO_UI_MESSAGE", "value": message}],
        "readinessProbe": {"httpGet": {"path": path, "port": PORT}, "periodSeconds": 1, "timeoutSeconds": 3},
    }
    client.patch(Deployment, "podinfo", {"spec": {"template": {"spec": {"containers": [container]}}}})


def test_a_failed_release_is_retried_by_a_new_revision_without_deleting_anything(
    node: RealNode, serinus: Installed, cleanup: list[str]
) -> None:
    """v2 never becomes ready and is rolled back at progressDeadlineSeconds (Failed, v1 serving); the user then
    pushes v3 and nothing else: the Failed Canary starts a new run, promotes v3, and only v3 answers. No object was
    deleted by hand. (Serinus has no retry action for the same spec: Flagger has none either.)"""
    ns, client = _namespace(node, "retry")
    cleanup.append(ns)
    client.create(codecs.from_dict(podinfo.deployment(ns, node.artifacts.image("podinfo"), "v1")))
    client.create(Canary.from_dict(_canary(ns, "kubernetes", 30)))
    wait_for(lambda: podinfo.phase(client) == "Initialized", f"{ns}: phase Initialized", timeout=120)
    traffic = Sources(f"http://{_cluster_ip(client, 'podinfo')}:{PORT}/", workers=2, pause=0.02)
    with traffic.flowing():
        _steady(traffic, "v1")
        t_v2 = time.time()
        _probe(client, "v2", "/nope")
        wait_for(lambda: podinfo.phase(client) == "Failed", f"{ns}: v2 Failed", timeout=180)
        t_failed = time.time()
        _probe(client, "v3", "/readyz")
        wait_for(lambda: podinfo.phase(client) == "Succeeded", f"{ns}: v3 Succeeded", timeout=240)
        t_done = time.time()
        time.sleep(5 + SYNC_S)
    print(f"retry: v2 Failed after {t_failed - t_v2:.1f} s, v3 Succeeded {t_done - t_failed:.1f} s after that")
    print(f"retry: failed requests (s after v2 was pushed): {traffic.errors_after(t_v2)}")
    during = [t for t in traffic.between(t_v2, t_done) if not t.startswith("error")]
    assert set(during) == {"v1"}, "the Service answered from the failed version"
    assert not traffic.errors_after(t_done + SYNC_S), "requests failed after v3 was promoted"
    after = traffic.between(t_done + SYNC_S, time.time())
    assert after, "no answer after the retry"
    assert set(after) == {"v3"}, sorted(set(after))
    # an exact repeat of an event is the same Event object with its count raised (as client-go aggregates them)
    counts = {
        e.message: e.count or 1
        for e in client.list(Event, fields={"involvedObject.name": "podinfo", "involvedObject.kind": "Canary"})
    }
    assert counts.get(f"New revision detected! Scaling up podinfo.{ns}") == 2, counts
    assert counts.get(f"Canary failed! Scaling down podinfo.{ns}") == 1, counts
    assert counts.get(f"Promotion completed! Scaling down podinfo.{ns}") == 1, counts
    assert _message(client.get(Deployment, "podinfo-primary")) == "v3"
