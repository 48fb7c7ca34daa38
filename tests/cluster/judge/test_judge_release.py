"""The statistical judge end to end: `serinus run` (istio router, real Prometheus) judges simulated istio traffic
by request counts, and does what Flagger's fixed thresholds cannot.

Each test runs its own namespace and operator process; a traffic thread plays the mesh (2000 RPS of counts split
by the weight Serinus writes on the VirtualService, fed to the exporter Prometheus scrapes every second).

* a 5x error regression that stays above Flagger's 99 % bound is rolled back by the judge (and, with the judge
  off, promoted: Flagger's behaviour);
* a good canary promotes through a shared incident that drags both versions below the bound;
* Prometheus going away freezes the release without failing it, and the release resumes when it is back.
"""

from __future__ import annotations

import importlib.util
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import Cluster
from tests.cluster.crds import install_istio
from tests.cluster.judge.promserver import RestartablePrometheus
from tests.cluster.judge.release import Release, flagger_success_rate, prom_query_range
from tests.cluster.runtime import operator_proc as op
from tests.cluster.runtime.test_release import namespace
from tests.integration.conftest import Prometheus
from tests.integration.exporter import ScenarioExporter

pytestmark = pytest.mark.cluster
__all__ = ["namespace"]
#: until the engine's judged step is committed ("engine: statistical judge"), the judge-on tests cannot run
needs_engine = pytest.mark.skipif(importlib.util.find_spec("serinus.engine.judged") is None,
                                  reason="the statistical judge's engine step (serinus.engine.judged) has not landed")

BASE_ERRORS = 0.001  # the primary's error rate: 0.1 %
REGRESSION = 0.005  # the canary's: 0.5 %, five times worse, yet a success rate of 99.5 % >= 99


@pytest.fixture
def istio(cluster: Cluster) -> None:
    """Istio's CRDs on the control plane."""
    install_istio(cluster)


@pytest.fixture
def own_prometheus(exporter: ScenarioExporter) -> Iterator[RestartablePrometheus]:
    """A Prometheus this test may stop and start again."""
    prom = RestartablePrometheus(exporter)
    prom.start()
    try:
        yield prom
    finally:
        prom.close()


def _flagger_checks(rel: Release, url: str, start: float, end: float, step: float = 5.0) -> list[float]:
    """The canary's success rate as Flagger's built-in check computes it (1m window), every `step` seconds."""
    return [v for _, v in prom_query_range(url, flagger_success_rate(rel.ns), start, end, step)]


def _judged(rel: Release) -> list[str]:
    return rel.matching(rf"Judged web\.{re.escape(rel.ns)}: ")


def _release_through(rel: Release, timeout: float = 300) -> str:
    rel.create()
    rel.start_operator()
    rel.initialize()
    rel.new_revision()
    return rel.finish(timeout)


@needs_engine
def test_judge_rolls_back_a_5x_error_regression_that_flagger_would_pass(
        cluster: Cluster, istio: None, namespace: str, tmp_path: Path, prometheus: Prometheus) -> None:
    """Primary 0.1 % errors, canary 0.5 %: the judge rolls back with a `Judged` event carrying the numbers, then
    Flagger's rollback path; the canary's own success rate stayed above 99 % (Flagger's bound) the whole time."""
    ns = namespace
    rel = Release(cluster, ns, tmp_path / "operator.log", prometheus.exporter, prometheus.url, seed=11)
    rel.driver.set_error_rates(canary=REGRESSION, primary=BASE_ERRORS)
    try:
        phase = _release_through(rel, timeout=240)
        rel.expect(phase == "Failed", f"the 5x regression ended {phase}, not Failed")
        judged = rel.wait(lambda: _judged(rel), "the Judged event", timeout=20)
        rel.expect(bool(re.search(r"\d", judged[0][len(f"Judged web.{ns}: "):])),
                   f"the Judged event carries no numbers: {judged[0]!r}")
        rel.expect(op.in_order(rel.events(), [judged[0], f"Canary failed! Scaling down web.{ns}"]),
                   "the Judged event, then Flagger's rollback event")
        rel.wait(lambda: rel.read_weight() == 0, "all traffic back on the primary", timeout=20)
        rel.sample()
        rel.expect(max(rel.seen.weights) > 0 and rel.seen.weights[-1] == 0,
                   f"the canary got traffic, then none: {rel.seen.weights}")
        judge = rel.status().get("judge") or {}
        rel.expect(judge.get("verdict") == "ROLLBACK", f"status.judge.verdict is {judge.get('verdict')!r}")
        rel.expect(not any(m.startswith(f"Copying web.{ns}") for m in rel.events()), "the canary was promoted")
        span = rel.driver.canary_span()
        assert span is not None
        rates = _flagger_checks(rel, prometheus.url, span[0] + 10, span[1])
        rel.expect(bool(rates) and all(not math.isnan(r) and r >= 99 for r in rates),
                   f"Flagger's request-success-rate check did not pass at every point of the analysis: {rates}")
        print(f"judged: {judged[0]}\nweights: {rel.seen.weights}\nFlagger's success rate: min {min(rates):.3f} "
              f"over {len(rates)} points\ntraffic: {rel.driver.summary()}")
    finally:
        rel.close()


def test_without_the_judge_the_same_regression_is_promoted(
        cluster: Cluster, istio: None, namespace: str, tmp_path: Path, prometheus: Prometheus) -> None:
    """The control: no judge block, Flagger's threshold rule, the same 5x regression ends Succeeded."""
    ns = namespace
    rel = Release(cluster, ns, tmp_path / "operator.log", prometheus.exporter, prometheus.url, seed=11, judge=None)
    rel.driver.set_error_rates(canary=REGRESSION, primary=BASE_ERRORS)
    try:
        phase = _release_through(rel, timeout=240)
        rel.expect(phase == "Succeeded", f"without the judge the regression ended {phase}, not Succeeded")
        rel.expect(not _judged(rel), "a Judged event without the judge")
        rel.expect(any(m == f"Copying web.{ns} template spec to web-primary.{ns}" for m in rel.events()),
                   "no promotion event")
        rel.expect(50 in rel.seen.weights, f"the canary never reached maxWeight: {rel.seen.weights}")
        rel.expect(not rel.status().get("judge"), "status.judge set without the judge")
        print(f"weights: {rel.seen.weights}\ntraffic: {rel.driver.summary()}")
    finally:
        rel.close()


@needs_engine
def test_judge_promotes_a_good_canary_through_a_shared_incident(
        cluster: Cluster, istio: None, namespace: str, tmp_path: Path, prometheus: Prometheus) -> None:
    """Both versions at 0.1 %, then both at 5 % for 60 s once the canary has 20 %: Flagger's check fails for more
    than `threshold` intervals, the judge (which compares the two) never fails a check and promotes."""
    ns = namespace
    rel = Release(cluster, ns, tmp_path / "operator.log", prometheus.exporter, prometheus.url, seed=23)
    rel.driver.set_error_rates(canary=BASE_ERRORS, primary=BASE_ERRORS)
    try:
        rel.create()
        rel.start_operator()
        rel.initialize()
        rel.new_revision()
        rel.wait(lambda: rel.driver.current_weight() >= 20, "the canary at 20 %", timeout=120)
        rel.expect(rel.phase() == "Progressing", f"the release is {rel.phase()} before the incident")
        incident_start = time.time()
        rel.driver.set_error_rates(canary=0.05, primary=0.05)
        rel.wait(lambda: time.time() >= incident_start + 60, "the end of the incident", timeout=90)
        rel.driver.set_error_rates(canary=BASE_ERRORS, primary=BASE_ERRORS)
        incident_end = time.time()
        phase = rel.finish(timeout=300)
        rel.expect(phase == "Succeeded", f"the good canary ended {phase}, not Succeeded")
        rel.expect(not _judged(rel), f"the judge rolled back a good canary: {_judged(rel)}")
        rel.expect(rel.seen.failed_checks == {0}, f"failedChecks went {sorted(rel.seen.failed_checks)}")
        rel.expect(any(m == f"Copying web.{ns} template spec to web-primary.{ns}" for m in rel.events()),
                   "no promotion event")
        rates = _flagger_checks(rel, prometheus.url, incident_start, incident_end + 60, step=10)
        below = [r for r in rates if not math.isnan(r) and r < 99]
        rel.expect(len(below) >= 5, f"Flagger's check (every 10 s) fell below 99 only {len(below)} times: {rates}")
        halts = [m for m in rel.event_counts() if m.startswith(f"Halt web.{ns} advancement")]
        print(f"weights: {rel.seen.weights}\nverdicts: {rel.seen.verdicts}\nhalts: {halts}\n"
              f"Flagger's success rate during the incident (10 s steps): {[round(r, 2) for r in rates]}\n"
              f"traffic: {rel.driver.summary()}")
    finally:
        rel.close()


@needs_engine
def test_judge_freezes_while_prometheus_is_down_and_resumes(
        cluster: Cluster, istio: None, namespace: str, tmp_path: Path, exporter: ScenarioExporter,
        own_prometheus: RestartablePrometheus) -> None:
    """Prometheus stops once the canary has 20 %: FREEZE events, the weight stays, failedChecks stays 0; Prometheus
    comes back (same port, same storage) and the release carries on to Succeeded."""
    ns = namespace
    prom = own_prometheus
    rel = Release(cluster, ns, tmp_path / "operator.log", exporter, prom.url, seed=37)
    rel.driver.set_error_rates(canary=BASE_ERRORS, primary=BASE_ERRORS)
    frozen = f"Halt web.{ns} advancement, judge frozen: "

    def freezes() -> int:
        return sum(n for m, n in rel.event_counts().items() if m.startswith(frozen))

    try:
        rel.create()
        rel.start_operator()
        rel.initialize()
        rel.new_revision()
        rel.wait(lambda: rel.driver.current_weight() >= 20, "the canary at 20 %", timeout=120)
        prom.stop()
        rel.wait(lambda: freezes() >= 1, "a FREEZE event", timeout=40)
        held = rel.read_weight() or 0
        weights_at_freeze = len(rel.seen.weights)
        rel.wait(lambda: freezes() >= 3, "three FREEZE events", timeout=60)
        rel.sample()
        during = rel.seen.weights[weights_at_freeze - 1:]
        rel.expect(during == [held], f"the weight moved while frozen: {during} (held {held})")
        rel.expect(rel.seen.failed_checks == {0}, f"failedChecks went {sorted(rel.seen.failed_checks)}")
        rel.expect(rel.phase() == "Progressing", f"frozen, the release is {rel.phase()}")
        judge = rel.status().get("judge") or {}
        rel.expect(judge.get("verdict") == "FREEZE", f"status.judge.verdict is {judge.get('verdict')!r} while down")
        freeze_messages = [m for m in rel.event_counts() if m.startswith(frozen)]
        prom.start()
        phase = rel.finish(timeout=300)
        rel.expect(phase == "Succeeded", f"after the outage the release ended {phase}, not Succeeded")
        rel.expect(rel.seen.failed_checks == {0}, f"failedChecks went {sorted(rel.seen.failed_checks)}")
        rel.expect(not _judged(rel), f"the judge rolled back: {_judged(rel)}")
        rel.expect(max(rel.seen.weights) > held, f"no advance after the outage: {rel.seen.weights}")
        print(f"held at {held}\nweights: {rel.seen.weights}\nverdicts: {rel.seen.verdicts}\n"
              f"freeze events: {freeze_messages}\ntraffic: {rel.driver.summary()}")
    finally:
        rel.close()
