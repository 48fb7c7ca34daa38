"""Gateway API for real: Serinus (its chart, its image) shifts real requests through the weights of an HTTPRoute
that Traefik's Gateway API provider serves, judged by a MetricTemplate on Traefik's own request metrics."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from lightkube import ApiError, codecs
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.cluster.waiting import wait_for
from tests.node import podinfo
from tests.node.edge import GATEWAY_CLASS, Edge
from tests.node.installed import Installed
from tests.node.podinfo import PORT, Canary
from tests.node.realnode import RealNode
from tests.node.traffic import Traffic

GatewayClass = create_global_resource("gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses")
Gateway = create_namespaced_resource("gateway.networking.k8s.io", "v1", "Gateway", "gateways")
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
MetricTemplate = create_namespaced_resource("flagger.app", "v1beta1", "MetricTemplate", "metrictemplates")
#: how far the share of answers from the canary may be from its weight, in percentage points
SHARE_TOLERANCE = 5.0
#: Traefik names an HTTPRoute backend `<namespace>-<Service>-http-<port>` (its Gateway API provider's loadService)
SUCCESS_RATE = """
sum(rate(traefik_service_requests_total{
    service=~"{{ namespace }}-{{ target }}-canary-http-[0-9]+@kubernetesgateway", code!~"5.."}[{{ interval }}]))
/
sum(rate(traefik_service_requests_total{
    service=~"{{ namespace }}-{{ target }}-canary-http-[0-9]+@kubernetesgateway"}[{{ interval }}])) * 100
"""


def _gateway(ns: str, edge: Edge) -> dict[str, Any]:
    """A Gateway of Traefik's class whose listener is Traefik's `web` entry point (matched by port)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": edge.web_port,
                    "hostname": f"{ns}.gw.test",
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                }
            ],
        },
    }


def _canary(ns: str, edge: Edge, loadtester: str) -> dict[str, Any]:
    """Flagger's Gateway API tutorial Canary, with the success rate read from Traefik's metrics."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "provider": "gatewayapi:v1",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 120,
            "service": {
                "port": PORT,
                "targetPort": PORT,
                "hosts": [f"{ns}.gw.test"],
                "gatewayRefs": [{"name": "web", "namespace": ns}],
            },
            "analysis": {
                "interval": "15s",
                "threshold": 2,
                "maxWeight": 30,
                "stepWeight": 10,
                "metrics": [
                    {
                        "name": "success-rate",
                        "templateRef": {"name": "traefik-success-rate"},
                        "interval": "30s",
                        "thresholdRange": {"min": 99},
                    }
                ],
                "webhooks": [
                    {
                        "name": "load-test",
                        "type": "rollout",
                        "url": loadtester,
                        "timeout": "5s",
                        "metadata": {"type": "cmd", "cmd": f"hey -z 3m -q 5 -c 2 -host {ns}.gw.test {edge.web}/"},
                    }
                ],
            },
        },
    }


def test_gateway_api_through_traefik_promotes_with_weights_matching_real_traffic(
    node: RealNode, edge: Edge, serinus: Installed
) -> None:
    """`provider: gatewayapi:v1` with Traefik as the Gateway: the HTTPRoute's weights step 10/20/30 with the share of
    real answers from the canary within 5 points of each, the MetricTemplate on Traefik's metrics passes, the new
    version is promoted and then answers alone."""
    admin = node.client()
    with contextlib.suppress(ApiError):  # one class for the session; an earlier test may have made it
        admin.create(
            GatewayClass.from_dict(
                {
                    "apiVersion": "gateway.networking.k8s.io/v1",
                    "kind": "GatewayClass",
                    "metadata": {"name": GATEWAY_CLASS},
                    "spec": {"controllerName": "traefik.io/gateway-controller"},
                }
            )
        )
    ns = f"gateway-{uuid.uuid4().hex[:6]}"
    admin.create(Namespace(metadata=ObjectMeta(name=ns)))
    client = node.client(namespace=ns)
    client.create(Gateway.from_dict(_gateway(ns, edge)))
    client.create(
        MetricTemplate.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": "traefik-success-rate", "namespace": ns},
                "spec": {"provider": {"type": "prometheus", "address": edge.prometheus}, "query": SUCCESS_RATE},
            }
        )
    )
    client.create(codecs.from_dict(podinfo.deployment(ns, node.artifacts.image("podinfo"), "v1")))
    client.create(Canary.from_dict(_canary(ns, edge, serinus.loadtester_url())))
    wait_for(lambda: podinfo.phase(client) == "Initialized", f"{ns}: phase Initialized", timeout=120)
    route = client.get(HTTPRoute, "podinfo")
    backends = [ref["name"] for ref in route["spec"]["rules"][0]["backendRefs"]]
    assert backends == ["podinfo-primary", "podinfo-canary"], route["spec"]

    traffic = Traffic(f"{edge.web}/", host=f"{ns}.gw.test", workers=2, pause=0)
    with traffic.flowing(weight=lambda: int(podinfo.status(client).get("canaryWeight") or 0)):
        wait_for(
            lambda: len(traffic.answers) > 20 and {t for _, t in traffic.answers[-20:]} == {"v1"},
            f"Traefik serving the HTTPRoute (log: {edge.traefik_log})",
            timeout=60,
        )
        podinfo.new_version(client, "v2")
        wait_for(lambda: podinfo.phase(client) == "Succeeded", f"{ns}: phase Succeeded", timeout=300)
        t_done = time.time()
        time.sleep(5)
    after = traffic.between(t_done, time.time())
    assert after, "no answer after the promotion"
    assert set(after) == {"v2"}, f"after promotion Traefik answered {sorted(set(after))}"
    shares = traffic.shares("v2")
    print("(weight, % of answers from the canary, answers):", [(w, round(p, 1), n) for w, p, n in shares])
    assert {w for w, _, _ in shares if 0 < w < 100} >= {10, 20, 30}, f"weights seen with traffic: {shares}"
    off = [(w, round(share, 1), n) for w, share, n in shares if 0 < w < 100 and abs(share - w) > SHARE_TOLERANCE]
    assert off == [], f"(weight, % from the canary, answers) beyond {SHARE_TOLERANCE} points: {off} of {shares}"
    found = podinfo.events(client)
    expected = [
        f"New revision detected! Scaling up podinfo.{ns}",
        f"Starting canary analysis for podinfo.{ns}",
        f"Advance podinfo.{ns} canary weight 10",
        f"Advance podinfo.{ns} canary weight 30",
        f"Copying podinfo.{ns} template spec to podinfo-primary.{ns}",
        f"Promotion completed! Scaling down podinfo.{ns}",
    ]
    assert podinfo.in_order(found, expected), found
    assert not [e for e in found if e.startswith(f"Halt podinfo.{ns}")], found
    admin.delete(Namespace, ns)
