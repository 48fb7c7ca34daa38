"""The statistical judge with only Flagger's own CRDs installed (its module's artifacts/flagger/crd.yaml, no
CanaryRun) and the judge turned on by the `serinus.io/judge` annotation.

Flagger's Canary status schema declares its fields and preserves no others, so the API server prunes `status.judge`
from every status write (the first test shows it). Serinus keeps the judge's status in a ConfigMap owned by the
Canary instead; these tests show that it survives every status write, goes with the Canary, and that the judged
releases of `test_judge_release.py` (same scenarios, same seeds) end with the same verdicts as under Serinus's CRDs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient, Client, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import ConfigMap, Namespace

from serinus.api.judge import JudgeStatus
from serinus.api.status import CanaryPhase
from serinus.engine.status import with_judge, with_phase, with_weight
from serinus.kube.judgestate import DATA_KEY, config_map_name
from serinus.kube.resources import Canary, CanaryRun
from serinus.kube.store import KubeStore
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import install_istio
from tests.cluster.judge.release import IMAGE_1, Release, flagger_success_rate, prom_query_at
from tests.cluster.runtime import operator_proc as op
from tests.cluster.waiting import wait_for
from tests.integration.conftest import Prometheus

pytestmark = pytest.mark.cluster

BASE_ERRORS = 0.001  # as in test_judge_release.py
REGRESSION = 0.005
#: the judge block of test_judge_release.py, as the annotation Flagger ignores
ANNOTATION = {"serinus.io/judge": "mode: statistical\nmaxHold: 3m\n"}
JUDGE = {
    "verdict": "HOLD",
    "reason": "≈ 480 more canary requests (≈ 32 min at current traffic) to certify success rate ≥ 99 %",
    "metrics": [{"metric": "request-success-rate", "verdict": "HOLD", "reason": "thin", "eFail": 0.5}],
    "run": "5d8f7b9c6/",
    "lastAt": 1767225900.0,
    "frozenTicks": 0,
    "state": {"v": 1, "w": 10, "hs": 1767225900.0, "fz": None, "fl": [0, 6, 5, 1], "m": {}},
    "ledger": [{"at": 1767225900.0, "metric": "request-success-rate", "verdict": "HOLD"}],
}


def _pruning_schema_served(client: Client, ns: str) -> bool:
    """Whether the API server now serves Flagger's schema: a dry-run Canary loses Serinus's `judge` field."""
    probe = op.canary(
        ns,
        name="schema-probe",
        analysis={"interval": "1m", "threshold": 1, "iterations": 1, "judge": {"mode": "statistical"}},
    )
    try:
        created: Any = client.create(probe, dry_run=True)
    except ApiError:
        return False
    return "judge" not in (created.to_dict()["spec"].get("analysis") or {})


def _no_canary_runs(client: Client) -> bool:
    try:
        client.get(CustomResourceDefinition, "canaryruns.serinus.io")
    except ApiError as err:
        return err.status.code == 404
    return False


def _canary_runs_listable(client: Client) -> bool:
    try:
        list(client.list(CanaryRun, namespace="default"))
    except ApiError:
        return False
    return True


@pytest.fixture
def flagger_namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace on a control plane with only Flagger's own CRDs (Serinus's CanaryRun CRD removed). When
    Serinus's CRDs were installed before, they are again afterwards, CanaryRun storage ready, so that the tests that
    follow find the cluster as they would have."""
    client = cluster.client()
    had_serinus_crds = not _no_canary_runs(client)
    cluster.install_flagger_crds()
    try:
        client.delete(CustomResourceDefinition, "canaryruns.serinus.io")
    except ApiError as err:
        if err.status.code != 404:
            raise
    wait_for(partial(_no_canary_runs, client), "the CanaryRun CRD gone", timeout=60)
    ns = f"fj-{uuid.uuid4().hex[:6]}"
    client.create(Namespace(metadata=ObjectMeta(name=ns)))
    wait_for(partial(_pruning_schema_served, cluster.client(namespace=ns), ns), "Flagger's schema served", 30)
    yield ns
    if had_serinus_crds:
        cluster.install_serinus_crds()
        # a CRD just Established may answer 429 "storage is (re)initializing" for a moment
        wait_for(partial(_canary_runs_listable, client), "CanaryRun storage ready", timeout=60)


def _annotated_canary(ns: str, analysis: dict[str, Any], provider: str = "kubernetes") -> Any:
    """Canary `web` with the judge given as the `serinus.io/judge` annotation, not as a spec field."""
    canary = op.canary(ns, provider=provider, analysis=analysis)
    raw = canary.to_dict()
    raw["metadata"]["annotations"] = dict(ANNOTATION)
    return Canary.from_dict(raw)


def _kept_judge(client: Client) -> dict[str, Any] | None:
    """The judge status Serinus keeps beside Canary `web` (None: no ConfigMap, or an empty one)."""
    try:
        cm: Any = client.get(ConfigMap, config_map_name("web"))
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise
    text = (cm.data or {}).get(DATA_KEY)
    return json.loads(text) if text else None


# --- the schema, and the store on it -------------------------------------------------------------------------------


def test_flaggers_canary_schema_prunes_status_judge(cluster: Cluster, flagger_namespace: str) -> None:
    """Under Flagger's CRD a status write carrying `judge` is accepted, but the API server drops `judge` and keeps
    Flagger's fields: the reason the judge cannot keep its evidence in status.judge there."""
    client = cluster.client(namespace=flagger_namespace)
    client.create(_annotated_canary(flagger_namespace, {"interval": "10s", "threshold": 2, "iterations": 2}))
    found: Any = client.get(Canary, "web")
    raw: dict[str, Any] = found.to_dict()
    raw["status"] = {"phase": "Initializing", "failedChecks": 0, "canaryWeight": 0, "judge": JUDGE}
    written: dict[str, Any] = client.replace(Canary.Status.from_dict(raw), "web").to_dict()
    stored = op.status(client)
    assert "judge" not in written["status"], written["status"]
    assert "judge" not in stored, stored
    assert stored["phase"] == "Initializing"


async def _store_writes(cluster: Cluster, ns: str) -> tuple[list[Any], dict[str, Any]]:
    """Through KubeStore on the real API server: the judge's status, then Flagger's weight and phase writes, each in
    its own tick; what each tick then read as status.judge, and the Canary's stored status."""
    client = AsyncClient(KubeConfig.from_file(cluster.kubeconfig), namespace=ns)
    try:
        store = KubeStore(client)
        judge = JudgeStatus.model_validate(JUDGE)
        at = dt.datetime.now(dt.UTC)
        seen = []
        for change in (
            lambda c: with_judge(c, judge),
            lambda c: with_weight(c, 20, at),
            lambda c: with_phase(c, CanaryPhase.PROGRESSING, at),
            lambda c: with_weight(c, 30, at),
        ):
            with store.one_read():
                await store.update_status("web", ns, change)
            canary = await store.get("web", ns)
            assert canary is not None
            seen.append(canary.status.judge)
        stored: Any = await client.get(Canary, "web", namespace=ns)
        return seen, dict(stored.to_dict()["status"])
    finally:
        await client.close()


def test_the_judge_status_survives_every_status_write(cluster: Cluster, flagger_namespace: str) -> None:
    """Written once, the judge's status reads back identical after each of Flagger's status writes that follow
    (weight, phase, weight), kept in a ConfigMap owned by the Canary, which goes when the Canary is deleted;
    Flagger's status fields on the Canary are exactly Flagger's."""
    ns = flagger_namespace
    client = cluster.client(namespace=ns)
    client.create(_annotated_canary(ns, {"interval": "10s", "threshold": 2, "maxWeight": 50, "stepWeight": 10}))
    seen, stored = asyncio.run(_store_writes(cluster, ns))
    want = JudgeStatus.model_validate(JUDGE).model_dump(by_alias=True, exclude_none=True, mode="json")
    for i, judge in enumerate(seen):
        assert judge is not None, f"status.judge lost after write {i}"
        assert judge.model_dump(by_alias=True, exclude_none=True, mode="json") == want, f"changed after write {i}"
    assert "judge" not in stored, stored
    assert (stored["canaryWeight"], stored["phase"]) == (30, "Progressing")
    assert _kept_judge(client) == want
    cm: Any = client.get(ConfigMap, config_map_name("web"))
    canary: Any = client.get(Canary, "web")
    uid = canary.to_dict()["metadata"]["uid"]
    assert [(r.kind, r.name, r.uid) for r in cm.metadata.ownerReferences] == [("Canary", "web", uid)]
    client.delete(Canary, "web")

    def gone() -> bool:
        try:
            client.get(ConfigMap, config_map_name("web"))
        except ApiError as err:
            return err.status.code == 404
        return False

    wait_for(gone, "the judge's ConfigMap deleted with the Canary", timeout=60)


# --- judged releases, as in test_judge_release.py ----------------------------------------------------------------


class AnnotatedRelease(Release):
    """test_judge_release.py's istio release, with the judge given as the annotation and observed where Serinus
    keeps it under Flagger's CRD."""

    def create(self) -> None:
        """The target Deployment and the annotated Canary; traffic starts."""
        self.client.create(codecs.from_dict(op.deployment(self.ns, IMAGE_1)))
        self.client.create(_annotated_canary(self.ns, self.spec_analysis, provider="istio"))
        self.driver.start()

    def status(self) -> dict[str, Any]:
        """The Canary's status, with the kept judge status as `judge` (what the test samples and reports)."""
        status = op.status(self.client)
        judge = _kept_judge(self.client)
        if judge is not None:
            status["judge"] = judge
        return status


def _release(cluster: Cluster, ns: str, tmp_path: Path, prometheus: Prometheus, seed: int) -> AnnotatedRelease:
    install_istio(cluster)
    return AnnotatedRelease(
        cluster, ns, tmp_path / "operator.log", prometheus.exporter, prometheus.url, seed=seed, judge=None
    )


def _metric_evidence(judge: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(m["metric"]): m for m in judge.get("metrics") or [] if isinstance(m, dict)}


def _intervals(judge: dict[str, Any]) -> int:
    """How many judged intervals the kept ledger spans (reset to one if the state were lost between steps)."""
    return len({line.get("at") for line in judge.get("ledger") or []})


def test_under_flaggers_crds_the_judge_rolls_back_the_5x_regression(
    cluster: Cluster, flagger_namespace: str, tmp_path: Path, prometheus: Prometheus
) -> None:
    """Primary 0.1 %, canary 0.5 % (seed 11): as under Serinus's CRDs, a `Judged` rollback with the evidence, then
    Flagger's rollback path; the evidence built up over several intervals; Flagger's check, at the analysis steps,
    failed fewer than `threshold` times (test_judge_release.py checks it at every second)."""
    ns = flagger_namespace
    rel = _release(cluster, ns, tmp_path, prometheus, seed=11)
    rel.driver.set_error_rates(canary=REGRESSION, primary=BASE_ERRORS)
    try:
        rel.create()
        rel.start_operator()
        rel.initialize()
        rel.new_revision()
        phase = rel.finish(timeout=240)
        rel.expect(phase == "Failed", f"the 5x regression ended {phase}, not Failed")
        judged = rel.wait(lambda: rel.matching(rf"Judged web\.{re.escape(ns)}: "), "the Judged event", timeout=20)
        rel.expect(
            op.in_order(rel.events(), [judged[0], f"Canary failed! Scaling down web.{ns}"]),
            "the Judged event, then Flagger's rollback event",
        )
        rel.expect("judge" not in op.status(rel.client), "status.judge on the Canary under Flagger's CRD")
        judge = _kept_judge(rel.client) or {}
        rel.expect(judge.get("verdict") == "ROLLBACK", f"the kept judge verdict is {judge.get('verdict')!r}")
        errors = _metric_evidence(judge).get("request-success-rate", {})
        rel.expect(
            errors.get("verdict") == "ROLLBACK" and errors.get("eFail", 0) >= errors.get("failThreshold", 1e9),
            f"no rollback evidence on request-success-rate: {errors}",
        )
        rel.expect(_intervals(judge) >= 2, f"the evidence spans {_intervals(judge)} interval(s): {judge.get('ledger')}")
        rel.expect(not any(m.startswith(f"Copying web.{ns}") for m in rel.events()), "the canary was promoted")
        # Flagger's check (the canary's own success rate over 1m) just before each analysis step that moved the
        # weight, the rollback's included: failing fewer than `threshold` (5) times, it would not have rolled back
        steps = [at for at, old, _ in rel.driver.weight_changes() if old > 0]
        rates = [prom_query_at(prometheus.url, flagger_success_rate(ns), at - 1) for at in steps]
        below = [r for r in rates if not math.isnan(r) and r < 99]
        rel.expect(bool(rates) and len(below) < 5, f"Flagger's check would have rolled back too: {rates}")
        print(f"judged: {judged[0]}\nweights: {rel.seen.weights}\nverdicts: {rel.seen.verdicts}")
        print(f"intervals in the kept ledger: {_intervals(judge)}; kept JSON: {len(json.dumps(judge))} bytes")
        print(f"traffic: {rel.driver.summary()}")
    finally:
        rel.close()


def test_under_flaggers_crds_the_judge_promotes_through_a_shared_incident(
    cluster: Cluster, flagger_namespace: str, tmp_path: Path, prometheus: Prometheus
) -> None:
    """Both versions at 0.1 %, both at 5 % for 60 s from the canary's first step (seed 23): as under Serinus's
    CRDs, no failed check, PROMOTE on both metrics, Succeeded, though Flagger's own check fails at 5+ steps."""
    ns = flagger_namespace
    rel = _release(cluster, ns, tmp_path, prometheus, seed=23)
    rel.driver.set_error_rates(canary=BASE_ERRORS, primary=BASE_ERRORS)
    try:
        rel.create()
        rel.start_operator()
        rel.initialize()
        rel.new_revision()
        rel.wait(lambda: rel.driver.current_weight() >= 10, "the canary's first step", timeout=120)
        incident_start = time.time()
        rel.driver.set_error_rates(canary=0.05, primary=0.05)
        rel.wait(lambda: time.time() >= incident_start + 60, "the end of the incident", timeout=90)
        rel.driver.set_error_rates(canary=BASE_ERRORS, primary=BASE_ERRORS)
        phase = rel.finish(timeout=300)
        rel.expect(phase == "Succeeded", f"the good canary ended {phase}, not Succeeded")
        rel.expect(not rel.matching(rf"Judged web\.{re.escape(ns)}: "), "the judge rolled back a good canary")
        rel.expect(rel.seen.failed_checks == {0}, f"failedChecks went {sorted(rel.seen.failed_checks)}")
        rel.expect(50 in rel.seen.weights, f"the canary never reached maxWeight: {rel.seen.weights}")
        rel.expect("judge" not in op.status(rel.client), "status.judge on the Canary under Flagger's CRD")
        judge = _kept_judge(rel.client) or {}
        rel.expect(judge.get("verdict") == "PROMOTE", f"the kept judge verdict is {judge.get('verdict')!r}")
        for metric in ("request-success-rate", "request-duration"):
            line = _metric_evidence(judge).get(metric, {})
            rel.expect(line.get("verdict") == "PROMOTE", f"no promotion verdict on {metric}: {line}")
        rel.expect(_intervals(judge) >= 2, f"the evidence spans {_intervals(judge)} interval(s)")
        steps = [at for at, old, _ in rel.driver.weight_changes() if old > 0 and at > incident_start]
        rates = [prom_query_at(prometheus.url, flagger_success_rate(ns), at - 1) for at in steps]
        below = [r for r in rates if not math.isnan(r) and r < 99]
        rel.expect(len(below) >= 5, f"Flagger's check fell below 99 at only {len(below)} steps: {rates}")
        print(f"weights: {rel.seen.weights}\nverdicts: {rel.seen.verdicts}\nreason: {judge.get('reason')}")
        print(f"intervals in the kept ledger: {_intervals(judge)}; kept JSON: {len(json.dumps(judge))} bytes")
        print(f"traffic: {rel.driver.summary()}")
    finally:
        rel.close()
