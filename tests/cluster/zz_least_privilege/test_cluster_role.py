"""Least privilege, proven: the chart's ClusterRole grants exactly what `serinus run` used.

Every operator the cluster tests start runs with a token of the chart's ServiceAccount
(`Cluster.operator_kubeconfig`), and the API server audits every request made with ServiceAccount credentials.
This module runs last (the `zz_` directory sorts after the others). It fails when the operator was refused a
request (403), when a request was allowed by something other than the ClusterRole, or when the ClusterRole
grants a verb on a resource that no release used. Run it with the whole cluster tier: on its own it has nothing to
compare and says so.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import CHART, OPERATOR_NAMESPACE, Cluster

pytestmark = pytest.mark.cluster

RULES = CHART / "files" / "rules.yaml"  # the ClusterRole's rules (the leader-election Role is in templates/rbac.yaml)
#: The modules whose releases exercise the operator's permissions; all must have run in this session.
RELEASE_MODULES = (
    "runtime/test_release.py",
    "runtime/test_release_meshes.py",
    "runtime/test_release_knative.py",
    "metrics/test_operator_metrics.py",
    "runtime/test_ledger.py",  # the only release that prunes CanaryRuns (delete on canaryruns)
    "runtime/test_actions.py",  # the only release that settles CanaryActions (patch on canaryactions/status)
)
#: Grants no test can exercise here, each with the reason.
UNEXERCISED = {
    (
        "external.metrics.k8s.io",
        "*",
        "list",
    ): "the externalmetrics provider reads through an external-metrics adapter (KEDA, Datadog, the Prometheus "
    "adapter), which cannot be registered with this API server (it needs a routable Service)",
    ("", "pods", "list"): "listed only while a canary is not ready, to name the kubelet's reason (an image not "
    "present, a crash loop); kwok's pods are ready once scheduled and the operator waits for the rollout before its "
    "next step, so no release here may need it. tests/node/test_canary_failures.py proves it on the real node (a "
    "refused list leaves its CanaryPodsFailing event out and fails that test)",
}
Triple = tuple[str, str, str]


def granted(cluster: Cluster) -> set[Triple]:
    """(apiGroup, resource, verb) for every rule of the rendered chart's ClusterRole and leader-election Role."""
    out = set()
    for doc in cluster.helm_template("--set", "leaderElection.enabled=true"):
        if doc["kind"] in ("ClusterRole", "Role"):
            for rule in doc["rules"]:
                out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return out


def audited(path: Path, user: str) -> Iterator[tuple[Triple, int, str, float]]:
    """(triple, HTTP code, URI, wall-clock time received) of each completed resource request `user` made."""
    for line in path.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef")
        if event.get("stage") != "ResponseComplete" or event["user"]["username"] != user or not ref:
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        received = dt.datetime.fromisoformat(event["requestReceivedTimestamp"]).timestamp()
        triple = (ref.get("apiGroup", ""), resource, event["verb"])
        yield triple, event["responseStatus"]["code"], event["requestURI"], received


def restarting(cluster: Cluster, at: float) -> bool:
    """Whether `at` falls in a restart of kube-apiserver (the chaos tests): until /readyz, a restarted API server
    refuses what its RBAC caches, not yet filled, do not show."""
    return any(start <= at <= end for start, end in cluster.plane.api_restarts)


def covers(rules: set[Triple], triple: Triple) -> bool:
    """Whether a rule grants the request (a `*` resource covers every resource of its group)."""
    group, resource, verb = triple
    return (group, resource, verb) in rules or (group, "*", verb) in rules


def test_the_cluster_role_is_exactly_what_the_operator_used(cluster: Cluster, request: pytest.FixtureRequest) -> None:
    """No refusal, no request beyond the ClusterRole, and no grant that no release used."""
    cluster_dir = Path(__file__).parents[1]
    ran = {
        str(Path(item.path).relative_to(cluster_dir))
        for item in request.session.items
        if Path(item.path).is_relative_to(cluster_dir)
    }
    missing = [m for m in RELEASE_MODULES if m not in ran]
    if missing:
        pytest.skip(f"needs the whole cluster tier in one session; not collected: {', '.join(missing)}")
    user = f"system:serviceaccount:{OPERATOR_NAMESPACE}:serinus"
    rules = granted(cluster)
    requests = list(audited(cluster.audit_log, user))
    assert requests, f"no request by {user} in {cluster.audit_log}"
    refused = sorted({f"{t} {uri}" for t, code, uri, at in requests if code == 403 and not restarting(cluster, at)})
    assert refused == [], "the operator was refused (its ClusterRole lacks these):\n" + "\n".join(refused)
    beyond = sorted({t for t, _, _, _ in requests if not covers(rules, t)})
    assert beyond == [], f"allowed by something other than the ClusterRole: {beyond}"
    used = {t for t, _, _, _ in requests}
    unused = sorted(
        r
        for r in rules - set(UNEXERCISED)
        if r not in used and not (r[1] == "*" and any(u[0] == r[0] and u[2] == r[2] for u in used))
    )
    assert unused == [], f"granted but never used by any release (remove them from {RULES.name}): {unused}"
