"""CanaryActions on the real control plane, with real users (static tokens: alice holds the `abort` and `retry` verbs
on canaries, bob may create CanaryActions but holds no verb): the chart's ValidatingAdmissionPolicy refuses a forged
requestedBy or groups and a user without the verb; `serinus run` (as the chart's ServiceAccount) rejects a stale
revision, applies `abort` to a progressing release (rolled back) and `retry` to the failed revision without a change
to its spec (promoted), each with an Event, a ledger record and the outcome on the CanaryAction."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Namespace

from serinus.cli import main
from serinus.kube.resources import CanaryAction, CanaryRun
from tests.cluster.controlplane import Cluster
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.fields import meta

IMAGES = [f"ghcr.io/example/web:{n}.0" for n in range(1, 3)]
POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


def _rbac(ns: str) -> list[dict[str, Any]]:
    """alice: the abort and retry verbs on canaries; bob: CanaryActions only. Both read Canaries, actions and runs."""
    common = [
        {"apiGroups": ["flagger.app"], "resources": ["canaries"], "verbs": ["get", "list"]},
        {"apiGroups": ["serinus.io"], "resources": ["canaryactions"], "verbs": ["create", "get", "list"]},
        {"apiGroups": ["serinus.io"], "resources": ["canaryruns"], "verbs": ["get", "list"]},
    ]
    docs: list[dict[str, Any]] = []
    for user, extra in (("alice", ["abort", "retry"]), ("bob", [])):
        rules = common + ([{"apiGroups": ["flagger.app"], "resources": ["canaries"], "verbs": extra}] if extra else [])
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"actions-{user}", "namespace": ns},
                "rules": rules,
            }
        )
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"actions-{user}", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"actions-{user}"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            }
        )
    return docs


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    """A fresh namespace with Serinus's CRDs, the chart's admission policy, and alice's and bob's Roles."""
    cluster.install_serinus_crds()
    admin = cluster.client()
    for doc in cluster.helm_template():
        if doc["kind"] in POLICY_KINDS:
            admin.apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
    ns = f"actions-{uuid.uuid4().hex[:6]}"
    admin.create(Namespace(metadata=ObjectMeta(name=ns)))
    for doc in _rbac(ns):
        admin.create(codecs.from_dict(doc))
    wait_for(partial(_listable, cluster.client(namespace=ns)), "CanaryAction storage ready", timeout=60)
    # a new policy is enforced once the API server's policy informer has it: probe with a forged dry run
    wait_for(lambda: _refused(_user(cluster, "alice", ns), _forged(ns, "bob")), "policy enforced", timeout=60)
    return ns


def _listable(client: Client) -> bool:
    try:
        list(client.list(CanaryAction))
        list(client.list(CanaryRun))
    except ApiError:
        return False
    return True


def _user(cluster: Cluster, user: str, ns: str) -> Client:
    return Client(KubeConfig.from_file(cluster.user_kubeconfig(user)), namespace=ns)


def _forged(ns: str, requested_by: str, groups: list[str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "serinus.io/v1alpha1",
        "kind": "CanaryAction",
        "metadata": {"generateName": "web-abort-", "namespace": ns},
        "spec": {
            "canaryRef": {"name": "web"},
            "action": "abort",
            "revision": "x",
            "requestedBy": requested_by,
            "groups": groups if groups is not None else ["release-managers", "system:authenticated"],
            "reason": "forged",
        },
    }


def _refused(client: Client, doc: dict[str, Any]) -> str:
    """The API server's refusal of creating `doc` (dry run), or "" when it was accepted."""
    try:
        client.create(codecs.from_dict(doc), dry_run=True)
    except ApiError as err:
        return str(err.status.message or err)
    return ""


def _cli(cluster: Cluster, user: str, ns: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "-n", ns, "--kubeconfig", str(cluster.user_kubeconfig(user))])
    return result.exit_code, result.output


def _action_events(client: Client, reason: str) -> list[str]:
    return [e.message or "" for e in client.list(Event, fields={"involvedObject.kind": "Canary"}) if e.reason == reason]


def _ended(client: Client, name: str, result: str) -> bool:
    try:
        obj: Any = client.get(CanaryRun, name)
    except ApiError:
        return False
    return bool((obj.get("status") or {}).get("result") == result)


def test_admission_refuses_forged_identities_and_users_without_the_verb(cluster: Cluster, namespace: str) -> None:
    """alice cannot act as bob, nor claim a group she is not in; bob, without the verb, is refused with the verb
    named; alice's own action (the CLI stamps her identity) is admitted."""
    ns = namespace
    alice = _user(cluster, "alice", ns)
    code, out = _cli(cluster, "alice", ns, "abort", "web", "--reason", "no such canary")
    assert code == 1
    assert f"no canary web in namespace {ns}" in out
    cluster.client(namespace=ns).create(op.canary(ns))
    assert "spec.requestedBy must be the requester, alice" in _refused(alice, _forged(ns, "bob"))
    forged_groups = _forged(ns, "alice", ["release-managers", "system:authenticated", "system:masters"])
    assert "spec.groups must be the groups of the requester" in _refused(alice, forged_groups)
    assert _refused(alice, _forged(ns, "alice")) == ""

    code, out = _cli(cluster, "bob", ns, "abort", "web", "--reason", "I want to")
    assert code == 1
    assert "bob may not abort canary web" in out
    assert "RBAC verb abort on canaries.flagger.app" in out
    code, out = _cli(cluster, "alice", ns, "abort", "web", "--reason", "nothing to abort yet")
    assert code == 0, out
    assert out.startswith("canaryaction/web-abort-")
    (action,) = [a for a in alice.list(CanaryAction) if str(meta(a).name) in out]
    spec: Any = action["spec"]
    assert (spec["requestedBy"], spec["action"], spec["reason"]) == ("alice", "abort", "nothing to abort yet")
    assert set(spec["groups"]) == {"release-managers", "system:authenticated"}


def test_stale_abort_retry_on_a_real_release(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """A stale abort is Rejected and the release goes on; abort rolls it back (Failed, the primary still on the
    old image, the canary scaled to zero); retry, with no change to the Deployment, releases the same revision
    again and it is promoted. Each applied action is an ActionApplied Event and a ledger record."""
    ns, log = namespace, tmp_path / "operator.log"
    admin = cluster.client(namespace=ns)
    admin.create(codecs.from_dict(op.deployment(ns, IMAGES[0])))
    admin.create(op.canary(ns, analysis={"interval": "10s", "threshold": 2, "iterations": 6}))
    with op.running(cluster, ns, log):
        wait_for(lambda: op.phase(admin) == "Initialized", f"phase Initialized (log: {log})", timeout=90)
        admin.patch(
            Deployment, "web", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": IMAGES[1]}]}}}}
        )
        wait_for(lambda: op.phase(admin) == "Progressing", f"phase Progressing (log: {log})", timeout=90)

        code, out = _cli(
            cluster,
            "alice",
            ns,
            "abort",
            "web",
            "--revision",
            "deadbeef",
            "--reason",
            "old",
            "--wait",
            "--timeout",
            "60s",
        )
        assert code == 1, out
        assert "Rejected: stale: requested for revision deadbeef, the canary is at revision" in out
        assert op.phase(admin) == "Progressing"

        code, out = _cli(cluster, "alice", ns, "abort", "web", "--reason", "errors in the logs", "--wait")
        assert code == 0, out
        assert "Applied: applied to revision" in out
        wait_for(lambda: op.phase(admin) == "Failed", f"phase Failed after abort (log: {log})", timeout=60)
        template = admin.get(Deployment, "web").spec.template.to_dict()
        primary: Any = admin.get(Deployment, "web-primary")
        assert primary.spec.template.spec.containers[0].image == IMAGES[0]
        wait_for(lambda: admin.get(Deployment, "web").spec.replicas == 0, "canary scaled down", timeout=30)
        assert f"abort by alice: errors in the logs (web.{ns})" in _action_events(admin, "ActionApplied")
        assert any(m.startswith("abort by alice rejected: stale") for m in _action_events(admin, "ActionRejected"))
        wait_for(lambda: _ended(admin, "web-1", "Failed"), "run web-1 Failed", timeout=30)

        code, out = _cli(cluster, "alice", ns, "retry", "web", "--reason", "flaky dependency fixed", "--wait")
        assert code == 0, out
        wait_for(lambda: op.phase(admin) == "Succeeded", f"retried run Succeeded (log: {log})", timeout=180)
        primary = admin.get(Deployment, "web-primary")
        assert primary.spec.template.spec.containers[0].image == IMAGES[1]
        # the target's pod template is what it was when the run failed: the same revision, released again
        assert admin.get(Deployment, "web").spec.template.to_dict() == template
        assert f"retry by alice: flaky dependency fixed (web.{ns})" in _action_events(admin, "ActionApplied")

    wait_for(lambda: _ended(admin, "web-2", "Succeeded"), "run web-2 Succeeded", timeout=30)
    runs = {str(meta(r).name): r for r in admin.list(CanaryRun, labels={"serinus.io/canary": "web"})}
    first: Any = runs["web-1"]
    second: Any = runs["web-2"]
    assert first["spec"]["revision"] == second["spec"]["revision"]
    actions = [
        (rec["name"], rec["type"], rec["verdict"], rec["message"])
        for run in (first, second)
        for tick in run["status"]["ticks"]
        for rec in tick["records"]
        if rec["kind"] == "action"
    ]
    assert ("abort", "alice", "Applied", "errors in the logs") in actions
    code, text = _cli(cluster, "alice", ns, "ledger", "web-1")
    assert code == 0, text
    assert "action abort by alice Applied: errors in the logs" in text
    assert ("retry", "alice", "Applied", "flaky dependency fixed") in actions
    outcomes = sorted(str(a["status"]["phase"]) for a in admin.list(CanaryAction))
    assert outcomes == ["Applied", "Applied", "Rejected"]
