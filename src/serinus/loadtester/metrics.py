"""The load tester's Prometheus metrics: tasks started, failed, skipped, refused and running, by task type."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# No `_created` series, like the operator's /metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]


class LoadtesterMetrics:
    """Counters of one load tester, in a registry of its own (so several can live in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._started = Counter(
            "serinus_loadtester_tasks_started", "Commands started.", ["type"], registry=self.registry
        )
        self._failed = Counter(
            "serinus_loadtester_tasks_failed",
            "Commands that ended with a non-zero status, a signal, a timeout or could not start.",
            ["type"],
            registry=self.registry,
        )
        self._skipped = Counter(
            "serinus_loadtester_tasks_skipped",
            "cmd tasks not started because the same command for the same canary was still running.",
            ["type"],
            registry=self.registry,
        )
        self._refused = Counter(
            "serinus_loadtester_tasks_refused",
            "Tasks refused by --allow-command (reason not-allowed), --disable-bash (reason bash-disabled) or "
            "--max-concurrent-commands (reason too-many).",
            ["type", "reason"],
            registry=self.registry,
        )
        self._running = Gauge(
            "serinus_loadtester_tasks_running", "Commands running now.", ["type"], registry=self.registry
        )

    def started(self, task_type: str) -> None:
        """Count a command that starts now."""
        self._started.labels(task_type).inc()
        self._running.labels(task_type).inc()

    def ended(self, task_type: str, ok: bool) -> None:
        """Count a command that ended, failed unless ok."""
        self._running.labels(task_type).dec()
        if not ok:
            self._failed.labels(task_type).inc()

    def skipped(self, task_type: str) -> None:
        """Count a task skipped because it is already running."""
        self._skipped.labels(task_type).inc()

    def refused(self, task_type: str, reason: str) -> None:
        """Count a task the policy refused."""
        self._refused.labels(task_type, reason).inc()
