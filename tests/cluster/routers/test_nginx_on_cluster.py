"""The nginx router's canary Ingress on a real apiserver."""

from __future__ import annotations

import uuid

from lightkube import codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.networking_v1 import Ingress

from serinus.routers import nginx
from tests.cluster.controlplane import Cluster


def test_nginx_canary_ingress_round_trips_through_the_apiserver(cluster: Cluster) -> None:
    """The canary Ingress is accepted, and weights written through the apiserver read back unchanged."""
    ns = f"nginx-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client = cluster.client(namespace=ns)
    user = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "rules": [
                {
                    "host": "web.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    client.create(codecs.from_dict(user))
    canary = {
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "targetRef": {"name": "web"},
            "ingressRef": {"name": "web"},
            "service": {"port": 80},
            "analysis": {"stepWeight": 10},
        },
    }
    client.create(codecs.from_dict(nginx.new_canary_ingress(user, canary, None)))
    for weight in (10, 60, 0):
        live = client.get(Ingress, "web-canary").to_dict()
        client.replace(codecs.from_dict(nginx.set_routes(live, canary, weight)))
        assert nginx.get_routes(client.get(Ingress, "web-canary").to_dict(), canary) == (100 - weight, weight, False)
    assert nginx.reconciled_canary_ingress(client.get(Ingress, "web-canary").to_dict(), user, canary) is None
