"""Our CRDs on a real API server: they install, accept every valid manifest, reject the structurally invalid ones
exactly when `serinus validate` does, prune what it warns about, and show Flagger's columns."""

from __future__ import annotations

import copy
import datetime as dt
import json
import ssl
import urllib.request
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from serinus.api import Canary, CanaryPhase, make_promoted_conditions
from serinus.api.check import check_object
from serinus.kube import resources
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import wait_for
from tests.conftest import REPO
from tests.fields import as_dict, present
from tests.gomodules import flagger_example, flagger_examples

NAMESPACE = "serinus-crds"
OUR_CRDS = REPO / "deploy" / "crds" / "crds.yaml"
Doc = dict[str, Any]


def _established(client: Client, name: str) -> bool:
    crd = client.get(CustomResourceDefinition, name)
    return any(c.type == "Established" and c.status == "True" for c in (present(crd.status).conditions or []))


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Client:
    """Our CRDs applied (replacing whatever flagger.app CRDs an earlier test left) and a namespace for objects."""
    admin = cluster.client()
    for doc in yaml.safe_load_all(OUR_CRDS.read_text()):
        if doc:
            # Same field manager as the other cluster tests, so this apply replaces their CRD wholesale.
            admin.apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
    for name in ("canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app"):
        wait_for(partial(_established, admin, name), f"{name} Established", timeout=60)
    try:
        admin.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
    except ApiError as err:
        if err.status.code != 409:
            raise
    # A new schema takes a moment to reach every handler; wait until it accepts our StatefulSet addition.
    probe = _canary(lambda d: d["spec"]["targetRef"].update(kind="StatefulSet"), name="probe")
    wait_for(lambda: _accepted(cluster.client(namespace=NAMESPACE), probe) is None, "our Canary schema served")
    return cluster.client(namespace=NAMESPACE)


def _canary(change: Callable[[Doc], object] = lambda d: None, name: str = "podinfo") -> Doc:
    doc: Doc = yaml.safe_load(flagger_example("istio-canary").read_text())
    doc["metadata"] = {"name": name, "namespace": NAMESPACE}
    change(doc)
    return doc


def _accepted(client: Client, doc: Doc) -> ApiError | None:
    """None when the API server accepts the object (server-side dry run), else its error."""
    try:
        client.create(codecs.from_dict(copy.deepcopy(doc)), dry_run=True)
    except ApiError as err:
        return err
    return None


def _provider(kind: str, **spec: Any) -> Doc:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": f"on-call-{kind}", "namespace": NAMESPACE},
        "spec": {"type": kind, **spec},
    }


def _template(**provider: Any) -> Doc:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "errors", "namespace": NAMESPACE},
        "spec": {"provider": provider, "query": 'sum(rate(http_requests_total{code=~"5.."}[{{ interval }}]))'},
    }


def _valid() -> list[tuple[str, Doc]]:
    cases = []
    for path in flagger_examples():
        doc = yaml.safe_load(path.read_text())
        doc["metadata"]["namespace"] = NAMESPACE
        cases.append((path.stem, doc))
    cases += [
        ("statefulset target", _canary(lambda d: d["spec"]["targetRef"].update(kind="StatefulSet"))),
        (
            "gateway api with mirror",
            _canary(
                lambda d: d["spec"].update(
                    provider="gatewayapi:v1",
                    service={
                        "port": 80,
                        "gatewayRefs": [{"name": "public", "namespace": "gateways"}],
                        "mirror": [{"backendRef": {"name": "shadow", "port": 80}}],
                    },
                )
            ),
        ),
        (
            "session affinity",
            _canary(
                lambda d: d["spec"]["analysis"].update(
                    sessionAffinity={"cookieName": "canary", "primaryCookieName": "primary", "sameSite": "Lax"}
                )
            ),
        ),
        (
            "whole-number floats",
            _canary(
                lambda d: (d["spec"]["service"].update(targetPort=9898.0), d["spec"]["analysis"].update(threshold=10.0))
            ),
        ),
        ("prometheus template", _template(type="prometheus", address="http://prometheus:9090")),
        *[
            (f"{kind} provider", _provider(kind, address="https://hooks.example.com/x"))
            for kind in ("slack", "msteams", "discord", "rocket", "gchat", "webhook", "alertmanager")
        ],
        ("provider from secret", _provider("slack", secretRef={"name": "slack-url"})),
    ]
    return cases


VALID = _valid()


@pytest.mark.parametrize("doc", [d for _, d in VALID], ids=[n for n, _ in VALID])
def test_valid_manifests_are_accepted_by_both(client: Client, doc: Doc) -> None:
    """Every manifest `serinus validate` passes, the API server with our CRDs accepts too."""
    assert check_object(doc).valid, [str(p) for p in check_object(doc).errors]
    assert _accepted(client, doc) is None


def _ab_with_empty_header(doc: Doc) -> None:
    analysis = doc["spec"]["analysis"]
    del analysis["stepWeight"], analysis["maxWeight"]
    analysis.update(iterations=5, match=[{"headers": {"x-canary": {}}}])


INVALID: list[tuple[str, Doc, str]] = [
    ("no targetRef", _canary(lambda d: d["spec"].pop("targetRef")), "spec.targetRef: is required"),
    ("unknown provider", _canary(lambda d: d["spec"].update(provider="envoy")), "spec.provider: must be one of"),
    (
        "interval in hours",
        _canary(lambda d: d["spec"]["analysis"].update(interval="1h")),
        "spec.analysis.interval: must be a duration starting with a number of minutes or seconds",
    ),
    (
        "two strategies",
        _canary(lambda d: d["spec"]["analysis"].update(iterations=5)),
        "spec.analysis: must set only one of iterations, stepWeight or stepWeights",
    ),
    (
        "no strategy",
        _canary(lambda d: d["spec"]["analysis"].pop("stepWeight")),
        "spec.analysis: must set one of iterations, stepWeight or stepWeights",
    ),
    ("no threshold", _canary(lambda d: d["spec"]["analysis"].pop("threshold")), "spec.analysis.threshold: is required"),
    (
        "port as text",
        _canary(lambda d: d["spec"]["service"].update(port="http")),
        "spec.service.port: must be a number",
    ),
    (
        "webhook type",
        _canary(lambda d: d["spec"]["analysis"]["webhooks"][0].update(type="pre")),
        "spec.analysis.webhooks[0].type: must be one of",
    ),
    (
        "two uri operators",
        _canary(lambda d: d["spec"]["service"]["match"][0]["uri"].update(exact="/")),
        "spec.service.match[0].uri: must set at most one of exact, prefix or regex",
    ),
    (
        "header without operator",
        _canary(_ab_with_empty_header),
        "spec.analysis.match[0].headers.x-canary: must set one of exact, prefix, suffix or regex",
    ),
    (
        "service mirror without port",
        _canary(lambda d: d["spec"]["service"].update(mirror=[{"backendRef": {"name": "shadow"}}])),
        "spec.service.mirror[0].backendRef: must have port",
    ),
    (
        "too many gatewayRefs",
        _canary(lambda d: d["spec"]["service"].update(gatewayRefs=[{"name": f"gw{i}"} for i in range(33)])),
        "spec.service.gatewayRefs: must have at most 32",
    ),
    (
        "scaler min replicas",
        _canary(lambda d: d["spec"]["autoscalerRef"].update(primaryScalerReplicas={"minReplicas": 0})),
        "spec.autoscalerRef.primaryScalerReplicas.minReplicas: must be",
    ),
    (
        "locality without algorithm",
        _canary(
            lambda d: d["spec"]["service"].update(
                trafficPolicy={"loadBalancer": {"localityLbSetting": {"enabled": True}}}
            )
        ),
        "spec.service.trafficPolicy.loadBalancer: must set one of simple or consistentHash",
    ),
    (
        "two hash keys",
        _canary(
            lambda d: d["spec"]["service"].update(
                trafficPolicy={"loadBalancer": {"consistentHash": {"httpHeaderName": "x", "useSourceIp": True}}}
            )
        ),
        "spec.service.trafficPolicy.loadBalancer.consistentHash: must set only one of httpHeaderName",
    ),
    (
        "targetPort as float",
        _canary(lambda d: d["spec"]["service"].update(targetPort=80.5)),
        "spec.service.targetPort: must be a whole number or a name",
    ),
    (
        "cookie without name",
        _canary(lambda d: d["spec"]["analysis"].update(sessionAffinity={"maxAge": 10})),
        "spec.analysis.sessionAffinity.cookieName: is required",
    ),
    ("suspend as text", _canary(lambda d: d["spec"].update(suspend="yes")), "spec.suspend: must be true or false"),
    (
        "template without query",
        {**_template(type="prometheus"), "spec": {"provider": {"type": "prometheus"}}},
        "spec.query: is required",
    ),
    ("template type", _template(type="skywalking"), "spec.provider.type: must be one of"),
    (
        "provider with address and secret",
        _provider("slack", address="https://h", secretRef={"name": "s"}),
        "spec: must set only one of address or secretRef",
    ),
    ("provider without address", _provider("slack"), "spec: must set one of address or secretRef"),
    ("provider type", _provider("pagerduty", address="https://h"), "spec.type: must be one of"),
]


@pytest.mark.parametrize(("doc", "message"), [(d, m) for _, d, m in INVALID], ids=[n for n, _, _ in INVALID])
def test_structurally_invalid_manifests_are_rejected_by_both(client: Client, doc: Doc, message: str) -> None:
    """The API server refuses the object (422 Invalid) and `serinus validate` names the same field."""
    err = _accepted(client, doc)
    assert err is not None
    assert err.status.code == 422, err
    errors = [str(p) for p in check_object(doc).errors]
    assert any(e.startswith(message) for e in errors), errors


def test_unknown_fields_are_pruned_where_validate_warns(client: Client) -> None:
    """A stored Canary loses exactly the fields `serinus validate` warned about, and gets the CRD defaults."""
    doc = _canary(
        lambda d: (
            d["spec"]["service"].update(portNmae="http"),
            d["spec"].update(
                provider="gatewayapi:v1", service={**d["spec"]["service"], "gatewayRefs": [{"name": "public"}]}
            ),
            d["spec"]["analysis"].update(sessionAffinity={"cookieName": "c"}),
        ),
        name="pruned",
    )
    warned = [p.where for p in check_object(doc).warnings if p.rule == "unknown-field"]
    assert warned == ["spec.service.portNmae"]
    client.create(codecs.from_dict(doc))
    try:
        stored = as_dict(client.get(resources.Canary, "pruned", namespace=NAMESPACE))
    finally:
        client.delete(resources.Canary, "pruned", namespace=NAMESPACE)
    assert "portNmae" not in stored["spec"]["service"]
    assert stored["spec"]["service"]["gatewayRefs"] == [
        {"name": "public", "group": "gateway.networking.k8s.io", "kind": "Gateway"}
    ]
    assert stored["spec"]["analysis"]["sessionAffinity"]["maxAge"] == 86400
    model = Canary.model_validate(stored)
    assert model.spec.service is not None
    assert model.spec.service.gateway_refs[0].group == "gateway.networking.k8s.io"


def test_kubectl_columns_are_flaggers(cluster: Cluster, client: Client) -> None:
    """The Table view of canaries has Flagger's columns (what `kubectl get canary -o wide` prints)."""
    ctx = ssl.create_default_context(cafile=str(cluster.plane.ca_file))
    req = urllib.request.Request(
        f"{cluster.server}/apis/flagger.app/v1beta1/namespaces/{NAMESPACE}/canaries",
        headers={
            "Authorization": f"Bearer {cluster.plane.token}",
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
    )
    with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
        table = json.loads(resp.read())
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Status",
        "Weight",
        "Suspended",
        "FailedChecks",
        "Interval",
        "Mirror",
        "StepWeight",
        "StepWeights",
        "MaxWeight",
        "LastTransitionTime",
    ]


def test_status_subresource_takes_a_status_the_model_writes(client: Client) -> None:
    """A status built by the model (phase, Promoted condition) is accepted by /status and reads back equal."""
    client.create(codecs.from_dict(_canary(name="with-status")))
    try:
        stored = Canary.model_validate(as_dict(client.get(resources.Canary, "with-status", namespace=NAMESPACE)))
        now = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
        stored.status.phase = CanaryPhase.INITIALIZED
        stored.status.conditions = make_promoted_conditions([], CanaryPhase.INITIALIZED, "Deployment", now) or []
        stored.status.last_transition_time = now
        client.patch(
            resources.Canary.Status,
            "with-status",
            {"status": stored.status.to_dict()},
            namespace=NAMESPACE,
            patch_type=PatchType.MERGE,
        )
        again = Canary.model_validate(as_dict(client.get(resources.Canary, "with-status", namespace=NAMESPACE)))
    finally:
        client.delete(resources.Canary, "with-status", namespace=NAMESPACE)
    assert again.status.phase is CanaryPhase.INITIALIZED
    assert again.status.conditions == stored.status.conditions
    assert again.status.last_transition_time == now
