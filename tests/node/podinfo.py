"""podinfo, as Flagger's tutorials deploy it, for the real node: its Deployment (the version told apart by its UI
message), the Canaries and routes of each walkthrough, and reading a Canary's status and events."""

from __future__ import annotations

from typing import Any

from lightkube import Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event

Canary = create_namespaced_resource("flagger.app", "v1beta1", "Canary", "canaries")
IngressRoute = create_namespaced_resource("traefik.io", "v1alpha1", "IngressRoute", "ingressroutes")
PORT = 9898


def deployment(
    ns: str, image: str, message: str, env: list[dict[str, str]] | None = None, replicas: int = 1
) -> dict[str, Any]:
    """A podinfo Deployment answering with `message`, never pulling its image (imported into containerd)."""
    labels = {"app": "podinfo"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": ns, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "podinfo",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "env": [{"name": "PODINFO_UI_MESSAGE", "value": message}, *(env or [])],
                            "ports": [{"name": "http", "containerPort": PORT}],
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": PORT},
                                "periodSeconds": 1,
                                "timeoutSeconds": 3,
                            },
                        }
                    ],
                },
            },
        },
    }


def traefik_canary(ns: str, web: str, loadtester: str) -> dict[str, Any]:
    """Flagger's Traefik tutorial Canary, with the load test aimed at Traefik by the node IP (no cluster DNS)."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "provider": "traefik",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 120,
            "service": {"port": PORT, "targetPort": PORT},
            "analysis": {
                "interval": "15s",
                "threshold": 2,
                "maxWeight": 50,
                "stepWeight": 10,
                "metrics": [
                    {"name": "request-success-rate", "interval": "30s", "thresholdRange": {"min": 99}},
                    {"name": "request-duration", "interval": "30s", "thresholdRange": {"max": 500}},
                ],
                "webhooks": [
                    {
                        "name": "load-test",
                        "type": "rollout",
                        "url": loadtester,
                        "timeout": "5s",
                        "metadata": {
                            "type": "cmd",
                            "cmd": f"hey -z 3m -q 5 -c 2 -host {ns}.test {web}/",
                        },
                    }
                ],
            },
        },
    }


def ingress_route(ns: str) -> dict[str, Any]:
    """The IngressRoute of the tutorial: host `<ns>.test` to the TraefikService Serinus manages."""
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "entryPoints": ["web"],
            "routes": [
                {
                    "match": f"Host(`{ns}.test`)",
                    "kind": "Rule",
                    "services": [{"name": "podinfo", "kind": "TraefikService"}],
                }
            ],
        },
    }


def status(client: Client) -> dict[str, Any]:
    """The Canary `podinfo`'s status."""
    return dict(client.get(Canary, "podinfo").get("status") or {})


def phase(client: Client) -> str:
    """The Canary `podinfo`'s phase ("" before its first status)."""
    return str(status(client).get("phase") or "")


def events(client: Client) -> list[str]:
    """The Canary `podinfo`'s event messages, oldest first."""
    listed = client.list(Event, fields={"involvedObject.name": "podinfo", "involvedObject.kind": "Canary"})
    ordered = sorted(listed, key=lambda e: (e.firstTimestamp or e.metadata.creationTimestamp, e.metadata.name))
    return [e.message or "" for e in ordered]


def in_order(found: list[str], expected: list[str]) -> bool:
    """Whether every expected message occurs in `found`, in this order."""
    positions = [found.index(text) if text in found else -1 for text in expected]
    return -1 not in positions and positions == sorted(positions)


def new_version(client: Client, message: str, env: list[dict[str, str]] | None = None) -> None:
    """Start a release: a new UI message (and environment) in the Deployment's template."""
    container = {"name": "podinfo", "env": [{"name": "PODINFO_UI_MESSAGE", "value": message}, *(env or [])]}
    client.patch(Deployment, "podinfo", {"spec": {"template": {"spec": {"containers": [container]}}}})
