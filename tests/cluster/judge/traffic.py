"""Simulated istio traffic for end-to-end judge tests: a thread that plays the mesh's proxies.

Every `step` seconds it reads the canary weight Serinus wrote on the istio VirtualService, draws that step's
requests for the canary and the primary, and adds them to the cumulative counters and histogram buckets that
Istio's proxies export (`istio_requests_total`, `istio_request_duration_milliseconds_bucket`, reporter
"destination"), on the scenario exporter a real Prometheus scrapes every second. No HTTP request is sent: only the
counts exist, which is all the judge and Flagger's queries read.

Requests per step come from the simulator's closed-loop generator, `serinus.sim.traffic.Generator` (seeded, one
1 s sub-interval per step, Istio's buckets, a lognormal latency), through `SimTraffic`: Poisson totals split by the
weight, binomial errors, multinomial latency buckets. Error rates can be changed while the driver runs
(`set_error_rates`), which is how tests stage regressions and shared incidents.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2

from serinus.sim import traffic as sim
from tests.integration.exporter import ScenarioExporter

REQUESTS = "istio_requests_total"
DURATION = "istio_request_duration_milliseconds"
OK_CODE, ERROR_CODE = "200", "503"


@dataclass(frozen=True)
class Served:
    """What one version served in one step."""

    requests: int
    errors: int
    per_bucket: dict[float, int]  # new observations per bucket bound (not cumulative), inf included
    latency_sum_ms: float


@dataclass(frozen=True)
class StepRecord:
    """One step of the driver: when (seconds since start), the weight read, and what each version served."""

    t: float
    wall: float  # unix time, for Prometheus queries
    weight: int
    canary: Served
    primary: Served


class Traffic(Protocol):
    """What the driver draws requests from."""

    name: str
    bounds: tuple[float, ...]  # bucket bounds in ms, inf last

    def step(self, t0: float, dt: float, weight: int, error_rates: dict[str, float]) -> tuple[Served, Served]:
        """(canary, primary) for [t0, t0 + dt) at canary `weight` percent."""


class SimTraffic:
    """The simulator's generator (`serinus.sim.traffic`), one sub-interval of `dt` per step. A change of error
    rates builds a new model with the same seed: the generator's random streams are keyed by (seed, sub-interval,
    version), so the requests stay the same and only the errors follow the new rates."""

    name = "serinus.sim.traffic.Generator"

    def __init__(self, rps: float, seed: int, dt: float = 1.0, median_ms: float = 40.0, sigma: float = 0.5) -> None:
        self.model = sim.TrafficModel.parse(
            {
                "rps": rps,
                "seed": seed,
                "subInterval": f"{dt:g}s",
                "noiseInterval": f"{dt:g}s",
                "primary": {"errorRate": 0.0, "latency": {"median": f"{median_ms:g}ms", "sigma": sigma}},
            }
        )
        self.generator = sim.Generator(self.model)
        self.bounds = tuple(float(b) for b in self.generator.bounds)
        self.rates: dict[str, float] = {"canary": 0.0, "primary": 0.0}

    def _model_for(self, error_rates: dict[str, float]) -> None:
        if error_rates == self.rates:
            return
        self.rates = dict(error_rates)
        latency = self.model.primary.latency
        primary = sim.VersionModel(error_rates.get("primary", 0.0), latency)
        canary = sim.VersionModel(error_rates.get("canary", 0.0), latency)
        self.model = sim.with_model(self.model, primary=primary, canary=canary)
        self.generator = sim.Generator(self.model)

    def step(self, t0: float, dt: float, weight: int, error_rates: dict[str, float]) -> tuple[Served, Served]:
        """(canary, primary) for [t0, t0 + dt) at canary `weight` percent."""
        self._model_for(error_rates)
        sub = self.generator.step(t0, min(max(weight, 0), 100) / 100)

        def served(v: int) -> Served:
            cumulative = [int(c) for c in sub.buckets[v, 0]]
            per_bucket = [b - a for a, b in zip([0, *cumulative], cumulative, strict=False)]
            return Served(
                int(sub.requests[v, 0]),
                int(sub.errors[v, 0]),
                dict(zip(self.bounds, per_bucket, strict=True)),
                float(sub.latency_sum_ms[v, 0]),
            )

        return served(sim.CANARY), served(sim.PRIMARY)


def virtual_service_weight(
    server: str, token: str, ca_file: str, ns: str, name: str = "web", canary_host: str = "web-canary"
) -> Callable[[], int | None]:
    """A reader of the canary's weight on the VirtualService `name` (None until it exists). Plain HTTP with the admin
    token: the driver's thread never shares lightkube's lazily built decoders with the test's thread."""
    http = httpx2.Client(
        base_url=server,
        headers={"Authorization": f"Bearer {token}"},
        verify=ssl.create_default_context(cafile=ca_file),
        timeout=5,
    )
    path = f"/apis/networking.istio.io/v1beta1/namespaces/{ns}/virtualservices/{name}"

    def read() -> int | None:
        resp = http.get(path)
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        http_routes = resp.json()["spec"].get("http") or []
        if not http_routes:
            return None
        weighted = http_routes[-1]  # the weighted route (session-affinity rules come first)
        for dest in weighted.get("route") or []:
            if dest["destination"]["host"] == canary_host:
                return int(dest.get("weight", 0))
        return 0

    return read


@dataclass
class TrafficDriver:
    """A daemon thread feeding `exporter` with the traffic of `target` and `target-primary` in `ns`."""

    exporter: ScenarioExporter
    ns: str
    weight: Callable[[], int | None]
    traffic: Traffic
    target: str = "web"
    step: float = 1.0
    history: list[StepRecord] = field(default_factory=list)
    failure: BaseException | None = None
    _rates: dict[str, float] = field(default_factory=lambda: {"canary": 0.0, "primary": 0.0})
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last_weight: int = 0
    _start: float = 0.0

    def labels(self, version: str) -> dict[str, str]:
        """The destination labels of one version's series ("canary" or "primary")."""
        workload = self.target if version == "canary" else f"{self.target}-primary"
        return {"reporter": "destination", "destination_workload_namespace": self.ns, "destination_workload": workload}

    def set_error_rates(self, *, canary: float | None = None, primary: float | None = None) -> None:
        """Change the error rate of one or both versions from the next step on."""
        with self._lock:
            if canary is not None:
                self._rates["canary"] = canary
            if primary is not None:
                self._rates["primary"] = primary

    def elapsed(self) -> float:
        """Seconds since the driver started."""
        return time.monotonic() - self._start

    def current_weight(self) -> int:
        """The last canary weight the driver read."""
        return self._last_weight

    def start(self) -> TrafficDriver:
        """Create every series at 0 (so `increase()` counts the first requests), then run."""
        zero_buckets = dict.fromkeys(self.traffic.bounds, 0)
        for version in ("canary", "primary"):
            for code in (OK_CODE, ERROR_CODE):
                self.exporter.add(REQUESTS, {**self.labels(version), "response_code": code}, 0)
            self.exporter.add_observations(f"{DURATION}", self.labels(version), zero_buckets)
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{self.ns}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop generating (the counters keep their values)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def check(self) -> None:
        """Raise what the thread died of, if it did."""
        if self.failure is not None:
            raise AssertionError(f"the traffic driver failed: {self.failure!r}") from self.failure

    def _read_weight(self) -> int:
        try:
            found = self.weight()
        except (httpx2.HTTPError, KeyError, ValueError):
            return self._last_weight  # a blip reading the cluster: the mesh keeps routing as before
        self._last_weight = 0 if found is None else found
        return self._last_weight

    def _run(self) -> None:
        try:
            tick = 0
            while not self._stop.is_set():
                tick += 1
                weight = self._read_weight()
                with self._lock:
                    rates = dict(self._rates)
                canary, primary = self.traffic.step((tick - 1) * self.step, self.step, weight, rates)
                for version, served in (("canary", canary), ("primary", primary)):
                    labels = self.labels(version)
                    self.exporter.add(REQUESTS, {**labels, "response_code": OK_CODE}, served.requests - served.errors)
                    self.exporter.add(REQUESTS, {**labels, "response_code": ERROR_CODE}, served.errors)
                    self.exporter.add_observations(DURATION, labels, served.per_bucket, served.latency_sum_ms)
                self.history.append(StepRecord(self.elapsed(), time.time(), weight, canary, primary))
                self._stop.wait(max(0.0, self._start + tick * self.step - time.monotonic()))
        except BaseException as err:  # reported to the test through check()
            self.failure = err

    def canary_span(self) -> tuple[float, float] | None:
        """Unix times of the first and last step that sent the canary traffic (None if none did)."""
        walls = [rec.wall for rec in self.history if rec.weight > 0]
        return (walls[0], walls[-1]) if walls else None

    def weight_changes(self) -> list[tuple[float, int, int]]:
        """(unix time, old, new) of every weight change the driver saw: the analysis steps that moved traffic."""
        out: list[tuple[float, int, int]] = []
        for before, after in zip(self.history, self.history[1:], strict=False):
            if after.weight != before.weight:
                out.append((after.wall, before.weight, after.weight))
        return out

    def summary(self) -> dict[str, Any]:
        """Totals per weight: what each version served while the VirtualService held that weight."""
        out: dict[int, dict[str, int]] = {}
        for rec in self.history:
            row = out.setdefault(
                rec.weight, {"seconds": 0, "canary": 0, "canary_errors": 0, "primary": 0, "primary_errors": 0}
            )
            row["seconds"] += 1
            row["canary"] += rec.canary.requests
            row["canary_errors"] += rec.canary.errors
            row["primary"] += rec.primary.requests
            row["primary_errors"] += rec.primary.errors
        return {f"weight {w}": row for w, row in sorted(out.items())}
