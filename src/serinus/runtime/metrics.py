"""The operator's Prometheus metrics, with Flagger's names, labels, types and meanings (subsystem `flagger`).

Dashboards and alert rules written for Flagger read these series unchanged. One addition:
`flagger_canary_metric_analysis_total{name,namespace,metric,result}` counts every metric check by outcome (a check
whose provider answered something unusable, or that raised, counts as failed). Serinus' own series are
`serinus_*`; `serinus_analysis_errors_total{name,namespace,reason}` counts what must never fail silently.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from serinus.engine.judge.types import TickResult, Verdict

# Flagger's Go client exports no `_created` series; neither do we.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: flagger_canary_status values
STATUS_PROGRESSING = 0
STATUS_OTHER = 1
STATUS_FAILED = 2


def status_value(phase: str) -> int:
    """Flagger's encoding of a phase for flagger_canary_status: 0 Progressing, 2 Failed, 1 anything else."""
    if phase == "Progressing":
        return STATUS_PROGRESSING
    if phase == "Failed":
        return STATUS_FAILED
    return STATUS_OTHER


class _CheckCounter(Collector):
    """flagger_canary_metric_analysis_total: its family name is the same as Flagger's gauge, so prometheus-client's
    duplicate check must be bypassed with a collector of our own (the exposition stays valid: the counter's family
    is `..._total`)."""

    LABELS = ("name", "namespace", "metric", "result")

    def __init__(self) -> None:
        self.counts: Tally[tuple[str, str, str, str]] = Tally()

    def inc(self, *labels: str) -> None:
        """Count one check."""
        self.counts[(labels[0], labels[1], labels[2], labels[3])] += 1

    def collect(self) -> Iterator[Metric]:
        """One counter family with a sample per label set."""
        family = CounterMetricFamily(
            "flagger_canary_metric_analysis", "Metric checks by outcome", labels=list(self.LABELS)
        )
        for labels, count in sorted(self.counts.items()):
            family.add_metric(list(labels), count)
        yield family

    def describe(self) -> list[Metric]:
        """Nothing to describe up front (this is what skips the duplicate-name check)."""
        return []


class ControllerMetrics:
    """Every series the operator exports, in one registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.info = Gauge(
            "flagger_info", "Flagger version and mesh provider information", ["version", "mesh_provider"], registry=r
        )
        self.total = Gauge("flagger_canary_total", "Total number of canary object", ["namespace"], registry=r)
        self.status = Gauge("flagger_canary_status", "Last canary analysis result", ["name", "namespace"], registry=r)
        self.weight = Gauge(
            "flagger_canary_weight",
            "The virtual service destination weight current value",
            ["workload", "namespace"],
            registry=r,
        )
        self.duration = Histogram(
            "flagger_canary_duration_seconds",
            "Seconds spent performing canary analysis.",
            ["name", "namespace"],
            registry=r,
        )
        self.analysis = Gauge(
            "flagger_canary_metric_analysis",
            "Last canary analysis result per metric",
            ["name", "namespace", "metric"],
            registry=r,
        )
        self.successes = Counter(
            "flagger_canary_successes",
            "Total number of canary successful promotions",
            ["name", "namespace", "deployment_strategy", "analysis_status"],
            registry=r,
        )
        self.failures = Counter(
            "flagger_canary_failures",
            "Total number of canary failures",
            ["name", "namespace", "deployment_strategy", "analysis_status"],
            registry=r,
        )
        self.alerts = Counter(
            "serinus_alerts",
            "Alerts handed to receivers, by receiver type and result (sent or failed)",
            ["type", "result"],
            registry=r,
        )
        self.checks = _CheckCounter()
        r.register(self.checks)
        self.errors = Counter(
            "serinus_analysis_errors",
            "Analysis steps or metric checks that failed unexpectedly, by reason (malformed_answer, metric_error, "
            "step_error, tick_error)",
            ["name", "namespace", "reason"],
            registry=r,
        )
        judge = ["name", "namespace", "metric", "test", "direction"]
        self.judge_evidence = Gauge(
            "serinus_judge_evidence",
            "Statistical judge: evidence (odds) for rollback "
            "(direction=fail) or promotion (direction=pass) of one metric's test",
            judge,
            registry=r,
        )
        self.judge_threshold = Gauge(
            "serinus_judge_threshold",
            "Statistical judge: the evidence (odds) a test must reach to decide",
            judge,
            registry=r,
        )
        self.judge_ratio = Gauge(
            "serinus_judge_ratio",
            "Statistical judge: estimated canary/primary ratio of one metric's bad-event rate (or value)",
            ["name", "namespace", "metric"],
            registry=r,
        )
        self.judge_verdict = Gauge(
            "serinus_judge_verdict",
            "Statistical judge: 1 for the verdict of the last tick, 0 for the others",
            ["name", "namespace", "verdict"],
            registry=r,
        )
        self.judge_predicted = Gauge(
            "serinus_judge_predicted_seconds",
            "Statistical judge: predicted time to a decision at current traffic while holding (0 when not holding)",
            ["name", "namespace"],
            registry=r,
        )

    def set_info(self, version: str, mesh_provider: str) -> None:
        """flagger_info{version, mesh_provider} = 1."""
        self.info.labels(version, mesh_provider).set(1)

    def set_total(self, namespace: str, count: int) -> None:
        """Number of Canaries in a namespace."""
        self.total.labels(namespace).set(count)

    def set_status(self, target: str, namespace: str, phase: str) -> None:
        """flagger_canary_status for a Canary, labelled by its target name as Flagger does."""
        self.status.labels(target, namespace).set(status_value(phase))

    def set_weight(self, target: str, namespace: str, primary: int, canary: int) -> None:
        """Two series: `<target>-primary` carries the primary weight, `<target>` the canary weight."""
        self.weight.labels(f"{target}-primary", namespace).set(primary)
        self.weight.labels(target, namespace).set(canary)

    def observe_duration(self, target: str, namespace: str, seconds: float) -> None:
        """Time spent in one analysis tick."""
        self.duration.labels(target, namespace).observe(seconds)

    def set_metric_value(self, target: str, namespace: str, metric: str, value: float, passed: bool) -> None:
        """Last value of one metric check, and the count of checks by result."""
        self.analysis.labels(target, namespace, metric).set(value)
        self.checks.inc(target, namespace, metric, "successful" if passed else "failed")

    def inc_success(self, target: str, namespace: str, strategy: str, skipped: bool = False) -> None:
        """A promotion; `analysis_status` is `skipped` when the analysis was skipped."""
        self.successes.labels(target, namespace, strategy, "skipped" if skipped else "completed").inc()

    def count_error(self, target: str, namespace: str, reason: str, metric: str = "") -> None:
        """serinus_analysis_errors_total{name, namespace, reason}; with `metric`, that metric's check is also
        counted as failed in flagger_canary_metric_analysis_total."""
        self.errors.labels(target, namespace, reason).inc()
        if metric:
            self.checks.inc(target, namespace, metric, "failed")

    def count_alert(self, receiver_type: str, sent: bool) -> None:
        """serinus_alerts_total{type, result}: a receiver took an alert, or failed to."""
        self.alerts.labels(receiver_type, "sent" if sent else "failed").inc()

    def set_judge(self, target: str, namespace: str, result: TickResult) -> None:
        """The serinus_judge_* series of one tick."""
        for verdict in Verdict:
            self.judge_verdict.labels(target, namespace, str(verdict)).set(1 if verdict is result.verdict else 0)
        self.judge_predicted.labels(target, namespace).set(result.predicted_s or 0)
        for line in result.lines:
            test = line.test or "test"
            self.judge_evidence.labels(target, namespace, line.metric, test, "fail").set(line.e_fail)
            self.judge_evidence.labels(target, namespace, line.metric, test, "pass").set(line.e_pass)
            self.judge_threshold.labels(target, namespace, line.metric, test, "fail").set(line.fail_threshold)
            self.judge_threshold.labels(target, namespace, line.metric, test, "pass").set(line.pass_threshold)
            if line.estimate is not None:
                self.judge_ratio.labels(target, namespace, line.metric).set(line.estimate)

    def inc_failure(self, target: str, namespace: str, strategy: str) -> None:
        """A rollback or a failed promotion."""
        self.failures.labels(target, namespace, strategy, "completed").inc()
