"""One istio release under `serinus run` with simulated traffic, observed the way a user would: events, phase,
the VirtualService's weights, failedChecks and status.judge, sampled while it runs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from lightkube import ApiError, codecs
from lightkube.resources.apps_v1 import Deployment

from tests.cluster.controlplane import Cluster
from tests.cluster.judge.traffic import SimTraffic, TrafficDriver, virtual_service_weight
from tests.cluster.runtime import operator_proc as op
from tests.integration.exporter import ScenarioExporter

IMAGE_1, IMAGE_2 = "ghcr.io/example/web:1.0", "ghcr.io/example/web:2.0"
TOTAL_RPS = 2000.0
#: the built-in metrics with Flagger's usual bounds; Flagger evaluates them over their own 1m window
METRICS = [
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
    {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
]
JUDGE = {"mode": "statistical", "maxHold": "3m"}


def analysis(judge: dict[str, Any] | None = JUDGE, step_weight: int = 10) -> dict[str, Any]:
    """The analysis every judge test uses: 10 s interval, steps to 50, threshold 5, both built-ins."""
    out: dict[str, Any] = {
        "interval": "10s",
        "threshold": 5,
        "stepWeight": step_weight,
        "maxWeight": 50,
        "metrics": METRICS,
    }
    if judge is not None:
        out["judge"] = judge
    return out


@dataclass
class Observed:
    """What the test saw while the release ran (sampled every half second)."""

    weights: list[int] = field(default_factory=list)  # distinct canary weights in order
    failed_checks: set[int] = field(default_factory=set)
    verdicts: list[str] = field(default_factory=list)  # distinct status.judge verdicts in order
    judges: list[dict[str, Any]] = field(default_factory=list)  # distinct status.judge values in order

    def add(self, weight: int | None, status: dict[str, Any]) -> None:
        if weight is not None and (not self.weights or self.weights[-1] != weight):
            self.weights.append(weight)
        self.failed_checks.add(int(status.get("failedChecks") or 0))
        judge = status.get("judge")
        if judge:
            if not self.judges or self.judges[-1] != judge:
                self.judges.append(judge)
            verdict = str(judge.get("verdict") or "")
            if verdict and (not self.verdicts or self.verdicts[-1] != verdict):
                self.verdicts.append(verdict)


class Release:
    """A Canary `web` (istio provider) in `ns`, its traffic driver and its operator process."""

    def __init__(
        self,
        cluster: Cluster,
        ns: str,
        log: Path,
        exporter: ScenarioExporter,
        metrics_server: str,
        seed: int,
        judge: dict[str, Any] | None = JUDGE,
        step_weight: int = 10,
    ) -> None:
        self.cluster, self.ns, self.log, self.metrics_server = cluster, ns, log, metrics_server
        self.client = cluster.client(namespace=ns)
        plane = cluster.plane
        self.read_weight = virtual_service_weight(plane.server, plane.token, str(plane.ca_file), ns)
        self.driver = TrafficDriver(exporter, ns, self.read_weight, SimTraffic(TOTAL_RPS, seed))
        self.spec_analysis = analysis(judge, step_weight)
        self.seen = Observed()
        self.proc: Any = None
        self.started_at = 0.0  # driver time of the image change

    # --- what a user looks at -------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return op.status(self.client)

    def phase(self) -> str:
        return op.phase(self.client)

    def events(self) -> list[str]:
        return op.events(self.client)

    def event_counts(self) -> dict[str, int]:
        return op.event_counts(self.client)

    def matching(self, pattern: str) -> list[str]:
        """Event messages matching a regular expression (from the start)."""
        rx = re.compile(pattern)
        return [m for m in self.events() if rx.match(m)]

    def sample(self) -> None:
        """Record the weight, failedChecks and status.judge now."""
        try:
            weight = self.read_weight()
            status = self.status()
        except (ApiError, httpx2.HTTPError):
            return
        self.seen.add(weight, status)

    def diagnostics(self) -> str:
        """Everything needed to understand a failure: operator log tail, events, status, traffic per weight."""
        try:
            log_tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-60:])
        except OSError:
            log_tail = "(no log)"
        try:
            events = "\n".join(f"  {n}x {m}" for m, n in self.event_counts().items())
            status = self.status()
        except ApiError as err:
            events, status = f"(unreadable: {err})", {}
        judge = status.pop("judge", None)
        return (
            f"\n--- operator log tail ({self.log}) ---\n{log_tail}\n--- events ---\n{events}\n"
            f"--- status (without judge) ---\n{status}\n--- status.judge ---\n{judge}\n"
            f"--- seen: weights {self.seen.weights}, failedChecks {sorted(self.seen.failed_checks)}, "
            f"verdicts {self.seen.verdicts}\n--- traffic per weight ({self.driver.traffic.name}) ---\n"
            f"{self.driver.summary()}\n"
        )

    def wait(self, probe: Callable[[], Any], what: str, timeout: float) -> Any:
        """Sample the release until `probe()` is truthy; fail with the diagnostics on timeout."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.driver.check()
            self.sample()
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"the operator exited with {self.proc.returncode} while waiting for {what}" + self.diagnostics()
                )
            last = probe()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}; last observed: {last!r}" + self.diagnostics()
        )

    def expect(self, condition: bool, what: str) -> None:
        """Assert with the diagnostics."""
        if not condition:
            raise AssertionError(what + self.diagnostics())

    # --- running it -----------------------------------------------------------------------------------------------

    def create(self) -> None:
        """The target Deployment and the Canary; traffic starts (all to the primary until the router exists)."""
        self.client.create(codecs.from_dict(op.deployment(self.ns, IMAGE_1)))
        self.client.create(op.canary(self.ns, provider="istio", analysis=self.spec_analysis))
        self.driver.start()

    def start_operator(self) -> None:
        self.proc = op.start(
            self.cluster,
            self.ns,
            self.log,
            "--mesh-provider=istio",
            f"--metrics-server={self.metrics_server}",
            "--drain-period=2s",
        )

    def initialize(self) -> None:
        self.wait(lambda: self.phase() == "Initialized", "phase Initialized", timeout=90)

    def new_revision(self) -> None:
        """Change the image: the release starts."""
        self.started_at = self.driver.elapsed()
        self.client.patch(
            Deployment, "web", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": IMAGE_2}]}}}}
        )

    def finish(self, timeout: float = 300) -> str:
        """Wait for Succeeded or Failed; the phase reached."""
        return str(
            self.wait(
                lambda: (p := self.phase()) in ("Succeeded", "Failed") and p, "the release to end", timeout=timeout
            )
        )

    def close(self) -> None:
        self.driver.stop()
        if self.proc is not None:
            op.stop(self.proc)


def prom_query_range(url: str, query: str, start: float, end: float, step: float) -> list[tuple[float, float]]:
    """(unix time, value) pairs of a range query (the first series; NaN values kept)."""
    resp = httpx2.get(
        f"{url}/api/v1/query_range", params={"query": query, "start": start, "end": end, "step": step}, timeout=10
    )
    resp.raise_for_status()
    result = resp.json()["data"]["result"]
    if not result:
        return []
    return [(float(t), float(v)) for t, v in result[0]["values"]]


def prom_query_at(url: str, query: str, at: float) -> float:
    """The value of an instant query at unix time `at` (NaN when empty)."""
    resp = httpx2.get(f"{url}/api/v1/query", params={"query": query, "time": at}, timeout=10)
    resp.raise_for_status()
    result = resp.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def flagger_success_rate(ns: str, target: str = "web", window: str = "1m") -> str:
    """Flagger's request-success-rate query for istio (its template, rendered), as the threshold rule runs it."""
    sel = f'reporter="destination",destination_workload_namespace="{ns}",destination_workload=~"{target}"'
    return (
        f'sum(rate(istio_requests_total{{{sel},response_code!~"5.*"}}[{window}])) / '
        f"sum(rate(istio_requests_total{{{sel}}}[{window}])) * 100"
    )
