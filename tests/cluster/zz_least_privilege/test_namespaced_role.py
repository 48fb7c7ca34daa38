"""Least privilege of a namespaced install, proven on the real control plane: with the chart's `namespace` set, a
`serinus run --namespace` holding only what that rendering grants tracks and copies ConfigMaps and Secrets through
the Role in its namespace, reads an AlertProvider's Secret in a namespace of `rbac.secretNamespaces`, and can read
or watch no Secret anywhere else.

It installs the chart's RBAC under a release of its own (`scoped`), so the cluster-wide ServiceAccount the other
cluster tests use is left as it is, and needs nothing from them: it runs alone too.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client, codecs
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, ServiceAccount

from tests.cluster.controlplane import OPERATOR_NAMESPACE, Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import present

pytestmark = pytest.mark.cluster

RELEASE = "scoped"
ACCOUNT = f"{RELEASE}-serinus"
USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{ACCOUNT}"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def _install_rbac(cluster: Cluster, *values: str) -> Path:
    """Apply the RBAC documents of the chart rendered with `values` under release `scoped`; a kubeconfig holding
    a token of its ServiceAccount."""
    client = cluster.client()
    try:
        client.create(Namespace(metadata=ObjectMeta(name=OPERATOR_NAMESPACE)))
    except ApiError as err:
        if err.status.code != 409:
            raise
    for doc in cluster.helm_template(*values, release=RELEASE):
        if doc["kind"] in RBAC_KINDS:
            client.apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
    token = client.create(
        ServiceAccount.Token(
            metadata=ObjectMeta(name=ACCOUNT, namespace=OPERATOR_NAMESPACE),
            spec=TokenRequestSpec(audiences=[], expirationSeconds=86400),
        ),
        ACCOUNT,
        namespace=OPERATOR_NAMESPACE,
    )
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": ACCOUNT, "user": {"token": present(token.status).token}}]
    config["contexts"][0]["context"]["user"] = ACCOUNT
    path = cluster.plane.workdir / f"{ACCOUNT}-{uuid.uuid4().hex[:6]}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def _allowed(client: Client, verb: str, resource: str, namespace: str | None) -> bool:
    """What the API server's authorizer answers for the ServiceAccount (a SubjectAccessReview)."""
    review = client.create(
        SubjectAccessReview(
            spec=SubjectAccessReviewSpec(
                user=USER,
                groups=["system:serviceaccounts", f"system:serviceaccounts:{OPERATOR_NAMESPACE}"],
                resourceAttributes=ResourceAttributes(verb=verb, resource=resource, namespace=namespace),
            )
        )
    )
    return bool(present(review.status).allowed)


def _config_requests(audit: Path) -> list[dict[str, Any]]:
    """The ServiceAccount's completed requests on ConfigMaps and Secrets, as the audit log has them."""
    out = []
    for line in audit.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if (
            event.get("stage") == "ResponseComplete"
            and event["user"]["username"] == USER
            and ref.get("resource") in ("configmaps", "secrets")
        ):
            out.append(event)
    return out


def test_a_namespaced_install_tracks_configs_through_its_role_only(cluster: Cluster, tmp_path: Path) -> None:
    """The authorizer grants Secrets and ConfigMaps in the watched namespace only (and `get` on Secrets in the
    listed one); a release started by a ConfigMap and Secret change alone runs at once (the metadata watch, not the
    60 s interval) and copies the new data; every config request of the operator was allowed by the namespace's
    RoleBinding, none was refused, and none left the two namespaces."""
    cluster.install_serinus_crds()
    ns, other, elsewhere = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("scoped", "alerts", "elsewhere"))
    admin = cluster.client()
    for name in (ns, other, elsewhere):
        admin.create(Namespace(metadata=ObjectMeta(name=name)))
    kubeconfig = _install_rbac(cluster, "--set", f"namespace={ns}", "--set", f"rbac.secretNamespaces={{{other}}}")

    for verb in ("get", "list", "watch", "create", "update"):
        for resource in ("configmaps", "secrets"):
            assert _allowed(admin, verb, resource, ns), (verb, resource)
            assert not _allowed(admin, verb, resource, elsewhere), (verb, resource)
            assert not _allowed(admin, verb, resource, None), (verb, resource)  # cluster-wide
    assert _allowed(admin, "get", "secrets", other)
    for verb in ("list", "watch", "create", "update"):
        assert not _allowed(admin, verb, "secrets", other), verb
    assert not _allowed(admin, "get", "configmaps", other)

    receiver = op.Receiver()
    client = cluster.client(namespace=ns)
    admin.create(Secret(metadata=ObjectMeta(name="hook", namespace=other), stringData={"address": receiver.url}))
    admin.create(
        codecs.from_dict(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "AlertProvider",
                "metadata": {"name": "on-call", "namespace": other},
                "spec": {"type": "slack", "channel": "releases", "secretRef": {"name": "hook"}},
            }
        )
    )
    client.create(ConfigMap(metadata=ObjectMeta(name="cfg", namespace=ns), data={"mode": "old"}))
    client.create(Secret(metadata=ObjectMeta(name="creds", namespace=ns), stringData={"token": "old"}))
    client.create(
        codecs.from_dict(
            op.deployment(
                ns,
                "ghcr.io/example/web:1.0",
                volumes=[
                    {"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "creds", "secret": {"secretName": "creds"}},
                ],
            )
        )
    )
    log = tmp_path / "operator.log"
    try:
        with op.running(cluster, ns, log, f"--kubeconfig={kubeconfig}"):
            client.create(
                op.canary(
                    ns,
                    analysis={
                        "interval": "60s",
                        "threshold": 2,
                        "iterations": 1,
                        "alerts": [
                            {
                                "name": "on-call",
                                "severity": "info",
                                "providerRef": {"name": "on-call", "namespace": other},
                            }
                        ],
                    },
                )
            )
            wait_for(lambda: op.phase(client) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
            assert client.get(ConfigMap, "cfg-primary").data == {"mode": "old"}
            wait_for(lambda: receiver.bodies, "the AlertProvider's Secret read and the alert sent", timeout=30)

            time.sleep(2)  # the first tick after Initialized is behind us: the next one is an interval away
            changed = time.monotonic()
            client.patch(Secret, "creds", {"stringData": {"token": "new"}})
            client.patch(ConfigMap, "cfg", {"data": {"mode": "new"}})
            wait_for(
                lambda: f"New revision detected! Scaling up web.{ns}" in op.events(client),
                "a run started by the config change",
                timeout=30,
                every=0.1,
            )
            assert time.monotonic() - changed < 15, "the change was seen at a tick, not by the watch"
            wait_for(lambda: op.phase(client) == "Succeeded", f"phase Succeeded (log: {log})", timeout=240)
            assert client.get(ConfigMap, "cfg-primary").data == {"mode": "new"}
            assert client.get(Secret, "creds-primary").data == {"token": "bmV3"}
    finally:
        receiver.close()

    requests = _config_requests(cluster.audit_log)
    assert {e["verb"] for e in requests if e["objectRef"]["resource"] == "secrets"} >= {
        "get",
        "list",
        "watch",
        "create",
        "update",
    }
    refused = [e["requestURI"] for e in requests if e["responseStatus"]["code"] == 403]
    assert refused == []
    for event in requests:
        where = event["objectRef"].get("namespace")
        reason = event["annotations"]["authorization.k8s.io/reason"]
        if where == ns:
            assert f'RoleBinding "{ACCOUNT}-configs/{ns}"' in reason, event["requestURI"]
        else:
            assert where == other, event["requestURI"]
            assert f'RoleBinding "{ACCOUNT}-secrets/{other}"' in reason, event["requestURI"]
